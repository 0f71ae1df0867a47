// Idempotency-Key records in Postgres: claimed as pending, completed with the first result,
// deleted when the first attempt fails (so a retry runs), forgotten after 24 hours.
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { idempotencyKeys, type IdempotencyKeyRow } from '../db/schema.ts';

export const IDEMPOTENCY_TTL_HOURS = 24;

export interface IdempotencyScope {
  tenantId: string;
  userId: string;
  key: string;
}

const match = (s: IdempotencyScope) =>
  and(
    eq(idempotencyKeys.tenantId, s.tenantId),
    eq(idempotencyKeys.userId, s.userId),
    eq(idempotencyKeys.key, s.key),
  );

export function createIdempotencyRepository(deps: { database: Database }) {
  const { database } = deps;

  return {
    /** Claims the key; undefined when someone holds it already. Expired records are purged first. */
    async claim(scope: IdempotencyScope, requestHash: string): Promise<boolean> {
      return database.withTenant(scope.tenantId, async (tx) => {
        await tx
          .delete(idempotencyKeys)
          .where(
            and(
              eq(idempotencyKeys.tenantId, scope.tenantId),
              lt(idempotencyKeys.createdAt, sql`now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`),
            ),
          );
        const inserted = await tx
          .insert(idempotencyKeys)
          .values({ ...scope, requestHash, state: 'pending' })
          .onConflictDoNothing()
          .returning({ key: idempotencyKeys.key });
        return inserted.length === 1;
      });
    },

    async get(scope: IdempotencyScope): Promise<IdempotencyKeyRow | undefined> {
      return database.withTenant(scope.tenantId, async (tx) => {
        const [row] = await tx.select().from(idempotencyKeys).where(match(scope));
        return row;
      });
    },

    async complete(scope: IdempotencyScope, response: unknown): Promise<void> {
      await database.withTenant(scope.tenantId, (tx) =>
        tx
          .update(idempotencyKeys)
          .set({ state: 'complete', response, updatedAt: new Date() })
          .where(match(scope)),
      );
    },

    async release(scope: IdempotencyScope): Promise<void> {
      await database.withTenant(scope.tenantId, (tx) => tx.delete(idempotencyKeys).where(match(scope)));
    },

    /** Drops a pending record older than `olderThan` (its holder died) so the key can be claimed again. */
    async releaseStale(scope: IdempotencyScope, olderThan: Date): Promise<void> {
      await database.withTenant(scope.tenantId, (tx) =>
        tx
          .delete(idempotencyKeys)
          .where(
            and(match(scope), eq(idempotencyKeys.state, 'pending'), lt(idempotencyKeys.updatedAt, olderThan)),
          ),
      );
    },
  };
}

export type IdempotencyRepository = ReturnType<typeof createIdempotencyRepository>;
