// The database client: postgres.js under drizzle-orm. Every unit of work runs in a
// transaction as the non-owner application role, scoped to one tenant (or, for the few
// platform operations, to the platform), so row-level security holds even for a query
// that forgets its tenant filter.
//
// The chat hot path calls SQL functions instead (migration 0004): they run as the
// application role and scope their implicit transaction to the tenant they are given, so
// each is one statement and one round trip, with no BEGIN, role switch or COMMIT around it.
import { sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export const APP_ROLE = 'chatbot_app';

export type Db = ReturnType<typeof drizzle<typeof schema>>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Turns drizzle's `sql` into text and parameters for postgres.js (queryAsTenant). */
const dialect = new PgDialect();

/** The statement that makes a transaction the application role inside one tenant, with `settings`. */
function tenantScope(tenantId: string, settings: Record<string, string>): SQL {
  const more = Object.entries(settings).map(([name, value]) => sql`, set_config(${name}, ${value}, true)`);
  return sql`select set_config('role', ${APP_ROLE}, true), set_config('app.tenant_id', ${tenantId}, true)${sql.join(more)}`;
}

export interface DatabaseOptions {
  url: string;
  maxConnections: number;
}

export function createDatabase(options: DatabaseOptions) {
  const client = postgres(options.url, {
    max: options.maxConnections,
    idle_timeout: 60,
    connect_timeout: 5,
    max_lifetime: 60 * 30,
    onnotice: () => {},
    connection: { application_name: 'chatbot-service' },
  });
  const db = drizzle(client, { schema });

  /**
   * Runs `work` in a transaction as the application role, inside one tenant; `settings` are
   * set for the transaction in the same statement (e.g. planner settings of one query).
   */
  function withTenant<T>(
    tenantId: string,
    work: (tx: Tx) => Promise<T>,
    settings: Record<string, string> = {},
  ): Promise<T> {
    return db.transaction(async (tx) => {
      await tx.execute(tenantScope(tenantId, settings));
      return work(tx);
    });
  }

  /**
   * One read statement (drizzle's `sql`) as the application role inside one tenant, for a hot
   * path: prepared (postgres.js keeps it per connection, so later calls skip parsing and the
   * describe round trip withTenant's statements each take; `plan_cache_mode` in `settings`
   * still plans it per call), its settings statement pipelined before it. Three round trips
   * (BEGIN, both statements, COMMIT) where withTenant takes six.
   */
  function queryAsTenant<T extends Record<string, unknown>>(
    tenantId: string,
    query: SQL,
    settings: Record<string, string> = {},
  ): Promise<T[]> {
    const setup = dialect.sqlToQuery(tenantScope(tenantId, settings));
    const statement = dialect.sqlToQuery(query);
    type Params = postgres.ParameterOrJSON<never>[];
    return client.begin(async (tx) => {
      // Sent together; the second fails too (the transaction is aborted) if the first does.
      const [, rows] = await Promise.all([
        tx.unsafe(setup.sql, setup.params as Params, { prepare: true }),
        tx.unsafe(statement.sql, statement.params as Params, { prepare: true }),
      ]);
      return rows as unknown as T[];
    }) as Promise<T[]>;
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

  async function ping(): Promise<void> {
    await client`select 1`;
  }

  async function close(timeoutSeconds = 5): Promise<void> {
    await client.end({ timeout: timeoutSeconds });
  }

  return { client, db, withTenant, queryAsTenant, withPlatform, ping, close };
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
