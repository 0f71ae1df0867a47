// Issue 16, item 7, in the service: unauthenticated requests reach Postgres at most once per
// distinct credential (unknown API keys are remembered), and /health asks the database at most
// once a second. Counted (statements through a proxy in front of Postgres), not timed. What a
// flood does to other tenants' chat latency is measured by a benchmark, `npm run bench:flood`.
import { request as httpRequest, Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetOf, throughProxy } from './support/fault-proxy.ts';
import { createTestDatabase, startTestService, type TestService } from './support/harness.ts';
import { startStatementProxy, type StatementProxy } from './support/statement-proxy.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: StatementProxy;
let svc: TestService;

const AUTHENTICATE = /chatbot_authenticate_api_key/;
const PING = /^select 1$/;

beforeAll(async () => {
  database = await createTestDatabase();
  proxy = await startStatementProxy(targetOf(database.url));
  svc = await startTestService({ database: { url: throughProxy(database.url, proxy) } });
});
afterAll(async () => {
  await svc?.close();
  await proxy?.close();
  await database?.drop();
});

/** GET with a keep-alive agent: the status. */
function get(agent: Agent, path: string, authorization?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${svc.url}${path}`,
      { agent, headers: authorization === undefined ? {} : { authorization } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** `count` requests, `concurrency` at a time: their statuses. */
async function many(count: number, concurrency: number, send: (i: number) => Promise<number>) {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) statuses.push(await send(next++));
    }),
  );
  return statuses;
}

describe('edge limits in the service', () => {
  it('edge limits: 500 requests with the same unknown API key reach Postgres once, a second unknown key once more', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 50 });
    try {
      const before = proxy.statements(AUTHENTICATE);
      const key = `cbk_unknown${'a'.repeat(40)}`;
      // All at once first (they share the lookup), then one after the other (remembered).
      const statuses = [
        ...(await many(100, 100, () => get(agent, '/v1/me', `Bearer ${key}`))),
        ...(await many(400, 4, (i) => get(agent, i % 2 ? '/v1/sessions' : '/v1/me', `Bearer ${key}`))),
      ];
      expect(statuses.every((s) => s === 401)).toBe(true);
      expect(proxy.statements(AUTHENTICATE) - before).toBe(1);

      const other = `cbk_unknown${'b'.repeat(40)}`;
      expect(await many(50, 10, () => get(agent, '/v1/me', `Bearer ${other}`))).toEqual(Array(50).fill(401));
      expect(proxy.statements(AUTHENTICATE) - before).toBe(2);

      // Credentials that are not API keys never reach the database to be refused.
      const all = proxy.statements();
      const garbage = ['Bearer not-a-token', 'Bearer a.b.c', 'Basic dXNlcjpwYXNz', 'Bearer '];
      await many(200, 20, (i) => get(agent, '/v1/me', garbage[i % garbage.length]));
      await many(50, 10, () => get(agent, '/v1/me'));
      expect(proxy.statements() - all).toBe(0);

      // A real key still works, and a revoked one is refused.
      const tenant = await svc.createTenant();
      const created = await svc.request('POST', `/v1/tenants/${tenant.id}/api-keys`, {
        token: tenant.adminToken,
        body: {},
      });
      expect(created.status).toBe(201);
      expect(await get(agent, '/v1/me', `Bearer ${created.body.key}`)).toBe(200);
      const revoked = await svc.request('DELETE', `/v1/tenants/${tenant.id}/api-keys/${created.body.id}`, {
        token: tenant.adminToken,
      });
      expect(revoked.status).toBe(204);
      expect(await get(agent, '/v1/me', `Bearer ${created.body.key}`)).toBe(401);
    } finally {
      agent.destroy();
    }
  });

  it('edge limits: /health asks the database at most once a second, however many ask', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 50 });
    try {
      const before = proxy.statements(PING);
      const started = performance.now();
      const statuses = await many(3000, 50, () => get(agent, '/health'));
      const seconds = (performance.now() - started) / 1000;
      const pings = proxy.statements(PING) - before;
      process.stdout.write(
        `/health: ${statuses.length} answers in ${seconds.toFixed(2)} s, ${pings} database checks\n`,
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(pings).toBeGreaterThanOrEqual(1);
      // At most one check starts in any second (the first at once).
      expect(pings).toBeLessThanOrEqual(Math.floor(seconds) + 1);
    } finally {
      agent.destroy();
    }
  });
});
