// Chat sessions and their messages, always inside one tenant.
import { and, asc, desc, eq, gt, lt, or, sql } from 'drizzle-orm';
import type { Database, Tx } from '../db/client.ts';
import { messages, sessions, usageDaily, type MessageRow, type SessionRow } from '../db/schema.ts';

export type NewAssistantMessage = {
  content: string;
  status: 'complete' | 'failed' | 'streaming';
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  error: string | null;
};

const TITLE_LENGTH = 80;

export function createSessionsRepository(deps: { database: Database }) {
  const { database } = deps;

  async function create(input: {
    tenantId: string;
    userId: string;
    title: string | null;
  }): Promise<SessionRow> {
    return database.withTenant(input.tenantId, async (tx) => {
      const [row] = await tx.insert(sessions).values(input).returning();
      return row!;
    });
  }

  async function list(input: {
    tenantId: string;
    userId: string | undefined;
    limit: number;
    after?: readonly [string, string];
  }): Promise<SessionRow[]> {
    const { tenantId, userId, after } = input;
    return database.withTenant(tenantId, (tx) =>
      tx
        .select()
        .from(sessions)
        .where(
          and(
            eq(sessions.tenantId, tenantId),
            userId === undefined ? undefined : eq(sessions.userId, userId),
            after === undefined
              ? undefined
              : or(
                  lt(sessions.updatedAt, new Date(after[0])),
                  and(eq(sessions.updatedAt, new Date(after[0])), lt(sessions.id, after[1])),
                ),
          ),
        )
        .orderBy(desc(sessions.updatedAt), desc(sessions.id))
        .limit(input.limit + 1),
    );
  }

  async function get(input: { tenantId: string; id: string }): Promise<SessionRow | undefined> {
    return database.withTenant(input.tenantId, async (tx) => {
      const [row] = await tx
        .select()
        .from(sessions)
        .where(and(eq(sessions.tenantId, input.tenantId), eq(sessions.id, input.id)));
      return row;
    });
  }

  async function remove(input: { tenantId: string; id: string }): Promise<void> {
    await database.withTenant(input.tenantId, (tx) =>
      tx.delete(sessions).where(and(eq(sessions.tenantId, input.tenantId), eq(sessions.id, input.id))),
    );
  }

  async function listMessages(input: {
    tenantId: string;
    sessionId: string;
    limit: number;
    afterSeq?: number;
  }): Promise<MessageRow[]> {
    const { tenantId, sessionId, afterSeq } = input;
    return database.withTenant(tenantId, (tx) =>
      tx
        .select()
        .from(messages)
        .where(
          and(
            eq(messages.tenantId, tenantId),
            eq(messages.sessionId, sessionId),
            afterSeq === undefined ? undefined : gt(messages.seq, afterSeq),
          ),
        )
        .orderBy(asc(messages.seq))
        .limit(input.limit + 1),
    );
  }

  /**
   * Starts a turn in one transaction: checks the session is the caller's, reads its
   * conversation (complete messages, oldest first, at most `historyLimit`), lets `admit`
   * see it (the rate limiter reserves here; throwing rolls everything back), then stores
   * the user message, and with `placeholder` an assistant message in state `streaming`.
   * Undefined when the session is not the caller's.
   */
  async function beginTurn<A>(input: {
    tenantId: string;
    sessionId: string;
    userId: string;
    content: string;
    historyLimit: number;
    placeholder: boolean;
    admit: (history: MessageRow[]) => Promise<A>;
  }): Promise<
    { userMessage: MessageRow; history: MessageRow[]; admitted: A; placeholder?: MessageRow } | undefined
  > {
    const { tenantId, sessionId, userId, content } = input;
    return database.withTenant(tenantId, async (tx) => {
      const [session] = await tx
        .update(sessions)
        .set({
          updatedAt: sql`now()`,
          title: sql`coalesce(${sessions.title}, ${content.slice(0, TITLE_LENGTH)})`,
        })
        .where(and(eq(sessions.tenantId, tenantId), eq(sessions.id, sessionId), eq(sessions.userId, userId)))
        .returning({ id: sessions.id });
      if (session === undefined) return undefined;
      const history = (
        await tx
          .select()
          .from(messages)
          .where(
            and(
              eq(messages.tenantId, tenantId),
              eq(messages.sessionId, sessionId),
              eq(messages.status, 'complete'),
            ),
          )
          .orderBy(desc(messages.seq))
          .limit(input.historyLimit)
      ).reverse();
      const admitted = await input.admit(history);
      const rows = await tx
        .insert(messages)
        .values([
          { tenantId, sessionId, role: 'user' as const, content, status: 'complete' as const },
          ...(input.placeholder
            ? [{ tenantId, sessionId, role: 'assistant' as const, content: '', status: 'streaming' as const }]
            : []),
        ])
        .returning();
      rows.sort((x, y) => x.seq - y.seq);
      return { userMessage: rows[0]!, history, admitted, ...(rows[1] ? { placeholder: rows[1] } : {}) };
    });
  }

  /**
   * Stores the assistant's message (a new row, or the streaming placeholder `messageId`)
   * and counts the turn's usage, in one transaction.
   */
  async function finishTurn(input: {
    tenantId: string;
    sessionId: string;
    messageId?: string;
    reply: NewAssistantMessage;
  }): Promise<MessageRow | undefined> {
    const { tenantId, sessionId, reply } = input;
    return database.withTenant(tenantId, async (tx) => {
      const [row] =
        input.messageId === undefined
          ? await tx
              .insert(messages)
              .values({ tenantId, sessionId, role: 'assistant', ...reply })
              .returning()
          : await tx
              .update(messages)
              .set(reply)
              .where(and(eq(messages.tenantId, tenantId), eq(messages.id, input.messageId)))
              .returning();
      await recordUsage(tx, {
        tenantId,
        promptTokens: reply.promptTokens ?? 0,
        completionTokens: reply.completionTokens ?? 0,
      });
      return row;
    });
  }

  return { create, list, get, remove, listMessages, beginTurn, finishTurn };
}

/** Adds one request and its tokens to the tenant's usage of the current UTC day. */
export async function recordUsage(
  tx: Tx,
  input: { tenantId: string; promptTokens: number; completionTokens: number },
): Promise<void> {
  const day = new Date().toISOString().slice(0, 10);
  await tx
    .insert(usageDaily)
    .values({
      tenantId: input.tenantId,
      day,
      requests: 1,
      promptTokens: input.promptTokens,
      completionTokens: input.completionTokens,
    })
    .onConflictDoUpdate({
      target: [usageDaily.tenantId, usageDaily.day],
      set: {
        requests: sql`${usageDaily.requests} + 1`,
        promptTokens: sql`${usageDaily.promptTokens} + ${input.promptTokens}`,
        completionTokens: sql`${usageDaily.completionTokens} + ${input.completionTokens}`,
      },
    });
}

export type SessionsRepository = ReturnType<typeof createSessionsRepository>;
