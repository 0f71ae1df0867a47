// Idempotency-Key on POST message (API.md): a retry with the same key and body within 24
// hours gets the first completed result without a second provider call; a concurrent
// duplicate waits for the first; the same key with another body is 409; a first attempt
// that failed is not replayed.
//
// Waiting costs the database nothing per waiter. The waiters of one key in this process share
// one watch: the first to arrive claims and reads the record; the others join the watch
// without a query. The watch reads the record again only when woken: by the process that
// finished the first request (a Redis message, or at once when it is this one), or by a
// check about every RECHECK_MS while anyone waits, should a message be lost or the first
// request's process die. A waiter whose client leaves stops waiting; a watch without waiters
// is dropped with its timer.
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError } from '../errors.ts';
import type { IdempotencyRepository, IdempotencyScope } from '../repositories/idempotency.ts';

/** A pending record this old has lost its holder (a crashed replica): it may be taken over. */
const STALE_PENDING_MS = 10 * 60_000;
/** How often a watch reads its record while nothing wakes it. */
const RECHECK_MS = 1000;
/** Where every replica says that a key's first request finished (the message: the key's id). */
export const IDEMPOTENCY_CHANNEL = 'chatbot:idempotency:done';

export function requestHash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export type IdempotentOutcome<T> = { replayed: false; result: T } | { replayed: true; result: T };

/** How a wait ended: the first request's result, or the key is free to claim. */
type Woken = { kind: 'complete'; response: unknown } | { kind: 'free' };

interface Waiter {
  hash: string;
  resolve(woken: Woken): void;
  reject(error: unknown): void;
}

interface Watch {
  scope: IdempotencyScope;
  /** The request hash of the record, as last read. */
  hash: string;
  waiters: Set<Waiter>;
  timer: NodeJS.Timeout;
  checking: boolean;
  again: boolean;
}

const keyId = (s: IdempotencyScope) => requestHash([s.tenantId, s.userId, s.key]);
const conflict = () => new AppError('conflict', 'this Idempotency-Key was used with another request');
const stillRunning = () =>
  new AppError('conflict', 'a request with this Idempotency-Key is still in progress');
/** For a waiter whose client left: nobody reads it, and it is no server error. */
const clientLeft = () =>
  new AppError('conflict', 'the client left while a request with this Idempotency-Key was in progress');

