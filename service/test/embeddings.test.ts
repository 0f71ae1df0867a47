// The embedder (knowledge/embeddings.ts) against the LLM stub's /v1/embeddings: batches in
// order, the next batch's request running while the current one is handled, and failures on
// either side ending the call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLlm } from '../src/chat/llm.ts';
import { createEmbedder, EmbeddingError } from '../src/knowledge/embeddings.ts';
import { startLlmStub, type LlmStub } from '@chatbot/test-kit/llm-stub';
import { waitFor } from '@chatbot/test-kit/docker';

let stub: LlmStub;
let llm: ReturnType<typeof createLlm>;
let embedder: ReturnType<typeof createEmbedder>;

beforeAll(async () => {
  stub = await startLlmStub();
  llm = createLlm({ baseUrl: stub.url, timeoutMs: 10_000 });
  embedder = createEmbedder({ llm, maxRetries: 0, batchSize: 2 });
});
afterAll(async () => {
  await llm?.close();
  await stub?.close();
});

/** Fails (after 10 s) unless the stub has seen `n` embedding requests. */
const untilRequests = (n: number) =>
  waitFor(`${n} embedding requests at the stub`, async () => stub.embeddingRequests.length >= n, 10_000);

const inputs = ['alpha one', 'beta two', 'gamma three', 'delta four', 'epsilon five'];
const request = { apiKey: 'sk-embed', model: 'stub/embed', inputs };

describe('embed', () => {
  it('sends the next batch while the current one is handled, and hands batches over in order', async () => {
    stub.reset();
    const seen: { offset: number; vectors: number[][]; requestsSent: number }[] = [];
    await embedder.embed(request, async (vectors, offset) => {
      // The first batch is handled only once the second one's request has reached the stub.
      if (offset === 0) await untilRequests(2);
      seen.push({ offset, vectors, requestsSent: stub.embeddingRequests.length });
    });
    expect(seen.map((s) => [s.offset, s.vectors.length])).toEqual([
      [0, 2],
      [2, 2],
      [4, 1],
    ]);
    // Never more than one request ahead: the third is sent only once the first batch is handled.
    expect(seen[0]!.requestsSent).toBe(2);
    expect(stub.embeddingRequests.map((r) => r.body.input)).toEqual([
      inputs.slice(0, 2),
      inputs.slice(2, 4),
      inputs.slice(4),
    ]);
    // Each batch's vectors are its own inputs' (the stub's embeddings are deterministic).
    const alone = await embedder.embedBatch({ ...request, inputs: inputs.slice(2, 4) });
    expect(seen[1]!.vectors).toEqual(alone);
  });

  it('stops at a failing handler without waiting for the request running ahead', async () => {
    stub.reset();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    stub.enqueueEmbeddings({ kind: 'embed' }, { kind: 'embed', hold: held });
    try {
      const offsets: number[] = [];
      const outcome = embedder.embed(request, async (_vectors, offset) => {
        offsets.push(offset);
        await untilRequests(2);
        throw new Error('the insert failed');
      });
      await expect(outcome).rejects.toThrow('the insert failed');
      expect(offsets).toEqual([0]);
      expect(stub.embeddingRequests).toHaveLength(2);
    } finally {
      release();
    }
  });

  it('fails with the reason of a request that failed ahead, after handing over the batch before it', async () => {
    stub.reset();
    stub.enqueueEmbeddings({ kind: 'embed' }, { kind: 'error', status: 400, message: 'bad input' });
    const offsets: number[] = [];
    const outcome = embedder.embed(request, async (_vectors, offset) => {
      offsets.push(offset);
    });
    await expect(outcome).rejects.toThrow(EmbeddingError);
    await expect(outcome).rejects.toThrow('the embedding provider answered 400');
    expect(offsets).toEqual([0]);
    expect(stub.embeddingRequests).toHaveLength(2);
  });

  it('cancels the request running ahead when the caller aborts', async () => {
    stub.reset();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    stub.enqueueEmbeddings({ kind: 'embed' }, { kind: 'embed', hold: held });
    const caller = new AbortController();
    try {
      const outcome = embedder.embed({ ...request, signal: caller.signal }, async () => {
        await untilRequests(2);
      });
      // The first batch is handled; the second request hangs until the caller gives up.
      await untilRequests(2);
      caller.abort();
      await expect(outcome).rejects.toThrow(EmbeddingError);
    } finally {
      release();
    }
  });
});
