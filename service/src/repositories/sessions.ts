// Chat sessions and their messages, always inside one tenant.
import { and, asc, desc, eq, getTableColumns, gt, lt, or, type Column } from 'drizzle-orm';
import { pgErrorCode, type Database } from '../db/client.ts';
import { tenantGone } from '../errors.ts';
import { messages, sessions, type MessageRow, type MessageSource, type SessionRow } from '../db/schema.ts';

export type NewAssistantMessage = {
  content: string;
  status: 'complete' | 'failed' | 'streaming';
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  error: string | null;
  /** The knowledge-base chunks the model was given; null when the tenant's chat uses none. */
  sources: MessageSource[] | null;
};

const TITLE_LENGTH = 80;

/** What the turn functions raise for a session that is not the caller's (no_data_found). */
const SESSION_NOT_FOUND = 'P0002';

/** What a turn's context needs of an earlier message. */
export type HistoryMessage = Pick<MessageRow, 'role' | 'content'>;

const messageColumns = Object.entries(getTableColumns(messages)) as [keyof MessageRow, Column][];

/** The messages columns by SQL name: what the hot path's statements read back. */
const MESSAGE_COLUMNS = messageColumns.map(([, column]) => column.name);

/**
 * A messages row as postgres.js returns it (the hot path's statements bypass drizzle), mapped
 * as drizzle maps its own rows: each column's value through that column's mapping (timestamps
 * arrive as text, since drizzle switches postgres.js's timestamp parsing off).
 */
function messageFromSql(row: Record<string, unknown>): MessageRow {
  return Object.fromEntries(
    messageColumns.map(([key, column]) => {
      const value = row[column.name];
      return [key, value === null || value === undefined ? null : column.mapFromDriverValue(value)];
    }),
  ) as MessageRow;
}

export function createSessionsRepository(deps: {
  database: Database;
  /** The replica a streaming placeholder names (chat/stream-owner.ts); null: none. */
  streamOwner?: () => number | null;
}) {
  const { database } = deps;
  const sql = database.client;

  async function create(input: {
    tenantId: string;
    userId: string;
    title: string | null;
  }): Promise<SessionRow> {
    return database
      .withTenant(input.tenantId, async (tx) => {
        const [row] = await tx.insert(sessions).values(input).returning();
        return row!;
      })
      .catch((error: unknown) => {
        // foreign_key_violation: the tenant was deleted meanwhile.
        if (pgErrorCode(error) === '23503') throw tenantGone(error);
        throw error;
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
   * A turn's context: the session's complete messages, oldest first, at most `limit`.
   * Undefined when the session is not the caller's. One statement (a SQL function that
   * scopes its transaction to the tenant), one round trip.
   */
  async function turnHistory(input: {
    tenantId: string;
    sessionId: string;
    userId: string;
    limit: number;
  }): Promise<HistoryMessage[] | undefined> {
    const { tenantId, sessionId, userId, limit } = input;
    try {
      const newestFirst = await sql<HistoryMessage[]>`select role, content
          from chatbot_turn_history(${tenantId}, ${sessionId}, ${userId}, ${limit})`;
      return [...newestFirst].reverse();
    } catch (error) {
      if (pgErrorCode(error) === SESSION_NOT_FOUND) return undefined;
      throw error;
    }
  }

  /**
   * Stores the user's message, and with `placeholder` an assistant message in state
   * `streaming` right after it, and touches the session (updated_at; the title from the
   * first message). Undefined when the session is not the caller's (or was just deleted).
   * The placeholder names this replica as its owner (`streamOwner`), so that it is marked
   * failed should the replica die before finishing it. One statement, committed before it answers; `durable: false` does not wait for the
   * commit's WAL flush, for a caller that acknowledges the message only after a durable
   * commit of its own (which flushes this one too).
   */
  async function storeUserMessage(input: {
    tenantId: string;
    sessionId: string;
    userId: string;
    content: string;
    placeholder: boolean;
    durable: boolean;
  }): Promise<{ userMessage: MessageRow; placeholder?: MessageRow } | undefined> {
    const { tenantId, sessionId, userId, content } = input;
    let rows: Record<string, unknown>[];
    try {
      rows = await sql<Record<string, unknown>[]>`select ${sql(MESSAGE_COLUMNS)}
          from chatbot_store_user_message(${tenantId}, ${sessionId}, ${userId}, ${content},
                                          ${content.slice(0, TITLE_LENGTH)}, ${input.placeholder},
                                          ${input.durable},
                                          ${input.placeholder ? (deps.streamOwner?.() ?? null) : null}::integer)`;
    } catch (error) {
      if (pgErrorCode(error) === SESSION_NOT_FOUND) return undefined;
      throw error;
    }
    const stored = rows.map(messageFromSql).sort((x, y) => x.seq - y.seq);
    return { userMessage: stored[0]!, ...(stored[1] ? { placeholder: stored[1] } : {}) };
  }

  /**
   * Stores the assistant's message (a new row, or the streaming placeholder `messageId`)
   * and counts the turn's usage: one statement, one round trip.
   * Undefined when the session (or the placeholder) is gone.
   */
  async function finishTurn(input: {
    tenantId: string;
    sessionId: string;
    messageId?: string;
    reply: NewAssistantMessage;
  }): Promise<MessageRow | undefined> {
    const { tenantId, sessionId, reply } = input;
    try {
      const rows = await sql<Record<string, unknown>[]>`select ${sql(MESSAGE_COLUMNS)}
          from chatbot_finish_turn(${tenantId}, ${sessionId}, ${input.messageId ?? null}, ${utcDay()},
                                   ${reply.content}, ${reply.status}, ${reply.model},
                                   ${reply.promptTokens}, ${reply.completionTokens}, ${reply.error},
                                   ${reply.sources === null ? null : JSON.stringify(reply.sources)}::jsonb)`;
      const row = rows[0];
      return row === undefined ? undefined : messageFromSql(row);
    } catch (error) {
      // foreign_key_violation: the session was deleted while the model answered.
      if (pgErrorCode(error) === '23503') return undefined;
      throw error;
    }
  }

  /**
   * Removes a user message whose turn nobody saw (a whole turn whose client went away before
   * the reply), so that the turn leaves nothing behind.
   */
  async function withdrawUserMessage(input: {
    tenantId: string;
    sessionId: string;
    messageId: string;
  }): Promise<void> {
    await database.withTenant(input.tenantId, (tx) =>
      tx
        .delete(messages)
        .where(
          and(
            eq(messages.tenantId, input.tenantId),
            eq(messages.sessionId, input.sessionId),
            eq(messages.id, input.messageId),
          ),
        ),
    );
  }

  return {
    create,
    list,
    get,
    remove,
    listMessages,
    turnHistory,
    storeUserMessage,
    finishTurn,
    withdrawUserMessage,
  };
}

/** Today in UTC, as usage_daily counts days. */
export const utcDay = (): string => new Date().toISOString().slice(0, 10);

export type SessionsRepository = ReturnType<typeof createSessionsRepository>;
