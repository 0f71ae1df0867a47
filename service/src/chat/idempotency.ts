// Idempotency-Key on POST message (API.md): a retry with the same key and body within 24
// hours gets the first completed result without a second provider call; a concurrent
// duplicate waits for the first; the same key with another body is 409; a first attempt
// that failed is not replayed.
import { createHash } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { IdempotencyRepository, IdempotencyScope } from '../repositories/idempotency.ts';

const POLL_MS = 100;
/** A pending record this old has lost its holder (a crashed replica): it may be taken over. */
const STALE_PENDING_MS = 10 * 60_000;

export function requestHash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export type IdempotentOutcome<T> = { replayed: false; result: T } | { replayed: true; result: T };

export async function runIdempotent<T>(
  repository: IdempotencyRepository,
  scope: IdempotencyScope,
  hash: string,
  work: () => Promise<T>,
  options: { waitMs: number; signal?: AbortSignal },
): Promise<IdempotentOutcome<T>> {
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    if (await repository.claim(scope, hash)) {
      let result: T;
      try {
        result = await work();
      } catch (error) {
        await repository.release(scope).catch(() => undefined);
        throw error;
      }
      await repository.complete(scope, result);
      return { replayed: false, result };
    }
    const existing = await repository.get(scope);
    if (existing === undefined) continue; // released or expired meanwhile: claim again
    if (existing.requestHash !== hash) {
      throw new AppError('conflict', 'this Idempotency-Key was used with another request');
    }
    if (existing.state === 'complete') return { replayed: true, result: existing.response as T };
    if (Date.now() - existing.updatedAt.getTime() > STALE_PENDING_MS) {
      await repository.releaseStale(scope, new Date(Date.now() - STALE_PENDING_MS));
      continue;
    }
    if (Date.now() > deadline || options.signal?.aborted === true) {
      throw new AppError('conflict', 'a request with this Idempotency-Key is still in progress');
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
