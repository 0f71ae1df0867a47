// Model calls through the `openai` SDK pointed at OPENROUTER_BASE_URL (any OpenAI-compatible
// endpoint). The SDK retries 429/5xx/connection errors with backoff before any output; the
// fallback models are asked in turn when a model fails.
//
// The SDK's requests go through `createProviderFetch`: undici's request API on a keep-alive
// Agent of this module, instead of the platform's fetch, whose WHATWG machinery cost about
// twice the CPU per call (measured with bench/).
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { AppError } from '../errors.ts';

export type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

export interface CompletionResult {
  content: string;
  /** The model that answered, as the provider names it. */
  model: string;
  /** Which of the request's models answered (the first, or a fallback). */
  askedModel: string;
  usage: { promptTokens: number; completionTokens: number } | undefined;
  finishReason: string | null;
}

export interface CompletionRequest {
  apiKey: string;
  models: string[];
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  topP?: number;
  stop?: string | string[];
  signal?: AbortSignal;
}

export interface LlmOptions {
  baseUrl: string;
  timeoutMs: number;
}

const MAX_CLIENTS = 256;

/**
 * A `fetch` for the SDK over undici's request API. An event stream stays a stream; any
 * other body is read whole before the Response is made (cheaper than a web stream). What
 * it does not handle (a body that is not a string, a Request object) goes to the
 * platform's fetch.
 */
export function createProviderFetch(dispatcher: Dispatcher): typeof fetch {
  return async function providerFetch(input, init = {}) {
    const body = init.body;
    if (
      (typeof input !== 'string' && !(input instanceof URL)) ||
      (body != null && typeof body !== 'string')
    ) {
      return fetch(input, init);
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const response = await request(input, {
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      body: body ?? null,
      signal: init.signal ?? undefined,
      dispatcher,
    });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
      else if (value !== undefined) responseHeaders.set(name, value);
    }
    const status = response.statusCode;
    if (status === 204 || status === 304 || init.method === 'HEAD') {
      response.body.resume();
      return new Response(null, { status, headers: responseHeaders });
    }
    const streamed = (responseHeaders.get('content-type') ?? '').includes('text/event-stream');
    // undici's Response takes an async iterable of chunks (the Node stream) as its body.
    const content = streamed ? (response.body as unknown as ReadableStream) : await response.body.text();
    return new Response(content, { status, headers: responseHeaders });
  };
}

