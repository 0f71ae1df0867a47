// Health: /health checks the database and Redis (503 naming the failing check);
// /health/live answers while the process serves. Both answer any Host.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const CHECK_TIMEOUT_MS = 2000;

const Check = Type.Union([Type.Literal('ok'), Type.Literal('error')]);
const Health = Type.Object({
  status: Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy')]),
  checks: Type.Object({ database: Check, redis: Check }),
  version: Type.String(),
  timestamp: Type.String(),
});

async function check(probe: () => Promise<unknown>): Promise<'ok' | 'error'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('health check timed out')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch {
    return 'error';
  } finally {
    clearTimeout(timer);
  }
}

const healthRoutes: FastifyPluginAsyncTypebox<{ version: string }> = async (app, options) => {
  const { database, redis } = app.services;

  app.get(
    '/health',
    { schema: { response: { 200: Health, 503: Health } }, logLevel: 'warn' },
    async (_request, reply) => {
      const [db, cache] = await Promise.all([check(() => database.ping()), check(() => redis.ping())]);
      const healthy = db === 'ok' && cache === 'ok';
      return reply.code(healthy ? 200 : 503).send({
        status: healthy ? 'healthy' : 'unhealthy',
        checks: { database: db, redis: cache },
        version: options.version,
        timestamp: new Date().toISOString(),
      });
    },
  );

  app.get(
    '/health/live',
    { schema: { response: { 200: Type.Object({ status: Type.Literal('ok') }) } }, logLevel: 'warn' },
    async () => ({ status: 'ok' as const }),
  );
};

export default healthRoutes;
