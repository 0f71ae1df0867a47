// The Postgres driver survives a Postgres restart under load (patches/postgres+3.4.9.patch).
// postgres.js 3.4.9 defers small writes to a setImmediate; when the connection closed in
// between, that write ran on a socket already set to null and threw outside any promise: an
// uncaught exception, the end of the process (the service's, on any database restart). Here
// pooled connections (transactions, as withTenant runs them) and a single-connection client
// (as the stream owner's lock holds one) run flat out while Postgres restarts again and again.
// Without the patch, runs here threw outside any query 3 to 5 times in 6 restarts; with it,
// none did in six runs.
//
// What the patch does not fix: postgres.js's single-connection client sometimes stops after a
// restart (a transaction left waiting on the client, its answer unread on the socket), before
// and after the patch alike; so this test asks the pool, not that client, to serve again
// between restarts, and ends the clients rather than waiting for their last queries. The
// service's stream owner, which holds its lock on such a client, gives a stalled connection up
// (stream-owner.test.ts): here it must hold its lock again after every restart.
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createStreamOwner, STREAM_LOCK_CLASS } from '../src/chat/stream-owner.ts';
import { docker, freePort, startPostgres, type StartedContainer } from '@chatbot/test-kit/docker';

const RESTARTS = 6;
/** How long the pool may take to serve again after a restart (a deadline, not a measure). */
const RECOVERY_MS = 150_000;

let pg: StartedContainer;
beforeAll(async () => {
  pg = await startPostgres({ hostPort: await freePort() });
}, 120_000);
afterAll(async () => pg?.stop());

describe('the Postgres driver across restarts', () => {
  it('a Postgres restarted under load never throws outside a query, and the pool serves again after each restart', async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown) => void uncaught.push(error);
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
    const pool = postgres(pg.url, { max: 10, connect_timeout: 2, onnotice: () => {} });
    const single = postgres(pg.url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      connect_timeout: 2,
      onnotice: () => {},
    });
    const ownerWarnings: string[] = [];
    const owner = createStreamOwner({
      databaseUrl: pg.url,
      database: { client: pool },
      log: pino({ level: 'warn' }, { write: (line: string) => void ownerWarnings.push(line) }),
      lockDeadlineMs: 5_000,
    });
    owner.start();
    /** Whether the owner holds its lock, as Postgres sees it. */
    const ownerLocked = async () => {
      const id = owner.current();
      if (id === null) return false;
      const rows = await pool`
        select 1 from pg_locks where locktype = 'advisory' and granted
          and classid::bigint = ${STREAM_LOCK_CLASS} and objid::bigint = ${id}`;
      return rows.length === 1;
    };
    const served = { pool: 0, single: 0 };
    let failed = 0;
    let stop = false;
    const load = async (sql: postgres.Sql, which: keyof typeof served) => {
      while (!stop) {
        try {
          await sql.begin(async (tx) => {
            await tx`select set_config('app.tenant_id', 'x', true)`;
            await tx`select 1`;
          });
          served[which]++;
        } catch {
          failed++;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    };
    const loops = [
      ...Array.from({ length: 20 }, () => load(pool, 'pool')),
      load(single, 'single'),
      load(single, 'single'),
    ];
    try {
      /** The pool serves again, and the stream owner holds its lock again. */
      const recovered = async () => {
        const before = served.pool;
        await vi.waitFor(() => expect(served.pool).toBeGreaterThan(before + 50), {
          timeout: RECOVERY_MS,
          interval: 20,
        });
        await vi.waitFor(async () => expect(await ownerLocked()).toBe(true), {
          timeout: RECOVERY_MS,
          interval: 100,
        });
      };
      for (let i = 0; i < RESTARTS; i++) {
        await recovered();
        await docker(['restart', '-t', '1', pg.name]);
      }
      await recovered();
      const stalls = ownerWarnings.filter((line) => line.includes('got no answer in time')).length;
      process.stdout.write(
        `${RESTARTS} restarts: ${served.pool + served.single} transactions served, ${failed} failed ` +
          `(while Postgres was down); ${uncaught.length} thrown outside a query; the stream ` +
          `owner held its lock after each, ${stalls} time(s) on a new connection after a stall\n`,
      );
      expect(uncaught).toEqual([]);
    } finally {
      stop = true;
      await owner.close();
      // Ending the clients fails what they still run; a loop of the single client may be stuck
      // (above), so the wait for the loops is bounded.
      await Promise.all([pool.end({ timeout: 1 }), single.end({ timeout: 1 })]);
      await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, 10_000))]);
      process.off('uncaughtException', record);
      process.off('unhandledRejection', record);
    }
  }, 900_000);
});
