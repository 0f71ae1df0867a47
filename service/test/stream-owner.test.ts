// The stream-owner lock (chat/stream-owner.ts) when its lock query gets no answer: postgres.js's
// single-connection client has been seen to stop reading a connection after a database restart
// (postgres-restart.docker.test.ts), which left the lock untaken for the life of the process.
// Here a proxy in front of the real Postgres swallows the lock query while told to, as that
// connection did; the owner must give the connection up and take the lock on a new one.
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStreamOwner, STREAM_LOCK_CLASS } from '../src/chat/stream-owner.ts';
import { createTestDatabase } from './support/harness.ts';

/** A proxy that passes the Postgres protocol through, and holds back a Parse of the lock query while `stalling`. */
async function startStallProxy(target: { host: string; port: number }) {
  const state = { stalling: true, held: 0, open: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    state.open += 1;
    client.on('close', () => {
      state.open -= 1;
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    upstream.pipe(client);
    // Messages are framed (type byte, then a length) after the untyped startup message.
    let pending = Buffer.alloc(0);
    let started = false;
    let stalled = false;
    client.on('data', (chunk: Buffer) => {
      if (stalled) return;
      pending = Buffer.concat([pending, chunk]);
      let end = 0;
      while (!stalled) {
        const header = started ? 5 : 4;
        if (pending.length - end < header) break;
        const length = started ? pending.readInt32BE(end + 1) + 1 : pending.readInt32BE(end);
        if (pending.length - end < length) break;
        const message = pending.subarray(end, end + length);
        if (
          state.stalling &&
          started &&
          message[0] === 0x50 /* P */ &&
          message.includes('pg_try_advisory_lock')
        ) {
          stalled = true;
          state.held += 1;
          break;
        }
        end += length;
        started = true;
      }
      upstream.write(pending.subarray(0, end));
      pending = stalled ? Buffer.alloc(0) : pending.subarray(end);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    state,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the stream-owner lock', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: Awaited<ReturnType<typeof startStallProxy>>;
  let sql: postgres.Sql;

  beforeAll(async () => {
    database = await createTestDatabase();
    const url = new URL(database.appUrl);
    proxy = await startStallProxy({ host: url.hostname, port: Number(url.port) });
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
    try {
      owner.start();
      // The first lock query is held, then the one on the connection that replaces it.
      await until('two lock queries held by the proxy', () => proxy.state.held >= 2, 60_000);
      expect(owner.current()).toBeNull();

      proxy.state.stalling = false;
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
      await until('one connection left through the proxy', () => proxy.state.open === 1, 30_000);
      console.log(
        `lock queries held: ${proxy.state.held}; the lock taken by ${id} on a new connection; ` +
          `warnings: ${warnings.length}`,
      );
    } finally {
      await owner.close();
    }
  }, 180_000);
});
