// The database or Redis going away: /health names the failing check, chat answers 503
// unavailable (never a 500), and everything recovers when they return.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startFaultProxy, targetOf, throughProxy, type FaultProxy } from './support/fault-proxy.ts';
import { createTestDatabase, startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
let pgProxy: FaultProxy;
let redisProxy: FaultProxy;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let tenant: Awaited<ReturnType<TestService['createTenant']>>;
let sessionId: string;

async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  database = await createTestDatabase();
  pgProxy = await startFaultProxy(targetOf(database.url));
  redisProxy = await startFaultProxy(targetOf(inject('redisUrl')));
  svc = await startTestService({
    database: { url: throughProxy(database.url, pgProxy) },
    env: { REDIS_URL: throughProxy(inject('redisUrl'), redisProxy) },
  });
  tenant = await svc.createTenant();
  sessionId = (await svc.request('POST', '/v1/sessions', { token: tenant.userToken, body: {} })).body.id;
});
afterAll(async () => {
  await svc?.close();
  await pgProxy?.close();
  await redisProxy?.close();
  await database?.drop();
});

describe('database outage', () => {
  it('answers /health 503 naming the database, chat 503 unavailable, and recovers', async () => {
    await pgProxy.down();
    try {
      const health = await svc.request('GET', '/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'unhealthy', checks: { database: 'error', redis: 'ok' } });
      const chat = await svc.request('POST', `/v1/sessions/${sessionId}/messages`, {
        token: tenant.userToken,
        body: { content: 'are you there?' },
      });
      expect(chat.status).toBe(503);
      expect(chat.body.error.code).toBe('unavailable');
      const list = await svc.request('GET', '/v1/sessions', { token: tenant.userToken });
      expect(list.status).toBe(503);
      expect((await svc.request('GET', '/health/live')).status).toBe(200);
    } finally {
      await pgProxy.up();
    }
    await eventually(async () => (await svc.request('GET', '/health')).status === 200);
    const chat = await svc.request('POST', `/v1/sessions/${sessionId}/messages`, {
      token: tenant.userToken,
      body: { content: 'back?' },
    });
    expect(chat.status).toBe(201);
  });
});

describe('Redis outage', () => {
  it('answers /health 503 naming redis, and recovers', async () => {
    await redisProxy.down();
    try {
      await eventually(async () => {
        const health = await svc.request('GET', '/health');
        return (
          health.status === 503 &&
          health.body.checks.redis === 'error' &&
          health.body.checks.database === 'ok'
        );
      });
    } finally {
      await redisProxy.up();
    }
    await eventually(async () => (await svc.request('GET', '/health')).status === 200);
  });
});
