// Issue 16, item 5: waiting on an Idempotency-Key holds no database transaction per poll and
// stops when the client leaves; many waiters on one key cost O(1) database work.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { targetOf, throughProxy } from './support/fault-proxy.ts';
import {
  createTestDatabase,
  postOnOwnConnection,
  startTestService,
  type TestService,
} from './support/harness.ts';
import { startStatementProxy, type StatementProxy } from './support/statement-proxy.ts';

const WAITERS = 1000;

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: StatementProxy;
let svc: TestService;
let owner: postgres.Sql;

beforeAll(async () => {
  database = await createTestDatabase();
  proxy = await startStatementProxy(targetOf(database.url));
  // The first request's provider call is held at the stub for as long as the waiters wait:
  // no timeout (and so no retry by the SDK, a second call) may end it meanwhile.
  svc = await startTestService({
    database: { url: throughProxy(database.url, proxy) },
    env: { LLM_TIMEOUT_MS: '600000' },
  });
  owner = postgres(database.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await owner?.end();
  await svc?.close();
  await proxy?.close();
  await database?.drop();
});

/** A POST on its own connection, answered or not; `request` can be destroyed to leave. */
const post = (path: string, token: string, key: string, body: unknown) =>
  postOnOwnConnection(
    `${svc.url}${path}`,
    { authorization: `Bearer ${token}`, 'idempotency-key': key },
    body,
  );

async function waitersGauge(): Promise<number> {
  const text: string = (await svc.request('GET', '/metrics')).body;
  const match = /^idempotency_waiters (\d+)$/m.exec(text);
  return match === null ? Number.NaN : Number(match[1]);
}

/**
 * Statements the service sent through the proxy, but the sweep for orphaned streams, which
 * every replica runs once a minute whatever else it does (chat/stream-owner.ts).
 */
const statements = () => proxy.statements() - proxy.statements(/chatbot_fail_orphaned_streams/);

/** The service's connections to this database, as Postgres sees them. */
async function serviceBackends() {
  return owner`select state, xact_start from pg_stat_activity
      where datname = current_database() and application_name = 'chatbot-service'`;
}

describe('waiting on an Idempotency-Key', () => {
  it('costs O(1) database work for 1,000 waiters on one key, and 1,000 dropped waiters leave the database idle', async () => {
    const t = await svc.createTenant();
    const session = (await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} })).body.id;
    const path = `/v1/sessions/${session}/messages`;
    const key = 'many-waiters';
    let received = 0;
    svc.app.server.on('request', (req) => {
      if (req.headers['idempotency-key'] === key) received++;
    });
    let release!: () => void;
    svc.stub.setDefault({ kind: 'reply', hold: new Promise<void>((resolve) => (release = resolve)) });
    try {
      const first = post(path, t.userToken, key, { content: 'once' });
      await vi.waitFor(() => expect(svc.stub.requests).toHaveLength(1), { timeout: 30_000 });
      const start = statements();
      const started = performance.now();
      /**
       * What waiting may cost: a few statements, however many wait, and the watch's fallback
       * read of the record (a transaction of a few statements) about once a second while
       * anyone waits, however many (a loaded machine makes the test take longer, not the waiters
       * more). Before the change, each waiter polled every 100 ms: thousands a second.
       */
      const allowance = () => 50 + 5 * Math.ceil((performance.now() - started) / 1000);

      const waiters = Array.from({ length: WAITERS }, () =>
        post(path, t.userToken, key, { content: 'once' }),
      );
      await vi.waitFor(() => expect(received).toBe(WAITERS + 1), { timeout: 60_000, interval: 50 });
      // Every waiter has arrived; waiting, they leave the database alone.
      await vi.waitFor(
        async () => {
          expect(await waitersGauge()).toBe(WAITERS);
          for (const backend of await serviceBackends()) {
            expect(backend).toMatchObject({ state: 'idle', xact_start: null });
          }
        },
        { timeout: 60_000, interval: 100 },
      );
      const whileWaiting = statements() - start;
      expect(whileWaiting, 'statements for 1,000 waiters').toBeLessThan(allowance());

      for (const waiter of waiters) waiter.request.destroy();
      const dropped = performance.now();
      await vi.waitFor(async () => expect(await waitersGauge()).toBe(0), { timeout: 30_000, interval: 20 });
      const goneAfterMs = Math.round(performance.now() - dropped);
      // A fallback read that began before the drop may still finish; then nothing more.
      await vi.waitFor(
        async () => {
          for (const backend of await serviceBackends()) {
            expect(backend).toMatchObject({ state: 'idle', xact_start: null });
          }
        },
        { timeout: 10_000, interval: 20 },
      );
      const idleAfterMs = Math.round(performance.now() - dropped);
      const quiet = statements();
      // Round trips through the service give any timer that was still due its turn.
      for (let i = 0; i < 5; i++) expect((await svc.request('GET', '/health/live')).status).toBe(200);
      expect(statements(), 'statements after every waiter left').toBe(quiet);
      expect(statements() - start, 'statements from the first waiter to the last one gone').toBeLessThan(
        allowance(),
      );
      process.stdout.write(
        `1,000 waiters: ${whileWaiting} statements while they waited, ${statements() - start} in all ` +
          `in ${((performance.now() - started) / 1000).toFixed(1)} s; none left ${goneAfterMs} ms ` +
          `after the drop, the database idle after ${idleAfterMs} ms\n`,
      );

      release();
      expect(await first.answered).toBe(201);
      expect(svc.stub.requests).toHaveLength(1);
    } finally {
      release();
      svc.stub.reset();
    }
  }, 180_000);

  it('wakes a waiter as soon as the first request completes, and replays its answer', async () => {
    const t = await svc.createTenant();
    const session = (await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} })).body.id;
    const path = `/v1/sessions/${session}/messages`;
    let release!: () => void;
    svc.stub.setDefault({ kind: 'reply', hold: new Promise<void>((resolve) => (release = resolve)) });
    try {
      const first = post(path, t.userToken, 'wake', { content: 'wake me' });
      await vi.waitFor(() => expect(svc.stub.requests).toHaveLength(1), { timeout: 30_000 });
      const second = post(path, t.userToken, 'wake', { content: 'wake me' });
      await vi.waitFor(async () => expect(await waitersGauge()).toBe(1), { timeout: 30_000 });
      const other = await svc.request('POST', path, {
        token: t.userToken,
        body: { content: 'another body' },
        headers: { 'idempotency-key': 'wake' },
      });
      expect(other.status).toBe(409);
      release();
      expect(await first.answered).toBe(201);
      expect(await second.answered).toBe(201);
      expect(svc.stub.requests).toHaveLength(1);
      expect(await waitersGauge()).toBe(0);
    } finally {
      release();
      svc.stub.reset();
    }
  });
});
