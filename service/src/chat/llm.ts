// Model calls through the `openai` SDK pointed at OPENROUTER_BASE_URL (any OpenAI-compatible
// endpoint). The SDK retries 429/5xx/connection errors with backoff before any output; the
// fallback models are asked in turn when a model fails.
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { AppError } from '../errors.ts';

export type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

export interface CompletionResult {
  content: string;
  model: string;
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
  maxRetries?: number;
}

const MAX_CLIENTS = 256;

export function createLlm(options: LlmOptions) {
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
        maxRetries: options.maxRetries ?? 2,
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

  return { complete, clientFor };
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

/** API.md's estimate of a context's prompt tokens: characters / 4, rounded up. */
export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  let characters = 0;
  for (const m of messages) characters += m.content.length;
  return Math.ceil(characters / 4);
}
