// GET /v1/me: the caller's identity and tenant.
import { Me } from '@chatbot/api-types/me';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { tenantGone } from '../errors.ts';
import { presentTenant } from '../lib/present.ts';
import { errorResponses } from '../schemas/common.ts';

const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { tenants, settingsDefaults } = app.services;

  app.get('/me', { schema: { response: { 200: Me, ...errorResponses } } }, async (request): Promise<Me> => {
    const { sub, role, tenantId } = request.principal;
    if (tenantId === null) return { sub, role, tenant: null };
    const row = await tenants.get(tenantId);
    if (row === undefined) throw tenantGone();
    return { sub, role, tenant: presentTenant(row, settingsDefaults) };
  });
};

export default meRoutes;
