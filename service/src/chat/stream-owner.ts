// Who streams a reply (issue 16, item 12). Each replica holds a session-level advisory lock
// (STREAM_LOCK_CLASS, its id) on a connection of its own for as long as it lives, and the
// streaming placeholders it stores name it (messages.stream_owner). Postgres drops the lock
// with the connection when the replica dies (killed, crashed), so a reply whose owner's lock
// nobody holds is no longer streaming: chatbot_fail_orphaned_streams (migration 0010) marks
// such replies failed, at start and every SWEEP_MS. The lock is taken again whenever its
// connection is lost (a database restart); placeholders stored while it is not held name no
// owner, and are failed only once they are old (UNOWNED_AGE).
//
// A lock query that outlives LOCK_DEADLINE_MS is given up with its connection: postgres.js's
// single-connection client has been seen to stop reading a connection after a database
// restart (the answer left unread in the socket), and the lock would never be taken again.
// The connection is ended (which drops any lock it did take) and a new one tries.
import { randomInt } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import postgres from 'postgres';
import type { Database } from '../db/client.ts';

/** The advisory locks' first key ('chst'): the second is a replica's id. */
export const STREAM_LOCK_CLASS = 0x63687374;
const SWEEP_MS = 60_000;
/** A placeholder naming no owner (stored before 0010, or while the lock was lost) fails this old. */
const UNOWNED_AGE = '1 hour';
const RETRY_MS = { first: 500, most: 10_000 };
/** How long a lock query may take before its connection is replaced. */
const LOCK_DEADLINE_MS = 10_000;

export interface StreamOwner {
  /** The id a placeholder stored now names: null while this replica does not hold its lock. */
  current(): number | null;
  /** Marks failed the replies of replicas that are gone; how many. */
  sweep(): Promise<number>;
  start(): void;
  close(): Promise<void>;
}

export function createStreamOwner(deps: {
  databaseUrl: string;
  database: Pick<Database, 'client'>;
  log: FastifyBaseLogger;
  /** LOCK_DEADLINE_MS unless given (tests). */
  lockDeadlineMs?: number;
}): StreamOwner {
  const { log } = deps;
  const lockDeadlineMs = deps.lockDeadlineMs ?? LOCK_DEADLINE_MS;
  let id = randomInt(1, 2 ** 31 - 1);
  let held = false;
  let closing = false;
  let retryMs = RETRY_MS.first;
  let retry: NodeJS.Timeout | undefined;
  let sweeper: NodeJS.Timeout | undefined;

  // One connection of its own, never closed for idleness or age: the lock lives as long as it.
  const connect = (): postgres.Sql => {
    const client = postgres(deps.databaseUrl, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      connect_timeout: 5,
      onnotice: () => {},
      connection: { application_name: 'chatbot-service-stream-owner' },
      onclose: () => {
        if (client !== lockClient) return;
        held = false;
        if (!closing) lockSoon(retryMs);
      },
    });
    return client;
  };
  let lockClient = connect();

  /** Ends a connection given up on, and lets a new one take the lock. */
  function replace(stale: postgres.Sql): void {
    if (stale !== lockClient) return;
    held = false;
    lockClient = connect();
    stale.end({ timeout: 0 }).catch(() => {});
  }

  async function lock(): Promise<void> {
    retry = undefined;
    if (closing || held) return;
    const client = lockClient;
    let deadline: NodeJS.Timeout | undefined;
    const stalled = new Promise<'stalled'>((resolve) => {
      deadline = setTimeout(() => resolve('stalled'), lockDeadlineMs);
      deadline.unref();
    });
    try {
      const answer = await Promise.race([
        client<{ locked: boolean }[]>`
          select pg_try_advisory_lock(${STREAM_LOCK_CLASS}, ${id}) as locked`,
        stalled,
      ]);
      if (answer === 'stalled') {
        log.warn(
          { deadlineMs: lockDeadlineMs },
          'the stream-owner lock query got no answer in time; trying on a new connection',
        );
        replace(client);
        lockSoon(0);
        return;
      }
      if (client !== lockClient) return;
      if (answer[0]?.locked === true) {
        held = true;
        retryMs = RETRY_MS.first;
        return;
      }
      // Another live replica drew the same id: draw again.
      id = randomInt(1, 2 ** 31 - 1);
      lockSoon(0);
    } catch (error) {
      if (client !== lockClient) return;
      log.warn({ err: error }, 'could not take the stream-owner lock; retrying');
      lockSoon(retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MS.most);
    } finally {
      clearTimeout(deadline);
    }
  }

  function lockSoon(delayMs: number): void {
    if (closing || retry !== undefined) return;
    retry = setTimeout(() => void lock(), delayMs);
    retry.unref();
  }

  async function sweep(): Promise<number> {
    const [row] = await deps.database.client<{ marked: number }[]>`
      select chatbot_fail_orphaned_streams(${STREAM_LOCK_CLASS}, ${UNOWNED_AGE}::interval) as marked`;
    const marked = row?.marked ?? 0;
    if (marked > 0)
      log.warn({ marked }, 'replies left streaming by a replica that is gone are marked failed');
    return marked;
  }

  function sweepQuietly(): void {
    sweep().catch((error: unknown) => log.warn({ err: error }, 'could not look for orphaned streams'));
  }

  return {
    current: () => (held ? id : null),
    sweep,
    start() {
      void lock().then(sweepQuietly);
      sweeper = setInterval(sweepQuietly, SWEEP_MS);
      sweeper.unref();
    },
    async close() {
      closing = true;
      clearTimeout(retry);
      clearInterval(sweeper);
      await lockClient.end({ timeout: 5 });
    },
  };
}
