// OpenAI-compatible endpoints: POST /v1/chat/completions (stateless; same auth, limits and
// usage accounting as the chat endpoints) and GET /v1/models. Errors carry OpenAI's `type`
// and `param` beside `code` and `message`.
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import {
  estimatePromptTokens,
  partialOf,
  providerError,
  type ChatMessage,
  type CompletionResult,
} from '../chat/llm.ts';
import { reserveTurn, settleTurn, usageOf, withPreparedTurn } from '../chat/turn.ts';
import { AppError, type ErrorCode } from '../errors.ts';
import { chatCaller } from '../lib/access.ts';
import { modelsOf, resolveSettings } from '../lib/settings.ts';
import type { ErrorPresenter } from '../plugins/errors.ts';

const OPENAI_TYPES: Record<ErrorCode, string> = {
  invalid_request: 'invalid_request_error',
  unauthorized: 'authentication_error',
  forbidden: 'permission_error',
  not_found: 'not_found_error',
  conflict: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  upstream_error: 'api_error',
  upstream_timeout: 'timeout_error',
  unavailable: 'api_error',
  not_configured: 'api_error',
  internal: 'api_error',
};

/** Validation errors name the body field at fault as OpenAI's `param`. */
function openAiError(error: AppError) {
  let param = error.param ?? null;
  const validation = (
    error.cause as { validation?: { instancePath?: string; params?: { missingProperty?: string } }[] }
  )?.validation?.[0];
  if (param === null && validation !== undefined) {
    const path = (validation.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    param = [path, validation.params?.missingProperty].filter(Boolean).join('.') || null;
  }
  return { code: error.code, message: error.message, type: OPENAI_TYPES[error.code], param };
}

export const presentOpenAiError: ErrorPresenter = (_reply, error) => ({ error: openAiError(error) });

const ContentPart = Type.Object({ type: Type.String(), text: Type.Optional(Type.String()) });
const ChatCompletionMessage = Type.Object({
  role: Type.Union([
    Type.Literal('system'),
    Type.Literal('developer'),
    Type.Literal('user'),
    Type.Literal('assistant'),
    Type.Literal('tool'),
  ]),
  content: Type.Union([Type.String({ maxLength: 200_000 }), Type.Array(ContentPart), Type.Null()]),
  name: Type.Optional(Type.String()),
});

const CompletionBody = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    messages: Type.Array(ChatCompletionMessage, { minItems: 1, maxItems: 500 }),
    stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    stream_options: Type.Optional(
      Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()]),
    ),
    max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
    top_p: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
    stop: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 4 }), Type.Null()])),
    user: Type.Optional(Type.String()),
  },
  // OpenAI's other request fields are accepted and ignored.
  { additionalProperties: true },
);

/** Text of a message: a string, or the text parts of a content array. */
function textOf(content: string | { type: string; text?: string }[] | null): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content
    .filter((part) => part.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text)
    .join('');
}

const openAiRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { services } = app;
  const config = { presentError: presentOpenAiError };

  app.get('/models', { config }, async (request) => {
    const caller = chatCaller(request.principal);
    const tenant = await services.tenants.get(caller.tenantId);
    if (tenant === undefined)
      throw new AppError('unauthorized', 'the tenant of this credential no longer exists');
    const settings = resolveSettings(tenant.settings, services.settingsDefaults);
    const created = Math.floor(tenant.createdAt.getTime() / 1000);
    return {
      object: 'list',
      data: modelsOf(settings).map((id) => ({
        id,
        object: 'model',
        created,
        owned_by: id.split('/')[0] ?? 'chatbot',
      })),
    };
  });

  app.post('/chat/completions', { config, schema: { body: CompletionBody } }, async (request, reply) => {
    const caller = chatCaller(request.principal);
    const body = request.body;
    const messages: ChatMessage[] = body.messages.map((m) => ({
      role: m.role === 'developer' ? 'system' : m.role === 'tool' ? 'user' : m.role,
      content: textOf(m.content),
    }));
    const { prepared, maxTokens, reservation } = await withPreparedTurn(
      services,
      caller,
      body.model,
      async (prepared) => {
        const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? prepared.settings.maxOutputTokens;
        const tokens = estimatePromptTokens(messages) + maxTokens;
        return { prepared, maxTokens, reservation: await reserveTurn(services, caller, prepared, tokens) };
      },
    );
    reply.headers(reservation.headers);
    const request_ = {
      apiKey: prepared.apiKey,
      models: prepared.models,
      messages,
      maxTokens,
      ...(body.temperature == null ? {} : { temperature: body.temperature }),
      ...(body.top_p == null ? {} : { topP: body.top_p }),
      ...(body.stop == null ? {} : { stop: body.stop }),
    };
    const account = async (usage: { promptTokens: number; completionTokens: number }) => {
      await Promise.all([
        settleTurn(services, request.log, caller.tenantId, reservation, usage),
        services.usage.record({ tenantId: caller.tenantId, ...usage }),
      ]);
    };
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);

    if (body.stream !== true) {
      let result: CompletionResult;
      try {
        result = await services.llm.complete(request_);
      } catch (error) {
        await account({ promptTokens: 0, completionTokens: 0 });
        throw providerError(error);
      }
      const usage = usageOf(messages, result.content, result);
      await account(usage);
      return {
        id,
        object: 'chat.completion',
        created,
        model: result.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: result.content },
            finish_reason: result.finishReason ?? 'stop',
            logprobs: null,
          },
        ],
        usage: {
          prompt_tokens: usage.promptTokens,
          completion_tokens: usage.completionTokens,
          total_tokens: usage.promptTokens + usage.completionTokens,
        },
      };
    }

    return streamCompletion(reply, {
      id,
      created,
      includeUsage: body.stream_options?.include_usage === true,
      run: (signal, onDelta) => services.llm.stream({ ...request_, signal }, onDelta),
      account: async (result, partial) => {
        const usage = usageOf(messages, result?.content ?? partial, result);
        await account(
          result === undefined && partial === '' ? { promptTokens: 0, completionTokens: 0 } : usage,
        );
        return usage;
      },
      openStreams: services.metrics.openStreams,
    });
  });
};

async function streamCompletion(
  reply: FastifyReply,
  input: {
    id: string;
    created: number;
    includeUsage: boolean;
    run: (
      signal: AbortSignal,
      onDelta: (piece: string, chunk: { model?: string }) => void,
    ) => Promise<CompletionResult>;
    account: (
      result: CompletionResult | undefined,
      partial: string,
    ) => Promise<{ promptTokens: number; completionTokens: number }>;
    openStreams: { inc(): void; dec(): void };
  },
): Promise<FastifyReply> {
  const body = new PassThrough();
  const gone = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) gone.abort(new Error('client disconnected'));
  });
  let started = false;
  const write = (payload: unknown) => body.write(`data: ${JSON.stringify(payload)}\n\n`);
  const start = () => {
    if (started) return;
    started = true;
    reply
      .code(200)
      .headers({
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      })
      .send(body);
  };
  const chunk = (model: string, delta: Record<string, unknown>, finishReason: string | null) =>
    write({
      id: input.id,
      object: 'chat.completion.chunk',
      created: input.created,
      model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    });

  input.openStreams.inc();
  let model = '';
  try {
    const result = await input.run(gone.signal, (piece, raw) => {
      if (raw.model) model = raw.model;
      if (!started) {
        start();
        chunk(model, { role: 'assistant', content: '' }, null);
      }
      if (piece !== '') chunk(model, { content: piece }, null);
    });
    start();
    chunk(result.model, {}, result.finishReason ?? 'stop');
    const usage = await input.account(result, result.content);
    if (input.includeUsage) {
      write({
        id: input.id,
        object: 'chat.completion.chunk',
        created: input.created,
        model: result.model,
        choices: [],
        usage: {
          prompt_tokens: usage.promptTokens,
          completion_tokens: usage.completionTokens,
          total_tokens: usage.promptTokens + usage.completionTokens,
        },
      });
    }
    body.end('data: [DONE]\n\n');
  } catch (error) {
    await input.account(undefined, partialOf(error)).catch(() => undefined);
    const failure = error instanceof AppError ? error : providerError(error);
    if (!started) throw failure; // nothing sent yet: a plain HTTP error
    write({ error: openAiError(failure) });
    body.end('data: [DONE]\n\n');
  } finally {
    input.openStreams.dec();
  }
  return reply;
}

export default openAiRoutes;
