// The stream-owner lock (chat/stream-owner.ts) when its lock query gets no answer: postgres.js's
// single-connection client has been seen to stop reading a connection after a database restart
// (postgres-restart.docker.test.ts), which left the lock untaken for the life of the process.
// Here a proxy in front of the real Postgres holds the lock query back while told to, as that
// connection did; the owner must give the connection up and take the lock on a new one.
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStreamOwner, STREAM_LOCK_CLASS } from '../src/chat/stream-owner.ts';
import { createTestDatabase } from './support/harness.ts';
import { startStatementProxy, type StatementProxy } from './support/statement-proxy.ts';

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the stream-owner lock', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: StatementProxy;
  let sql: postgres.Sql;

  beforeAll(async () => {
    database = await createTestDatabase();
    const url = new URL(database.appUrl);
    proxy = await startStatementProxy({ host: url.hostname, port: Number(url.port) });
    sql = postgres(database.url, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await sql?.end();
    await proxy?.close();
    await database?.drop();
  });

  it('is taken on a new connection when the lock query gets no answer, and the stalled one is ended', async () => {
    const warnings: string[] = [];
    const log = pino(
      { level: 'warn' },
      { write: (line: string) => void warnings.push(JSON.parse(line).msg as string) },
    );
    const url = new URL(database.appUrl);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const owner = createStreamOwner({
      databaseUrl: url.toString(),
      database: { client: sql },
      log,
      lockDeadlineMs: 1_000,
    });
    const lockQuery = /pg_try_advisory_lock/;
    proxy.hold(lockQuery);
    try {
      owner.start();
      // The first lock query is held, then the one on the connection that replaces it.
      await until('two lock queries held by the proxy', () => proxy.held() >= 2, 60_000);
      expect(owner.current()).toBeNull();

      proxy.hold(undefined);
      await until('the lock taken', () => owner.current() !== null, 60_000);
      const id = owner.current();
      const holders = await sql<{ application_name: string }[]>`
        select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.granted
          and l.classid::bigint = ${STREAM_LOCK_CLASS} and l.objid::bigint = ${id}`;
      expect(holders.map((h) => h.application_name)).toEqual(['chatbot-service-stream-owner']);
      expect(warnings).toContain(
        'the stream-owner lock query got no answer in time; trying on a new connection',
      );
      // The connections given up on are closed: only the one holding the lock stays open.
      await until('one connection left through the proxy', () => proxy.connections() === 1, 30_000);
      console.log(
        `lock queries held: ${proxy.held()}; the lock taken by ${id} on a new connection; ` +
          `warnings: ${warnings.length}`,
      );
    } finally {
      await owner.close();
    }
  }, 180_000);
});
