// Tenants, with their rows cached in Redis for CACHE_TTL_SECONDS and dropped on change.
import { and, desc, eq, lt, or } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/client.ts';
import { pgErrorCode } from '../db/client.ts';
import { tenants, type TenantRow, type TenantSettingsStored } from '../db/schema.ts';
import { AppError } from '../errors.ts';

const cacheKey = (id: string) => `chatbot:tenant:${id}`;

interface CachedTenant extends Omit<TenantRow, 'createdAt' | 'updatedAt'> {
  createdAt: string;
  updatedAt: string;
}

export function createTenantsRepository(deps: {
  database: Database;
  redis: Redis;
  cacheTtlSeconds: number;
  log: FastifyBaseLogger;
}) {
  const { database, redis, cacheTtlSeconds, log } = deps;

  async function readCache(id: string): Promise<TenantRow | undefined> {
    try {
      const cached = await redis.get(cacheKey(id));
      if (cached === null) return undefined;
      const row = JSON.parse(cached) as CachedTenant;
      return { ...row, createdAt: new Date(row.createdAt), updatedAt: new Date(row.updatedAt) };
    } catch (error) {
      log.warn({ err: error }, 'tenant cache read failed; reading the database');
      return undefined;
    }
  }

  async function writeCache(row: TenantRow): Promise<void> {
    try {
      await redis.set(cacheKey(row.id), JSON.stringify(row), 'EX', cacheTtlSeconds);
    } catch (error) {
      log.warn({ err: error }, 'tenant cache write failed');
    }
  }

  /** Drops the cached row; a failure here would serve stale settings, so it is an error. */
  async function invalidate(id: string): Promise<void> {
    try {
      await redis.del(cacheKey(id));
    } catch (error) {
      throw new AppError('unavailable', 'Redis is unreachable', { cause: error });
    }
  }

  async function get(id: string): Promise<TenantRow | undefined> {
    const cached = await readCache(id);
    if (cached !== undefined) return cached;
    const row = await database.withTenant(id, async (tx) => {
      const [found] = await tx.select().from(tenants).where(eq(tenants.id, id));
      return found;
    });
    if (row !== undefined) await writeCache(row);
    return row;
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

  return { get, getBySlug, create, list, update, remove, invalidate };
}

export type TenantsRepository = ReturnType<typeof createTenantsRepository>;
