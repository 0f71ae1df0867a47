// Daily usage per tenant.
import { and, asc, eq, gte, lte } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { recordUsage } from './sessions.ts';
import { usageDaily } from '../db/schema.ts';

export function createUsageRepository(deps: { database: Database }) {
  const { database } = deps;
  return {
    /** Counts one request and its tokens for today (the stateless completions endpoint). */
    async record(input: { tenantId: string; promptTokens: number; completionTokens: number }) {
      await database.withTenant(input.tenantId, (tx) => recordUsage(tx, input));
    },

    async list(input: { tenantId: string; from: string; to: string }) {
      return database.withTenant(input.tenantId, (tx) =>
        tx
          .select({
            day: usageDaily.day,
            requests: usageDaily.requests,
            promptTokens: usageDaily.promptTokens,
            completionTokens: usageDaily.completionTokens,
          })
          .from(usageDaily)
          .where(
            and(
              eq(usageDaily.tenantId, input.tenantId),
              gte(usageDaily.day, input.from),
              lte(usageDaily.day, input.to),
            ),
          )
          .orderBy(asc(usageDaily.day)),
      );
    },
  };
}
