// GET /v1/usage?from=&to=: the tenant's requests and tokens per day with traffic.
import { Uuid } from '@chatbot/api-types/common';
import { UsageReport } from '@chatbot/api-types/usage';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { invalid, notFound } from '../errors.ts';
import { adminTenant } from '../lib/access.ts';
import { errorResponses } from '../schemas/common.ts';

const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
const DEFAULT_DAYS = 30;
const MAX_DAYS = 366;
const DAY_MS = 86_400_000;

function parseDay(value: string, name: string): number {
  const time = Date.parse(`${value}T00:00:00Z`);
  if (Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== value) {
    throw invalid(`${name} is not a valid day (YYYY-MM-DD)`, name);
  }
  return time;
}

const usageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { usage, tenants } = app.services;

  app.get(
    '/usage',
    {
      schema: {
        querystring: Type.Object(
          { from: Type.Optional(Day), to: Type.Optional(Day), tenantId: Type.Optional(Uuid) },
          { additionalProperties: false },
        ),
        response: { 200: UsageReport, ...errorResponses },
      },
    },
    async (request): Promise<UsageReport> => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      const to =
        request.query.to === undefined
          ? Date.parse(new Date().toISOString().slice(0, 10))
          : parseDay(request.query.to, 'to');
      const from =
        request.query.from === undefined
          ? to - (DEFAULT_DAYS - 1) * DAY_MS
          : parseDay(request.query.from, 'from');
      if (from > to) throw invalid('from is after to', 'from');
      if ((to - from) / DAY_MS + 1 > MAX_DAYS) throw invalid(`at most ${MAX_DAYS} days at once`, 'from');
      if ((await tenants.get(tenantId)) === undefined) throw notFound('tenant');
      const day = (time: number) => new Date(time).toISOString().slice(0, 10);
      return { items: await usage.list({ tenantId, from: day(from), to: day(to) }) };
    },
  );
};

export default usageRoutes;
