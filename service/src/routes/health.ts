// Health: /health checks the database and Redis (503 naming the failing check), at most once
// a second: callers share the check running, or the last one while it is less than a second
// old, so a flood of /health costs the database and Redis nothing more. /health/live answers
// while the process serves. Both answer any Host.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const CHECK_TIMEOUT_MS = 2000;
/** How long a check's answer serves /health. */
const CHECK_REUSE_MS = 1000;

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

  type Checks = { database: 'ok' | 'error'; redis: 'ok' | 'error' };
  /** The last check: when it started and its answer (pending while it runs). */
  let last: { startedAt: number; checks: Promise<Checks> } | undefined;
  let running = false;

  function checks(): Promise<Checks> {
    const now = performance.now();
    if (last !== undefined && (running || now - last.startedAt < CHECK_REUSE_MS)) return last.checks;
    running = true;
    const started = Promise.all([check(() => database.ping()), check(() => redis.ping())]).then(
      ([db, cache]) => ({ database: db, redis: cache }),
    );
    last = { startedAt: now, checks: started.finally(() => (running = false)) };
    return last.checks;
  }

  app.get(
    '/health',
    { schema: { response: { 200: Health, 503: Health } }, logLevel: 'warn' },
    async (_request, reply) => {
      const found = await checks();
      const healthy = found.database === 'ok' && found.redis === 'ok';
      return reply.code(healthy ? 200 : 503).send({
        status: healthy ? 'healthy' : 'unhealthy',
        checks: found,
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
