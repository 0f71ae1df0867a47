// Tenants. Their rows are cached in Redis for CACHE_TTL_SECONDS and, for chat turns, in
// this process too. Every change gives the tenant a new version (a random token in Redis);
// a cached row carries the version it was read under. Reads that must be current (the
// tenant endpoints, /v1/me, /v1/models) take the version and the Redis copy in one round
// trip and ignore a copy of another version. Chat turns use this process's copy without a
// round trip, and the rate limiter admits them only while that copy's version is still the
// tenant's (`versionKey`), so a change made through any replica applies to every turn
// admitted after the change returned.
import { randomUUID } from 'node:crypto';
import { and, desc, eq, lt, or } from 'drizzle-orm';
import type { Redis, Result } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/client.ts';
import { pgErrorCode } from '../db/client.ts';
import { tenants, type TenantRow, type TenantSettingsStored } from '../db/schema.ts';
import { AppError } from '../errors.ts';

/** The tenant's current version; shares the limiter's hash tag, so one script sees both. */
export const versionKey = (id: string) => `chatbot:tenant:{${id}}:v`;
const rowKey = (id: string) => `chatbot:tenant:{${id}}:row`;

/** Tenants whose rows this process keeps for chat turns. */
const LOCAL_ENTRIES = 10_000;

