// The model client (chat/llm.ts) against the LLM stub.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLlm } from '../src/chat/llm.ts';
import { AppError } from '../src/errors.ts';
import { startLlmStub, type LlmStub } from '@chatbot/test-kit/llm-stub';

let stub: LlmStub;
let llm: ReturnType<typeof createLlm>;

beforeAll(async () => {
  stub = await startLlmStub();
  llm = createLlm({ baseUrl: stub.url, timeoutMs: 5000 });
});
afterAll(async () => {
  await llm?.close();
  await stub?.close();
});

const request = (signal?: AbortSignal) => ({
  apiKey: 'sk-test',
  models: ['m/a', 'm/b'],
  messages: [{ role: 'user' as const, content: 'hello' }],
  maxTokens: 16,
  ...(signal === undefined ? {} : { signal }),
});

describe('stream', () => {
  it('notices a signal aborted before the call starts, and calls no model', async () => {
    const before = stub.requests.length;
    const pieces: string[] = [];
    const failure = await llm
      .stream(request(AbortSignal.abort(new Error('client disconnected'))), (piece) => pieces.push(piece))
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ code: 'upstream_error', message: 'the client went away', partial: '' });
    expect(pieces).toEqual([]);
    expect(stub.requests.length).toBe(before);
  });

  it('streams a reply when the signal is not aborted', async () => {
    const pieces: string[] = [];
    const result = await llm.stream(request(new AbortController().signal), (piece) => pieces.push(piece));
    expect(result.content).toBe('Echo: hello');
    expect(pieces.join('')).toBe('Echo: hello');
  });
});