export function createIdempotency(deps: {
  repository: IdempotencyRepository;
  /** Publishes that a key's first request finished. */
  redis: Redis;
  /** Requests waiting now. */
  waiting: { inc(): void; dec(): void };
  log: FastifyBaseLogger;
}) {
  const { repository } = deps;
  const watches = new Map<string, Watch>();
  /** Keys whose first request runs in this process, with its request hash. */
  const held = new Map<string, string>();
  /**
   * Keys a request of this process is claiming or reading right now; each settles with the
   * completed record when it found one.
   */
  const probing = new Map<string, Promise<{ hash: string; response: unknown } | undefined>>();
  let subscriber: Redis | undefined;

  /**
   * Listens for finished keys, from the first wait of this process on: a connection of its
   * own, which ioredis reconnects and subscribes again by itself. Until it listens (or while
   * Redis is away) the watches' own checks carry on.
   */
  function subscribe(): void {
    if (subscriber !== undefined) return;
    subscriber = deps.redis.duplicate({
      lazyConnect: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
    });
    subscriber.on('error', (error) => deps.log.warn({ err: error }, 'idempotency subscriber error'));
    subscriber.on('message', (_channel: string, id: string) => void check(id));
    subscriber.subscribe(IDEMPOTENCY_CHANNEL).catch((error: unknown) => {
      deps.log.warn(
        { err: error },
        'cannot subscribe to finished Idempotency-Keys; waiters check each second',
      );
    });
  }

  /** Tells every replica (and this one at once) that the key's first request finished. */
  function announce(scope: IdempotencyScope): void {
    const id = keyId(scope);
    void check(id);
    deps.redis.publish(IDEMPOTENCY_CHANNEL, id).catch((error: unknown) => {
      deps.log.warn(
        { err: error },
        'could not announce a finished Idempotency-Key; waiters check each second',
      );
    });
  }

  function remove(id: string, watch: Watch, waiter: Waiter): void {
    if (!watch.waiters.delete(waiter)) return;
    deps.waiting.dec();
    if (watch.waiters.size === 0 && watches.get(id) === watch) {
      clearInterval(watch.timer);
      watches.delete(id);
    }
  }

  /** Reads the watched record once and wakes whom it concerns; a wake during the read reads again. */
  async function check(id: string): Promise<void> {
    const watch = watches.get(id);
    if (watch === undefined) return;
    if (watch.checking) {
      watch.again = true;
      return;
    }
    watch.checking = true;
    try {
      do {
        watch.again = false;
        let row = await repository.get(watch.scope);
        if (row?.state === 'pending' && Date.now() - row.updatedAt.getTime() > STALE_PENDING_MS) {
          await repository.releaseStale(watch.scope, new Date(Date.now() - STALE_PENDING_MS));
          row = undefined;
        }
        if (row === undefined) {
          // Free (the first attempt failed, or its record expired): one waiter claims it, and the
          // others wait for that one.
          const next = watch.waiters.values().next();
          if (!next.done) {
            remove(id, watch, next.value);
            next.value.resolve({ kind: 'free' });
          }
          continue;
        }
        watch.hash = row.requestHash;
        if (row.state === 'pending') continue;
        for (const waiter of [...watch.waiters]) {
          remove(id, watch, waiter);
          if (waiter.hash === row.requestHash) waiter.resolve({ kind: 'complete', response: row.response });
          else waiter.reject(conflict());
        }
      } while (watch.again && watch.waiters.size > 0);
    } catch (error) {
      deps.log.warn({ err: error }, 'reading an Idempotency-Key record failed; its waiters check again');
    } finally {
      watch.checking = false;
    }
  }

  /** Waits for the watched key: until woken, past `deadline` (409), or until `signal` aborts. */
  function wait(
    scope: IdempotencyScope,
    hash: string,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<Woken> {
    // Left while the record was read: no abort event will come.
    if (signal?.aborted === true) return Promise.reject(clientLeft());
    const id = keyId(scope);
    let watch = watches.get(id);
    if (watch === undefined) {
      watch = {
        scope,
        hash,
        waiters: new Set(),
        timer: setInterval(() => void check(id), RECHECK_MS),
        checking: false,
        again: false,
      };
      watch.timer.unref();
      watches.set(id, watch);
    }
    const joined = watch;
    return new Promise<Woken>((resolve, reject) => {
      const done = () => {
        clearTimeout(timeout);
        signal?.removeEventListener('abort', leave);
      };
      const waiter: Waiter = {
        hash,
        resolve: (woken) => {
          done();
          resolve(woken);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const giveUp = (error: unknown) => {
        remove(id, joined, waiter);
        waiter.reject(error);
      };
      const leave = () => giveUp(clientLeft());
      const timeout = setTimeout(() => giveUp(stillRunning()), Math.max(0, deadline - Date.now()));
      signal?.addEventListener('abort', leave, { once: true });
      joined.waiters.add(waiter);
      deps.waiting.inc();
    });
  }

  async function run<T>(
    scope: IdempotencyScope,
    hash: string,
    work: () => Promise<T>,
    options: { waitMs: number; signal?: AbortSignal },
  ): Promise<IdempotentOutcome<T>> {
    const deadline = Date.now() + options.waitMs;
    const { signal } = options;
    const id = keyId(scope);
    /** Woken because the key is free: claim it rather than join the others again. */
    let claim = false;
    for (;;) {
      if (signal?.aborted === true) throw clientLeft();
      // What this process knows of the key: someone here holds it, or waits for it.
      const known = claim ? undefined : (held.get(id) ?? watches.get(id)?.hash);
      let woken: Promise<Woken>;
      if (known !== undefined) {
        if (known !== hash) throw conflict();
        woken = wait(scope, hash, deadline, signal);
      } else {
        const probe = probing.get(id);
        if (probe !== undefined) {
          // Another request of this process is asking the database about this key: its answer
          // (a completed record, a holder or a watch here) serves this one too.
          const completed = await probe;
          if (completed === undefined) continue;
          if (completed.hash !== hash) throw conflict();
          return { replayed: true, result: completed.response as T };
        }
        claim = false;
        let probed!: (completed: { hash: string; response: unknown } | undefined) => void;
        probing.set(id, new Promise((resolve) => (probed = resolve)));
        let next: { woken: Promise<Woken> } | { replay: unknown } | 'claimed' | 'again' | undefined;
        try {
          next = await probeKey(scope, hash, deadline, signal);
        } finally {
          probing.delete(id);
          probed(
            next !== undefined && typeof next === 'object' && 'replay' in next
              ? { hash, response: next.replay }
              : undefined,
          );
        }
        if (next === 'again') continue;
        if (next === 'claimed') return { replayed: false, result: await hold(scope, id, hash, work) };
        if ('replay' in next) return { replayed: true, result: next.replay as T };
        woken = next.woken;
      }
      const outcome = await woken;
      if (outcome.kind === 'complete') return { replayed: true, result: outcome.response as T };
      claim = true;
    }
  }

  /**
   * Claims the key, or reads its record: a replay, a wait (registered before this returns, so
   * that requests behind this probe join it), or `again` when it changed meanwhile.
   */
  async function probeKey(scope: IdempotencyScope, hash: string, deadline: number, signal?: AbortSignal) {
    if (await repository.claim(scope, hash)) {
      held.set(keyId(scope), hash);
      return 'claimed' as const;
    }
    subscribe();
    const existing = await repository.get(scope);
    if (existing === undefined) return 'again' as const; // released or expired meanwhile
    if (existing.requestHash !== hash) throw conflict();
    if (existing.state === 'complete') return { replay: existing.response };
    if (Date.now() - existing.updatedAt.getTime() > STALE_PENDING_MS) {
      await repository.releaseStale(scope, new Date(Date.now() - STALE_PENDING_MS));
      return 'again' as const;
    }
    if (Date.now() > deadline) throw stillRunning();
    return { woken: wait(scope, hash, deadline, signal) };
  }

  /** Runs the first request of a key; its result (or its failure) is announced to the waiters. */
  async function hold<T>(scope: IdempotencyScope, id: string, hash: string, work: () => Promise<T>) {
    try {
      let result: T;
      try {
        result = await work();
      } catch (error) {
        await repository.release(scope).catch(() => undefined);
        throw error;
      }
      await repository.complete(scope, result);
      return result;
    } finally {
      if (held.get(id) === hash) held.delete(id);
      announce(scope);
    }
  }

  /** Stops listening; whoever still waits is told the service is going away. */
  function close(): void {
    for (const [id, watch] of watches) {
      for (const waiter of [...watch.waiters]) {
        remove(id, watch, waiter);
        waiter.reject(new AppError('unavailable', 'the service is shutting down'));
      }
      clearInterval(watch.timer);
    }
    watches.clear();
    subscriber?.disconnect();
  }

  return { run, close };
}

export type Idempotency = ReturnType<typeof createIdempotency>;