// KEYS: version, row. ARGV: a new version (used when the tenant has none yet), ttl seconds.
const LOAD = `
local v = redis.call('GET', KEYS[1])
if not v then
  v = ARGV[1]
  redis.call('SET', KEYS[1], v, 'EX', ARGV[2])
end
return {v, redis.call('GET', KEYS[2])}
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    chatbotTenantLoad(
      version: string,
      row: string,
      newVersion: string,
      ttlSeconds: number,
    ): Result<[string, string | null], Context>;
  }
}

interface CachedTenant extends Omit<TenantRow, 'createdAt' | 'updatedAt'> {
  createdAt: string;
  updatedAt: string;
}

/** A tenant row and the version it was read under (undefined: Redis could not say). */
export interface VersionedTenant {
  row: TenantRow;
  version: string | undefined;
  /** Served from this process's copy, without asking Redis. */
  local?: boolean;
}

export function createTenantsRepository(deps: {
  database: Database;
  redis: Redis;
  cacheTtlSeconds: number;
  log: FastifyBaseLogger;
}) {
  const { database, redis, cacheTtlSeconds, log } = deps;
  redis.defineCommand('chatbotTenantLoad', { numberOfKeys: 2, lua: LOAD });
  /** Oldest first; an entry also lapses after CACHE_TTL_SECONDS. */
  const local = new Map<string, VersionedTenant & { expiresAt: number }>();

  function remember(id: string, tenant: VersionedTenant): void {
    if (tenant.version === undefined) return;
    local.delete(id);
    if (local.size >= LOCAL_ENTRIES) local.delete(local.keys().next().value!);
    local.set(id, {
      row: tenant.row,
      version: tenant.version,
      expiresAt: Date.now() + cacheTtlSeconds * 1000,
    });
  }

  async function readDatabase(id: string): Promise<TenantRow | undefined> {
    return database.withTenant(id, async (tx) => {
      const [found] = await tx.select().from(tenants).where(eq(tenants.id, id));
      return found;
    });
  }

  /** The current row with its version: one Redis round trip, and the database when Redis has no copy of this version. */
  async function load(id: string): Promise<VersionedTenant | undefined> {
    let version: string;
    let cached: string | null;
    try {
      [version, cached] = await redis.chatbotTenantLoad(
        versionKey(id),
        rowKey(id),
        randomUUID(),
        cacheTtlSeconds,
      );
    } catch (error) {
      log.warn({ err: error }, 'tenant cache read failed; reading the database');
      const row = await readDatabase(id);
      return row === undefined ? undefined : { row, version: undefined };
    }
    if (cached !== null) {
      try {
        const parsed = JSON.parse(cached) as { v: string; row: CachedTenant };
        if (parsed.v === version) {
          const row = {
            ...parsed.row,
            createdAt: new Date(parsed.row.createdAt),
            updatedAt: new Date(parsed.row.updatedAt),
          };
          return { row, version };
        }
      } catch (error) {
        log.warn({ err: error }, 'tenant cache entry is not readable; reading the database');
      }
    }
    // Read after the version: a change that lands meanwhile gives the tenant a newer
    // version, so this copy can only be taken for one at least as old as what it holds.
    const row = await readDatabase(id);
    if (row === undefined) return undefined;
    try {
      await redis.set(rowKey(id), JSON.stringify({ v: version, row }), 'EX', cacheTtlSeconds);
    } catch (error) {
      log.warn({ err: error }, 'tenant cache write failed');
    }
    return { row, version };
  }

  /** Gives the tenant a new version, so every cached copy (here, in Redis, in other processes) is ignored. */
  async function invalidate(id: string): Promise<void> {
    local.delete(id);
    try {
      await redis.multi().set(versionKey(id), randomUUID(), 'EX', cacheTtlSeconds).del(rowKey(id)).exec();
    } catch (error) {
      // Other replicas would go on using the old settings: the change is not complete.
      throw new AppError('unavailable', 'Redis is unreachable', { cause: error });
    }
  }

  /** The current row (one Redis round trip; the database when Redis holds no current copy). */
  async function get(id: string): Promise<TenantRow | undefined> {
    const tenant = await load(id);
    if (tenant !== undefined) remember(id, tenant);
    return tenant?.row;
  }

  /**
   * The row this process holds for chat turns, without a round trip when it has one; its
   * version goes to the rate limiter, which refuses the turn if it is no longer current
   * (then call again with `fresh`).
   */
  async function getForTurn(
    id: string,
    options: { fresh?: boolean } = {},
  ): Promise<VersionedTenant | undefined> {
    const hit = local.get(id);
    if (hit !== undefined && options.fresh !== true && hit.expiresAt > Date.now()) {
      return { row: hit.row, version: hit.version, local: true };
    }
    const tenant = await load(id);
    if (tenant === undefined) local.delete(id);
    else remember(id, tenant);
    return tenant;
  }

  async function getBySlug(slug: string): Promise<TenantRow | undefined> {
    return database.withPlatform(async (tx) => {
      const [found] = await tx.select().from(tenants).where(eq(tenants.slug, slug));
      return found;
    });
  }

  async function create(input: {
    name: string;
    slug: string;
    settings: TenantSettingsStored;
  }): Promise<TenantRow> {
    try {
      return await database.withPlatform(async (tx) => {
        const [row] = await tx.insert(tenants).values(input).returning();
        return row!;
      });
    } catch (error) {
      if (pgErrorCode(error) === '23505') {
        throw new AppError('conflict', `a tenant with slug "${input.slug}" already exists`, { cause: error });
      }
      throw error;
    }
  }

  async function list(input: { limit: number; after?: readonly [string, string] }): Promise<TenantRow[]> {
    return database.withPlatform(async (tx) => {
      const after = input.after;
      return tx
        .select()
        .from(tenants)
        .where(
          after === undefined
            ? undefined
            : or(
                lt(tenants.createdAt, new Date(after[0])),
                and(eq(tenants.createdAt, new Date(after[0])), lt(tenants.id, after[1])),
              ),
        )
        .orderBy(desc(tenants.createdAt), desc(tenants.id))
        .limit(input.limit + 1);
    });
  }

  async function update(
    id: string,
    change: { name?: string; settings?: TenantSettingsStored; providerKeyEncrypted?: string | null },
  ): Promise<TenantRow | undefined> {
    const row = await database.withTenant(id, async (tx) => {
      const [updated] = await tx
        .update(tenants)
        .set({ ...change, updatedAt: new Date() })
        .where(eq(tenants.id, id))
        .returning();
      return updated;
    });
    await invalidate(id);
    return row;
  }

  async function remove(id: string): Promise<boolean> {
    const deleted = await database.withTenant(id, async (tx) =>
      tx.delete(tenants).where(eq(tenants.id, id)).returning({ id: tenants.id }),
    );
    await invalidate(id);
    return deleted.length > 0;
  }

  return { get, getForTurn, getBySlug, create, list, update, remove, invalidate };
}

export type TenantsRepository = ReturnType<typeof createTenantsRepository>;
