import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { tenantGone } from '../errors.ts';
import { presentTenant } from '../lib/present.ts';
import { errorResponses, Nullable } from '../schemas/common.ts';
import { Tenant } from '../schemas/tenants.ts';

const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { tenants, settingsDefaults } = app.services;

  app.get(
    '/me',
    {
      schema: {
        response: {
          200: Type.Object({ sub: Type.String(), role: Type.String(), tenant: Nullable(Tenant) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { sub, role, tenantId } = request.principal;
      if (tenantId === null) return { sub, role, tenant: null };
      const row = await tenants.get(tenantId);
      if (row === undefined) throw tenantGone();
      return { sub, role, tenant: presentTenant(row, settingsDefaults) };
    },
  );
};

export default meRoutes;
