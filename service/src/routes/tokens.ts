// POST /v1/tokens: a tenant admin issues a JWT for one of the tenant's end users. A token
// minted by a tenant-level credential says so (minted_by) and names the API key its authority
// comes from (api_key_id), so it dies with that key; an admin token minted by another admin
// token mints users only; nothing minted outlives the token minting it (API.md, Authentication).
import { IssuedToken, TokenBody } from '@chatbot/api-types/tokens';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError, forbidden, notFound } from '../errors.ts';
import { adminTenant } from '../lib/access.ts';
import type { TokenClaims } from '../lib/jwt.ts';
import { errorResponses } from '../schemas/common.ts';

const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { signToken, tenants } = app.services;

  app.post(
    '/tokens',
    {
      schema: {
        body: TokenBody,
        response: { 201: IssuedToken, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { principal } = request;
      const tenantId = adminTenant(principal, request.body.tenantId);
      const { sub, role = 'user', ttlSeconds = 3600 } = request.body;
      if (role === 'platform_admin') throw forbidden('tokens can be issued for user or tenant_admin only');
      const tenantLevel = principal.role !== 'platform_admin';
      if (tenantLevel && role === 'tenant_admin' && principal.mintedBy === 'tenant_admin') {
        throw forbidden('a token minted by a tenant admin may mint user tokens only');
      }
      if (signToken === undefined) {
        throw new AppError('not_configured', 'JWT_PRIVATE_KEY is not configured: tokens cannot be issued');
      }
      if ((await tenants.get(tenantId)) === undefined) throw notFound('tenant');
      const claims: TokenClaims = { sub, role, tenantId };
      if (tenantLevel) {
        claims.mintedBy = principal.via === 'api_key' ? 'api_key' : 'tenant_admin';
        if (principal.apiKeyId !== undefined) claims.apiKeyId = principal.apiKeyId;
      }
      const { token, expiresAt } = await signToken(
        claims,
        ttlSeconds,
        tenantLevel && principal.expiresAt !== undefined ? { notAfter: principal.expiresAt } : {},
      );
      return reply.code(201).send({ token, expiresAt: expiresAt.toISOString() });
    },
  );
};

export default tokenRoutes;