export function createLlm(options: LlmOptions) {
  // Keep-alive connections to the provider, as many as the calls in flight; the SDK's
  // timeout (LLM_TIMEOUT_MS) and the stream's idle timer bound a call, undici's only
  // a little later. A compressed answer is inflated.
  const agent = new Agent({
    keepAliveTimeout: 10_000,
    headersTimeout: options.timeoutMs + 5_000,
    bodyTimeout: options.timeoutMs + 5_000,
  }).compose(interceptors.decompress());
  const providerFetch = createProviderFetch(agent);
  // One SDK client per API key (the platform key, or a tenant's own), reused across calls.
  const clients = new Map<string, OpenAI>();

  function clientFor(apiKey: string): OpenAI {
    let client = clients.get(apiKey);
    if (client === undefined) {
      if (clients.size >= MAX_CLIENTS) clients.delete(clients.keys().next().value!);
      client = new OpenAI({
        apiKey,
        baseURL: options.baseUrl,
        timeout: options.timeoutMs,
        maxRetries: 2,
        fetch: providerFetch,
      });
      clients.set(apiKey, client);
    }
    return client;
  }

  async function complete(request: CompletionRequest): Promise<CompletionResult> {
    const client = clientFor(request.apiKey);
    let lastError: unknown;
    for (const model of request.models) {
      try {
        const response = await client.chat.completions.create(
          {
            model,
            messages: request.messages as ChatCompletionMessageParam[],
            max_tokens: request.maxTokens,
            ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
            ...(request.topP === undefined ? {} : { top_p: request.topP }),
            ...(request.stop === undefined ? {} : { stop: request.stop }),
          },
          request.signal === undefined ? {} : { signal: request.signal },
        );
        const choice = response.choices[0];
        return {
          content: choice?.message?.content ?? '',
          model: response.model || model,
          askedModel: model,
          usage:
            response.usage === undefined || response.usage === null
              ? undefined
              : {
                  promptTokens: response.usage.prompt_tokens,
                  completionTokens: response.usage.completion_tokens,
                },
          finishReason: choice?.finish_reason ?? null,
        };
      } catch (error) {
        if (error instanceof OpenAI.APIUserAbortError) throw error;
        lastError = error;
      }
    }
    throw providerError(lastError);
  }

  /**
   * Streams a completion, calling `onDelta` with each piece as it arrives. Fallback models
   * are asked only while nothing has been received; LLM_TIMEOUT_MS bounds the wait for the
   * first byte and between pieces. On failure the error carries what arrived (`partial`).
   */
  async function stream(
    request: CompletionRequest,
    onDelta: (piece: string, chunk: ChatCompletionChunk) => void,
  ): Promise<CompletionResult> {
    const client = clientFor(request.apiKey);
    let content = '';
    let received = false;
    let lastError: unknown;
    let timedOut = false;
    // Read afresh each time: the client may leave at any moment.
    const clientLeft = () => request.signal?.aborted === true;
    for (const model of request.models) {
      // A signal that aborted before this attempt fires no abort event: look first.
      if (clientLeft()) break;
      // One controller per attempt: the caller's signal, or LLM_TIMEOUT_MS without a byte.
      const attempt = new AbortController();
      const onOuterAbort = () => attempt.abort(request.signal?.reason);
      request.signal?.addEventListener('abort', onOuterAbort, { once: true });
      let timer: NodeJS.Timeout | undefined;
      timedOut = false;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = true;
          attempt.abort(new Error('idle timeout'));
        }, options.timeoutMs);
      };
      try {
        // Until the response starts, the SDK's own per-attempt timeout (LLM_TIMEOUT_MS) and
        // retries apply; from then on, LLM_TIMEOUT_MS between pieces.
        const chunks = await client.chat.completions.create(
          {
            model,
            messages: request.messages as ChatCompletionMessageParam[],
            max_tokens: request.maxTokens,
            stream: true,
            stream_options: { include_usage: true },
            ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
            ...(request.topP === undefined ? {} : { top_p: request.topP }),
            ...(request.stop === undefined ? {} : { stop: request.stop }),
          },
          { signal: attempt.signal },
        );
        arm();
        let usage: CompletionResult['usage'];
        let finishReason: string | null = null;
        let servedModel = model;
        for await (const chunk of chunks) {
          arm();
          received = true;
          if (chunk.model) servedModel = chunk.model;
          if (chunk.usage) {
            usage = {
              promptTokens: chunk.usage.prompt_tokens,
              completionTokens: chunk.usage.completion_tokens,
            };
          }
          const choice = chunk.choices[0];
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          const piece = choice?.delta?.content ?? '';
          content += piece;
          onDelta(piece, chunk);
        }
        // The SDK ends the iteration quietly when its signal aborts: an abort is not an answer.
        if (attempt.signal.aborted) throw attempt.signal.reason ?? new Error('aborted');
        return { content, model: servedModel, askedModel: model, usage, finishReason };
      } catch (error) {
        lastError = error;
        // Once output arrived, or the client left, no other model is asked.
        if (received || clientLeft()) break;
      } finally {
        clearTimeout(timer);
        request.signal?.removeEventListener('abort', onOuterAbort);
      }
    }
    const failure = clientLeft()
      ? new AppError('upstream_error', 'the client went away', { cause: lastError })
      : timedOut
        ? new AppError('upstream_timeout', 'the model provider did not answer in time', {
            cause: lastError,
          })
        : providerError(lastError);
    throw Object.assign(failure, { partial: content });
  }

  async function close(): Promise<void> {
    await agent.close();
  }

  return { complete, stream, clientFor, close };
}

export type Llm = ReturnType<typeof createLlm>;

/** Maps an SDK failure to upstream_timeout (504) or upstream_error (502), without the provider's text. */
export function providerError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new AppError('upstream_timeout', 'the model provider did not answer in time', { cause: error });
  }
  const status =
    error instanceof OpenAI.APIError && error.status !== undefined ? ` (status ${error.status})` : '';
  return new AppError('upstream_error', `the model provider failed${status}`, { cause: error });
}

/** What arrived of a stream before it failed. */
export function partialOf(error: unknown): string {
  const partial = (error as { partial?: unknown } | null)?.partial;
  return typeof partial === 'string' ? partial : '';
}

/** API.md's estimate of a context's prompt tokens: characters / 4, rounded up. */
export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  let characters = 0;
  for (const m of messages) characters += m.content.length;
  return Math.ceil(characters / 4);
}
