// The database client: postgres.js under drizzle-orm. Every unit of work runs in a
// transaction as the non-owner application role, scoped to one tenant (or, for the few
// platform operations, to the platform), so row-level security holds even for a query
// that forgets its tenant filter.
//
// The chat hot path uses `pipeline`: postgres.js directly (its statements are prepared once
// per connection, drizzle's are parsed and planned every time) on a reserved connection,
// sending BEGIN, the role and tenant settings and the first statements together, and the
// last statement together with COMMIT, so a transaction costs one or two round trips
// instead of one per statement.
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export const APP_ROLE = 'chatbot_app';

export type Db = ReturnType<typeof drizzle<typeof schema>>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** A transaction of `pipeline`: its statements go out without waiting for each other. */
export interface PipelinedTx {
  /** postgres.js on the transaction's connection; queries run in the order they are sent. */
  sql: postgres.ReservedSql;
  /** Sends `query`, then COMMIT right behind it; resolves with the query's rows once both are done. */
  commitWith<T>(query: postgres.PendingQuery<T extends readonly postgres.MaybeRow[] ? T : never>): Promise<T>;
}

/** Who a pipelined transaction acts for: one tenant, or nobody (SECURITY DEFINER lookups only). */
export type PipelineScope = { tenantId: string } | { tenantId: null };

export interface DatabaseOptions {
  url: string;
  maxConnections: number;
  /** Connections above `idleAbove` close after this many idle seconds. */
  idleTimeoutSeconds?: number;
  connectTimeoutSeconds?: number;
}

export function createDatabase(options: DatabaseOptions) {
  const client = postgres(options.url, {
    max: options.maxConnections,
    idle_timeout: options.idleTimeoutSeconds ?? 60,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    max_lifetime: 60 * 30,
    onnotice: () => {},
    connection: { application_name: 'chatbot-service' },
  });
  const db = drizzle(client, { schema });

  /** Runs `work` in a transaction as the application role, inside one tenant. */
  function withTenant<T>(tenantId: string, work: (tx: Tx) => Promise<T>): Promise<T> {
    return db.transaction(async (tx) => {
      await tx.execute(
        sql`select set_config('role', ${APP_ROLE}, true), set_config('app.tenant_id', ${tenantId}, true)`,
      );
      return work(tx);
    });
  }

  /** Runs `work` as the application role across tenants: only the tenants table opens up. */
  function withPlatform<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return db.transaction(async (tx) => {
      await tx.execute(
        sql`select set_config('role', ${APP_ROLE}, true), set_config('app.scope', 'platform', true)`,
      );
      return work(tx);
    });
  }

  /** Runs `work` as the application role with no tenant: only SECURITY DEFINER lookups see rows. */
  function withoutTenant<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('role', ${APP_ROLE}, true)`);
      return work(tx);
    });
  }

  /**
   * Runs `work` in a transaction as the application role (in `scope`'s tenant) on one
   * reserved connection. BEGIN and the settings are sent at once, ahead of whatever `work`
   * sends first; `work` ends the transaction with `tx.commitWith(lastQuery)` (or it is
   * committed after `work` returns). Any failure rolls back.
   */
  async function pipeline<T>(scope: PipelineScope, work: (tx: PipelinedTx) => Promise<T>): Promise<T> {
    const reserved = await client.reserve();
    let ended = false;
    let committed: Promise<unknown> | undefined;
    const started = Promise.all([
      reserved`begin`.execute(),
      scope.tenantId === null
        ? reserved`select set_config('role', ${APP_ROLE}, true)`.execute()
        : reserved`select set_config('role', ${APP_ROLE}, true), set_config('app.tenant_id', ${scope.tenantId}, true)`.execute(),
    ]);
    // A failure here fails the statements behind it as well; it is reported from below.
    started.catch(() => undefined);
    const tx: PipelinedTx = {
      sql: reserved,
      commitWith(query) {
        if (ended) throw new Error('the transaction has ended');
        ended = true;
        query.execute();
        committed = reserved`commit`.execute();
        return Promise.all([query, committed]).then(([rows]) => rows as never);
      },
    };
    // postgres.js (3.4.9) puts a released connection back among the open ones even when its
    // socket has closed, and the pool then hangs on it; a connection that was lost is left
    // where the driver put it (among the closed ones, which it reconnects) instead.
    let lost = false;
    const note = (error: unknown) => {
      if (isDatabaseUnavailable(error)) lost = true;
      return error;
    };
    try {
      const result = await work(tx);
      if (!ended) {
        ended = true;
        await reserved`commit`;
      } else {
        await committed;
      }
      return result;
    } catch (error) {
      note(error);
      if (!ended) {
        ended = true;
        await reserved`rollback`.catch(note);
      } else {
        // COMMIT after a failed statement rolls back; wait for it before the connection goes back.
        await committed?.catch(note);
      }
      // The first statements' failure is the cause of whatever failed after them.
      const startFailure = await started.then(() => undefined, note);
      throw startFailure ?? error;
    } finally {
      if (!lost) reserved.release();
    }
  }

  async function ping(): Promise<void> {
    await client`select 1`;
  }

  async function close(timeoutSeconds = 5): Promise<void> {
    await client.end({ timeout: timeoutSeconds });
  }

  return { client, db, withTenant, withPlatform, withoutTenant, pipeline, ping, close };
}

export type Database = ReturnType<typeof createDatabase>;

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '53300', // too_many_connections
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
]);

/** True when an error (or one of its causes) says the database cannot be reached. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || code.startsWith('08'))) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
  }
  return false;
}

/** The Postgres error code of an error or its causes (e.g. 23505 for a unique violation). */
export function pgErrorCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
