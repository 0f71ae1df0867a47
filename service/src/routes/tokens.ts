// POST /v1/tokens: a tenant admin issues a JWT for one of the tenant's end users.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, forbidden, notFound } from '../errors.ts';
import { adminTenant } from '../lib/access.ts';
import { errorResponses, Timestamp, Uuid } from '../schemas/common.ts';

const TokenBody = Type.Object(
  {
    sub: Type.String({ minLength: 1, maxLength: 200 }),
    role: Type.Optional(
      Type.Union([Type.Literal('user'), Type.Literal('tenant_admin'), Type.Literal('platform_admin')]),
    ),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
    /** Platform admins name the tenant; tenant admins may only name their own. */
    tenantId: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);

const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { signToken, tenants } = app.services;

  app.post(
    '/tokens',
    {
      schema: {
        body: TokenBody,
        response: { 201: Type.Object({ token: Type.String(), expiresAt: Timestamp }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const tenantId = adminTenant(request.principal, request.body.tenantId);
      const { sub, role = 'user', ttlSeconds = 3600 } = request.body;
      if (role === 'platform_admin') throw forbidden('tokens can be issued for user or tenant_admin only');
      if (signToken === undefined) {
        throw new AppError('not_configured', 'JWT_PRIVATE_KEY is not configured: tokens cannot be issued');
      }
      if ((await tenants.get(tenantId)) === undefined) throw notFound('tenant');
      const { token, expiresAt } = await signToken({ sub, role, tenantId }, ttlSeconds);
      return reply.code(201).send({ token, expiresAt: expiresAt.toISOString() });
    },
  );
};

export default tokenRoutes;
