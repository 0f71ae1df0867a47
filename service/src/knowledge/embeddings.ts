// Embeddings through the OpenAI-compatible `/embeddings` of the provider (OPENROUTER_BASE_URL)
// with the tenant's key, in batches, over the model calls' clients (chat/llm.ts: one per key,
// keep-alive connections, LLM_TIMEOUT_MS). The SDK retries a 429, a 5xx or a dropped
// connection with exponential backoff (0.5 s doubling to 8 s), honouring
// `Retry-After`/`retry-after-ms`; what still fails is an EmbeddingError whose message says why
// without the provider's text (which can quote the key).
import OpenAI from 'openai';
import type { Llm } from '../chat/llm.ts';

export class EmbeddingError extends Error {
  /** The provider's HTTP status, when it answered. */
  readonly status: number | undefined;
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'EmbeddingError';
    this.status = options.status;
  }
}

export interface EmbedRequest {
  apiKey: string;
  model: string;
  /** Asked of the provider (`dimensions`); undefined or null: the model's own. */
  dimensions?: number | null | undefined;
  inputs: string[];
  signal?: AbortSignal | undefined;
  /** Overrides the embedder's retries (a chat turn's query waits less than ingestion). */
  maxRetries?: number;
}

export interface EmbedderOptions {
  /** The provider's client for a key. */
  llm: Pick<Llm, 'clientFor'>;
  /** Retries of one request (429, 5xx, connection errors). */
  maxRetries: number;
  /** Inputs per request. */
  batchSize: number;
}

function describe(error: unknown): EmbeddingError {
  if (error instanceof EmbeddingError) return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new EmbeddingError('the embedding provider did not answer in time', { cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new EmbeddingError('the embedding provider could not be reached', { cause: error });
  }
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    const what = error.status === 429 ? ' (rate limited)' : '';
    const code =
      typeof error.code === 'string' && /^[a-z0-9_.-]{1,60}$/i.test(error.code) ? `: ${error.code}` : '';
    return new EmbeddingError(`the embedding provider answered ${error.status}${what}${code}`, {
      status: error.status,
      cause: error,
    });
  }
  return new EmbeddingError('the embedding request failed', { cause: error });
}

export function createEmbedder(options: EmbedderOptions) {
  /** One request: the vectors of `inputs`, in their order. */
  async function embedBatch(request: EmbedRequest): Promise<number[][]> {
    let response: OpenAI.CreateEmbeddingResponse;
    try {
      response = await options.llm.clientFor(request.apiKey).embeddings.create(
        {
          model: request.model,
          input: request.inputs,
          encoding_format: 'float',
          ...(request.dimensions == null ? {} : { dimensions: request.dimensions }),
        },
        {
          ...(request.signal === undefined ? {} : { signal: request.signal }),
          maxRetries: request.maxRetries ?? options.maxRetries,
        },
      );
    } catch (error) {
      throw describe(error);
    }
    const vectors: number[][] = new Array(request.inputs.length);
    for (const item of response.data ?? []) {
      if (Number.isInteger(item.index) && item.index >= 0 && item.index < vectors.length) {
        vectors[item.index] = item.embedding;
      }
    }
    const length = vectors[0]?.length ?? 0;
    for (let i = 0; i < vectors.length; i++) {
      const v = vectors[i];
      if (!Array.isArray(v) || v.length === 0 || v.length !== length || !v.every(Number.isFinite)) {
        throw new EmbeddingError('the embedding provider returned malformed vectors');
      }
    }
    return vectors;
  }

  /**
   * Every input's vector, `batchSize` inputs per request; `onBatch` gets each batch's vectors
   * in order (with the index of its first input). The next batch's request is sent while
   * `onBatch` handles the current one (ingestion inserts it), so a document takes about the
   * longer of the two instead of their sum; at most two requests per call are in flight. When
   * a request or `onBatch` fails, the request running ahead is cancelled.
   */
  async function embed(
    request: EmbedRequest,
    onBatch?: (vectors: number[][], offset: number) => Promise<void>,
  ): Promise<void> {
    const { batchSize } = options;
    const count = request.inputs.length;
    if (count === 0) return;
    const ahead = new AbortController();
    const signal =
      request.signal === undefined ? ahead.signal : AbortSignal.any([request.signal, ahead.signal]);
    const send = (offset: number) => {
      const vectors = embedBatch({
        ...request,
        signal,
        inputs: request.inputs.slice(offset, offset + batchSize),
      });
      // Awaited in turn, or cancelled after an earlier failure (its rejection is expected then).
      vectors.catch(() => {});
      return vectors;
    };
    let next = send(0);
    try {
      for (let offset = 0; offset < count; offset += batchSize) {
        const vectors = await next;
        if (offset + batchSize < count) next = send(offset + batchSize);
        await onBatch?.(vectors, offset);
      }
    } finally {
      ahead.abort();
    }
  }

  return { embed, embedBatch, batchSize: options.batchSize };
}

export type Embedder = ReturnType<typeof createEmbedder>;
