// The LLM stub speaks the OpenAI protocol the service's provider client expects: a streamed
// answer in pieces with usage and `[DONE]`, deterministic embeddings, and as a process of its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents } from '../src/events.ts';
import { startLlmStub, startLlmStubProcess, stubEmbedding, type LlmStub } from '../src/llm-stub.ts';

let stub: LlmStub;
beforeAll(async () => {
  stub = await startLlmStub();
});
afterAll(() => stub?.close());

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('the LLM stub', () => {
  it('streams the echo of the last user message word by word, then usage and [DONE]', async () => {
    const messages = [{ role: 'user', content: 'two words' }];
    const res = await post(stub.url, '/chat/completions', {
      model: 'm',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = await readEvents(res);
    expect(events.at(-1)?.data).toBe('[DONE]');
    const pieces = events.slice(0, -1).flatMap((e) => e.data.choices.map((c: any) => c.delta.content ?? ''));
    expect(pieces.join('')).toBe('Echo: two words');
    expect(events.at(-2)?.data.usage).toMatchObject({ completion_tokens: 3 });
    expect(stub.requests.at(-1)?.body.messages).toEqual(messages);
  });

  it('answers embeddings deterministically, in the dimensions asked for', async () => {
    const res = await post(stub.url, '/embeddings', { model: 'e', input: ['a b', 'a b'], dimensions: 8 });
    const body = (await res.json()) as { data: { embedding: number[] }[] };
    expect(body.data.map((d) => d.embedding)).toEqual([
      stubEmbedding('a b', 8, 'e'),
      stubEmbedding('a b', 8, 'e'),
    ]);
    expect(Math.hypot(...body.data[0]!.embedding)).toBeCloseTo(1);
  });

  it('runs as a process of its own', async () => {
    const child = await startLlmStubProcess();
    try {
      expect((await fetch(new URL('/health', child.url))).status).toBe(200);
    } finally {
      await child.stop();
    }
    expect(child.child.exitCode ?? child.child.signalCode).not.toBeNull();
  });
});
