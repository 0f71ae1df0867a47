// Daily usage per tenant.
import { and, asc, eq, gte, lte } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { utcDay } from './sessions.ts';
import { usageDaily } from '../db/schema.ts';

export function createUsageRepository(deps: { database: Database }) {
  const { database } = deps;
  return {
    /** Counts one request and its tokens for today (the stateless completions endpoint): one statement. */
    async record(input: { tenantId: string; promptTokens: number; completionTokens: number }) {
      const sql = database.client;
      await sql`select chatbot_record_usage(${input.tenantId}, ${utcDay()}, ${input.promptTokens}, ${input.completionTokens})`;
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

export type UsageRepository = ReturnType<typeof createUsageRepository>;
