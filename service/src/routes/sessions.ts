// Sessions and their messages. A user sees only their own sessions; a tenant admin may read
// and delete any session of the tenant; only the owner sends messages.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { runTurn } from '../chat/turn.ts';
import { forbidden, notFound } from '../errors.ts';
import { chatCaller } from '../lib/access.ts';
import { decodeCursor, ListQuery, page, parseLimit } from '../lib/pagination.ts';
import { presentMessage, presentSession } from '../lib/present.ts';
import { errorResponses, IdParams, page as pageOf } from '../schemas/common.ts';
import { CreateSessionBody, Message, SendMessageBody, Session, Turn } from '../schemas/sessions.ts';

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
      const after = decodeCursor(request.query.cursor, ['string', 'string'] as const);
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
      const after = decodeCursor(request.query.cursor, ['number'] as const);
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
    { schema: { params: IdParams, body: SendMessageBody, response: { 201: Turn, ...errorResponses } } },
    async (request, reply) => {
      const caller = chatCaller(request.principal);
      const { content, model } = request.body;
      const { message, reply: assistant } = await runTurn(services, request.log, caller, {
        sessionId: request.params.id,
        content,
        ...(model === undefined ? {} : { model }),
      });
      return reply.code(201).send({ message: presentMessage(message), reply: presentMessage(assistant) });
    },
  );
};

export default sessionRoutes;
