// Chat sessions and their messages, always inside one tenant.
import { and, asc, desc, eq, gt, lt, or } from 'drizzle-orm';
import type postgres from 'postgres';
import { pgErrorCode, type Database } from '../db/client.ts';
import { messages, sessions, type MessageRow, type SessionRow } from '../db/schema.ts';

export type NewAssistantMessage = {
  content: string;
  status: 'complete' | 'failed' | 'streaming';
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  error: string | null;
};

const TITLE_LENGTH = 80;

/** What a turn's context needs of an earlier message. */
export type HistoryMessage = Pick<MessageRow, 'role' | 'content'>;

/** A messages row as postgres.js returns it (the hot path's statements bypass drizzle). */
interface MessageSqlRow {
  id: string;
  seq: string;
  tenant_id: string;
  session_id: string;
  role: MessageRow['role'];
  content: string;
  status: MessageRow['status'];
  model: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  error: string | null;
  /** Text: drizzle switches postgres.js's timestamp parsing off for its own mapping. */
  created_at: string;
}

function messageFromSql(row: MessageSqlRow): MessageRow {
  return {
    id: row.id,
    seq: Number(row.seq),
    tenantId: row.tenant_id,
    sessionId: row.session_id,
    role: row.role,
    content: row.content,
    status: row.status,
    model: row.model,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    error: row.error,
    createdAt: new Date(row.created_at),
  };
}

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
   * Undefined when the session is not the caller's. Two round trips: the session update
   * and the history go out with BEGIN, the insert with COMMIT.
   */
  async function beginTurn<A>(input: {
    tenantId: string;
    sessionId: string;
    userId: string;
    content: string;
    historyLimit: number;
    placeholder: boolean;
    admit: (history: HistoryMessage[]) => Promise<A>;
  }): Promise<
    { userMessage: MessageRow; history: HistoryMessage[]; admitted: A; placeholder?: MessageRow } | undefined
  > {
    const { tenantId, sessionId, userId, content } = input;
    return database.pipeline({ tenantId }, async ({ sql, commitWith }) => {
      // Two statements rather than one: the history is read after the session's row lock
      // is held, so a concurrent turn in the same session is seen once it committed.
      const [session, newestFirst] = await Promise.all([
        sql`update sessions set updated_at = now(), title = coalesce(title, ${content.slice(0, TITLE_LENGTH)})
             where tenant_id = ${tenantId} and id = ${sessionId} and user_id = ${userId}
             returning id`.execute(),
        sql<HistoryMessage[]>`select role, content from messages
             where tenant_id = ${tenantId} and session_id = ${sessionId} and status = 'complete'
             order by seq desc limit ${input.historyLimit}`.execute(),
      ]);
      if (session.length === 0) return undefined;
      const history = [...newestFirst].reverse();
      const admitted = await input.admit(history);
      const rows = await commitWith(
        input.placeholder
          ? sql<MessageSqlRow[]>`insert into messages (tenant_id, session_id, role, content, status)
               values (${tenantId}, ${sessionId}, 'user', ${content}, 'complete'),
                      (${tenantId}, ${sessionId}, 'assistant', '', 'streaming')
               returning id, seq, tenant_id, session_id, role, content, status, model, prompt_tokens, completion_tokens, error, created_at`
          : sql<MessageSqlRow[]>`insert into messages (tenant_id, session_id, role, content, status)
               values (${tenantId}, ${sessionId}, 'user', ${content}, 'complete')
               returning id, seq, tenant_id, session_id, role, content, status, model, prompt_tokens, completion_tokens, error, created_at`,
      );
      const stored = rows.map(messageFromSql).sort((x, y) => x.seq - y.seq);
      return { userMessage: stored[0]!, history, admitted, ...(stored[1] ? { placeholder: stored[1] } : {}) };
    });
  }

  /**
   * Stores the assistant's message (a new row, or the streaming placeholder `messageId`)
   * and counts the turn's usage: one statement, sent with BEGIN and COMMIT in one round trip.
   * Undefined when the session (or the placeholder) is gone.
   */
  async function finishTurn(input: {
    tenantId: string;
    sessionId: string;
    messageId?: string;
    reply: NewAssistantMessage;
  }): Promise<MessageRow | undefined> {
    const { tenantId, sessionId, reply } = input;
    const day = utcDay();
    try {
      const rows = await database.pipeline({ tenantId }, ({ sql, commitWith }) => {
        const usage = usageUpsert(sql, {
          tenantId,
          day,
          promptTokens: reply.promptTokens ?? 0,
          completionTokens: reply.completionTokens ?? 0,
        });
        return commitWith(
          input.messageId === undefined
            ? sql<MessageSqlRow[]>`with m as (
                  insert into messages (tenant_id, session_id, role, content, status, model, prompt_tokens, completion_tokens, error)
                  values (${tenantId}, ${sessionId}, 'assistant', ${reply.content}, ${reply.status}, ${reply.model},
                          ${reply.promptTokens}, ${reply.completionTokens}, ${reply.error})
                  returning id, seq, tenant_id, session_id, role, content, status, model, prompt_tokens, completion_tokens, error, created_at),
                u as (${usage})
                select * from m`
            : sql<MessageSqlRow[]>`with m as (
                  update messages set content = ${reply.content}, status = ${reply.status}, model = ${reply.model},
                         prompt_tokens = ${reply.promptTokens}, completion_tokens = ${reply.completionTokens},
                         error = ${reply.error}
                   where tenant_id = ${tenantId} and id = ${input.messageId}
                  returning id, seq, tenant_id, session_id, role, content, status, model, prompt_tokens, completion_tokens, error, created_at),
                u as (${usage})
                select * from m`,
        );
      });
      const row = rows[0];
      return row === undefined ? undefined : messageFromSql(row);
    } catch (error) {
      // foreign_key_violation: the session was deleted while the model answered.
      if (pgErrorCode(error) === '23503') return undefined;
      throw error;
    }
  }

  return { create, list, get, remove, listMessages, beginTurn, finishTurn };
}

/** Today in UTC, as usage_daily counts days. */
export const utcDay = (): string => new Date().toISOString().slice(0, 10);

/** Adds one request and its tokens to the tenant's usage of the day: a statement to send or nest. */
export function usageUpsert(
  sql: postgres.Sql,
  input: { tenantId: string; day: string; promptTokens: number; completionTokens: number },
) {
  return sql`insert into usage_daily (tenant_id, day, requests, prompt_tokens, completion_tokens)
      values (${input.tenantId}, ${input.day}, 1, ${input.promptTokens}, ${input.completionTokens})
      on conflict (tenant_id, day) do update set
        requests = usage_daily.requests + 1,
        prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens`;
}

export type SessionsRepository = ReturnType<typeof createSessionsRepository>;
