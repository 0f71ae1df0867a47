// Sessions and their messages. A user sees only their own sessions; a tenant admin may read
// and delete any session of the tenant; only the owner sends messages.
import { page as pageOf } from '@chatbot/api-types/common';
import { CreateSessionBody, Message, SendMessageBody, Session, Turn } from '@chatbot/api-types/sessions';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requestHash } from '../chat/idempotency.ts';
import type { AppError } from '../errors.ts';
import { clientGone, openEventStream } from '../lib/sse.ts';
import { forbidden, notFound } from '../errors.ts';
import { chatCaller } from '../lib/access.ts';
import { decodeCursor, ListQuery, page, parseLimit } from '../lib/pagination.ts';
import { presentMessage, presentSession } from '../lib/present.ts';
import { errorResponses, IdParams } from '../schemas/common.ts';

/** A streamed turn that failed after its stream began (the client got `event: error`). */
class StreamFailed extends Error {
  readonly failure: AppError;
  constructor(failure: AppError) {
    super(failure.message);
    this.failure = failure;
  }
}

const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { services } = app;
  const { sessions } = services;

  /** The session if the caller may read it: its owner or a tenant admin; else 404. */
  async function readableSession(caller: ReturnType<typeof chatCaller>, id: string) {
    const session = await sessions.get({ tenantId: caller.tenantId, id });
    if (session === undefined || (session.userId !== caller.userId && caller.role !== 'tenant_admin')) {
      throw notFound('session');
    }
    return session;
  }

  app.post(
    '/sessions',
    { schema: { body: CreateSessionBody, response: { 201: Session, ...errorResponses } } },
    async (request, reply) => {
      const caller = chatCaller(request.principal);
      const row = await sessions.create({
        tenantId: caller.tenantId,
        userId: caller.userId,
        title: request.body.title ?? null,
      });
      return reply.code(201).send(presentSession(row));
    },
  );

  app.get(
    '/sessions',
    {
      schema: {
        querystring: Type.Object(
          { ...ListQuery, all: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(Session), ...errorResponses },
      },
    },
    async (request) => {
      const caller = chatCaller(request.principal);
      const all = request.query.all === 'true';
      if (all && caller.role !== 'tenant_admin')
        throw forbidden('only a tenant admin may list every session');
      const limit = parseLimit(request.query.limit);
      const after = decodeCursor(request.query.cursor, ['timestamp', 'uuid'] as const);
      const rows = await sessions.list({
        tenantId: caller.tenantId,
        userId: all ? undefined : caller.userId,
        limit,
        ...(after ? { after } : {}),
      });
      return page(rows, limit, presentSession, (row) => [row.updatedAt.toISOString(), row.id]);
    },
  );

  app.get(
    '/sessions/:id',
    { schema: { params: IdParams, response: { 200: Session, ...errorResponses } } },
    async (request) =>
      presentSession(await readableSession(chatCaller(request.principal), request.params.id)),
  );

  app.delete(
    '/sessions/:id',
    { schema: { params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      const caller = chatCaller(request.principal);
      await readableSession(caller, request.params.id);
      await sessions.remove({ tenantId: caller.tenantId, id: request.params.id });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/sessions/:id/messages',
    {
      schema: {
        params: IdParams,
        querystring: Type.Object(ListQuery, { additionalProperties: false }),
        response: { 200: pageOf(Message), ...errorResponses },
      },
    },
    async (request) => {
      const caller = chatCaller(request.principal);
      await readableSession(caller, request.params.id);
      const limit = parseLimit(request.query.limit);
      const after = decodeCursor(request.query.cursor, ['integer'] as const);
      const rows = await sessions.listMessages({
        tenantId: caller.tenantId,
        sessionId: request.params.id,
        limit,
        ...(after ? { afterSeq: after[0] } : {}),
      });
      return page(rows, limit, presentMessage, (row) => [row.seq]);
    },
  );

  app.post(
    '/sessions/:id/messages',
    {
      schema: {
        params: IdParams,
        body: SendMessageBody,
        headers: Type.Object({
          'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        }),
        response: { 201: Turn, ...errorResponses },
      },
    },
    async (request, reply) => {
      const caller = chatCaller(request.principal);
      const sessionId = request.params.id;
      const { content, model } = request.body;
      const stream = request.body.stream ?? (request.headers.accept ?? '').includes('text/event-stream');
      const key = request.headers['idempotency-key'];
      const scope = key === undefined ? undefined : { tenantId: caller.tenantId, userId: caller.userId, key };
      const hash =
        scope === undefined ? '' : requestHash({ sessionId, content, model: model ?? null, stream });
      const waitMs = services.config.llmTimeoutMs * 3 + 30_000;

      if (!stream) {
        // A client that leaves (nginx's read timeout closes the connection) aborts the turn.
        const gone = clientGone(reply);
        const work = async () => {
          const turn = await services.turns.sessionTurn({
            log: request.log,
            caller,
            sessionId,
            content,
            model,
            signal: gone,
          });
          reply.headers(turn.rateLimitHeaders);
          return { message: presentMessage(turn.message), reply: presentMessage(turn.reply) };
        };
        if (scope === undefined) return reply.code(201).send(await work());
        const outcome = await services.idempotency.run(scope, hash, work, {
          waitMs,
          signal: gone,
        });
        return reply.code(201).send(outcome.result);
      }

      // Streaming: refusals (validation, auth, limits, a missing session) come before the
      // stream, which starts with the stored user message.
      const events = openEventStream(reply, { openStreams: services.metrics.openStreams });
      const streamTurn = async (): Promise<Turn> => {
        try {
          const turn = await services.turns.streamSessionTurn({
            log: request.log,
            caller,
            sessionId,
            content,
            model,
            signal: events.signal,
            onAdmitted: ({ message, rateLimitHeaders, sources }) => {
              reply.headers(rateLimitHeaders);
              events.send('message', presentMessage(message));
              if (sources !== undefined) events.send('sources', { sources });
            },
            onDelta: (piece) => events.send('delta', { content: piece }),
          });
          if (turn.failure !== undefined) {
            events.send('error', { code: turn.failure.code, message: turn.failure.message });
            throw new StreamFailed(turn.failure);
          }
          const view = { message: presentMessage(turn.message), reply: presentMessage(turn.reply) };
          events.send('done', view.reply);
          return view;
        } finally {
          events.end();
        }
      };

      try {
        if (scope === undefined) {
          await streamTurn();
          return reply;
        }
        const outcome = await services.idempotency.run(scope, hash, streamTurn, {
          waitMs,
          signal: events.signal,
        });
        if (outcome.replayed) {
          events.send('message', outcome.result.message);
          if (outcome.result.reply.sources !== undefined)
            events.send('sources', { sources: outcome.result.reply.sources });
          if (outcome.result.reply.content !== '')
            events.send('delta', { content: outcome.result.reply.content });
          events.send('done', outcome.result.reply);
          events.end();
        }
        return reply;
      } catch (error) {
        // The stream already told the client; the failed reply is stored.
        if (error instanceof StreamFailed) return reply;
        throw error;
      }
    },
  );
};

export default sessionRoutes;
