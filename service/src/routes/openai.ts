// OpenAI-compatible endpoints: POST /v1/chat/completions (stateless; same auth, limits and
// usage accounting as the chat endpoints) and GET /v1/models. Errors carry OpenAI's `type`
// and `param` beside `code` and `message`.
import { randomUUID } from 'node:crypto';
import type { ErrorCode } from '@chatbot/api-types/errors';
import type { TokenUsage } from '@chatbot/api-types/sessions';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ChatMessage } from '../chat/llm.ts';
import type { MessageSource } from '../db/schema.ts';
import { tenantGone, type AppError } from '../errors.ts';
import { chatCaller } from '../lib/access.ts';
import { modelsOf, resolveSettings } from '../lib/settings.ts';
import { clientGone, openEventStream } from '../lib/sse.ts';
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
    if (tenant === undefined) throw tenantGone();
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
    const body = request.body;
    const asked =
      body.max_completion_tokens != null
        ? { value: body.max_completion_tokens, param: 'max_completion_tokens' }
        : body.max_tokens != null
          ? { value: body.max_tokens, param: 'max_tokens' }
          : undefined;
    const input = {
      log: request.log,
      caller: chatCaller(request.principal),
      model: body.model,
      maxTokens: asked,
      messages: body.messages.map((m): ChatMessage => ({
        role: m.role === 'developer' ? 'system' : m.role === 'tool' ? 'user' : m.role,
        content: textOf(m.content),
      })),
      sampling: {
        ...(body.temperature == null ? {} : { temperature: body.temperature }),
        ...(body.top_p == null ? {} : { topP: body.top_p }),
        ...(body.stop == null ? {} : { stop: body.stop }),
      },
    };
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);

    if (body.stream !== true) {
      // A client that leaves (nginx's read timeout closes the connection) aborts the call.
      const turn = await services.turns.statelessTurn({ ...input, signal: clientGone(reply) });
      reply.headers(turn.rateLimitHeaders);
      return {
        id,
        object: 'chat.completion',
        created,
        model: turn.result.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: turn.result.content },
            finish_reason: turn.result.finishReason ?? 'stop',
            logprobs: null,
          },
        ],
        usage: usageOf(turn.usage),
        ...(turn.sources === undefined ? {} : { sources: turn.sources }),
      };
    }

    // Chunks in OpenAI's format; the stream starts with the first piece the provider sends,
    // so a failure before it is a plain HTTP error.
    const events = openEventStream(reply, { format: 'data', openStreams: services.metrics.openStreams });
    // The turn's knowledge-base sources ride on the first chunk.
    let sources: MessageSource[] | undefined;
    const chunk = (model: string, delta: Record<string, unknown>, finishReason: string | null) => {
      const first = !events.started && sources !== undefined ? { sources } : {};
      events.send({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
        ...first,
      });
    };
    try {
      const turn = await services.turns.streamStatelessTurn({
        ...input,
        signal: events.signal,
        onAdmitted: (admitted) => {
          reply.headers(admitted.rateLimitHeaders);
          sources = admitted.sources;
        },
        onPiece: (piece, model) => {
          if (!events.started) chunk(model, { role: 'assistant', content: '' }, null);
          if (piece !== '') chunk(model, { content: piece }, null);
        },
      });
      if (turn.failure !== undefined) {
        if (!events.started) throw turn.failure;
        events.send({ error: openAiError(turn.failure) });
        return reply;
      }
      chunk(turn.result.model, {}, turn.result.finishReason ?? 'stop');
      if (body.stream_options?.include_usage === true) {
        events.send({
          id,
          object: 'chat.completion.chunk',
          created,
          model: turn.result.model,
          choices: [],
          usage: usageOf(turn.usage),
        });
      }
      return reply;
    } finally {
      events.end();
    }
  });
};

/** OpenAI's usage shape. */
function usageOf(usage: TokenUsage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

export default openAiRoutes;
