// Issue 16, item 8: the token budget charges turns longer than the window (a settlement
// after the reservation left the window still counts), and its counters never go negative.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createRateLimiter } from '../src/chat/rate-limit.ts';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
let redis: Redis;
const WINDOW_MS = 60_000;

beforeAll(async () => {
  svc = await startTestService();
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  redis?.disconnect();
  await svc?.close();
});

const tokensKey = (tenantId: string) => `chatbot:rl:{${tenantId}}:tok`;
const sumKey = (tenantId: string) => `chatbot:rl:{${tenantId}}:toksum`;

async function tenantWith(rateLimit: { rpm: number; tpm: number }) {
  const t = await svc.createTenant();
  const res = await svc.request('PATCH', `/v1/tenants/${t.id}`, {
    token: svc.platformToken,
    body: { settings: { rateLimit } },
  });
  expect(res.status).toBe(200);
  return t;
}

function complete(token: string) {
  // 40 characters of context (10 tokens) + 100 of max output: 110 reserved; the stub answers
  // "one two three" in three pieces: 13 tokens used.
  return svc.request('POST', '/v1/chat/completions', {
    token,
    body: { messages: [{ role: 'user', content: 'x'.repeat(40) }], max_tokens: 100 },
  });
}

const remainingTokens = (res: { headers: Headers }) =>
  Number(res.headers.get('x-ratelimit-remaining-tokens'));

/**
 * Starts a turn whose model call waits until released, then makes its reservation look as old
 * as the window (what a turn that outlasts the window leaves behind), as the next turn sees it.
 */
async function outlastingTurn(t: { id: string; userToken: string }) {
  let release!: () => void;
  const hold = new Promise<void>((resolve) => (release = resolve));
  const calls = svc.stub.requests.length;
  svc.stub.enqueue({ kind: 'reply', content: 'one two three', hold });
  const answer = complete(t.userToken);
  await vi.waitFor(() => expect(svc.stub.requests.length).toBe(calls + 1), { timeout: 30_000 });
  const [member] = await redis.zrange(tokensKey(t.id), '0', '-1');
  expect(member).toMatch(/:110$/);
  const [seconds, micros] = await redis.time();
  const longAgo = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - WINDOW_MS - 1000;
  await redis.zadd(tokensKey(t.id), String(longAgo), member!);
  return { release, answer };
}

describe('the token budget charges turns longer than the window', () => {
  it('charges a turn whose reservation left the window before it settled (another turn pruned it meanwhile)', async () => {
    svc.stub.reset();
    svc.stub.setDefault({ kind: 'reply', content: 'one two three' });
    const t = await tenantWith({ rpm: 1000, tpm: 1000 });
    const long = await outlastingTurn(t);
    // Another turn meanwhile: its reservation pushes the old one out of the window.
    const other = await complete(t.userToken);
    expect(other.status).toBe(200);
    expect(remainingTokens(other)).toBe(1000 - 110);
    long.release();
    expect((await long.answer).status).toBe(200);
    // Both turns' real usage (13 each) counts, and this one's reservation.
    const next = await complete(t.userToken);
    expect(next.status).toBe(200);
    expect(remainingTokens(next)).toBe(1000 - 13 - 13 - 110);
    svc.stub.reset();
  });

  it('charges a turn whose reservation left the window before it settled (nothing pruned it yet)', async () => {
    svc.stub.reset();
    svc.stub.setDefault({ kind: 'reply', content: 'one two three' });
    const t = await tenantWith({ rpm: 1000, tpm: 1000 });
    const long = await outlastingTurn(t);
    long.release();
    expect((await long.answer).status).toBe(200);
    const next = await complete(t.userToken);
    expect(next.status).toBe(200);
    expect(remainingTokens(next)).toBe(1000 - 13 - 110);
    svc.stub.reset();
  });

  it('never lets the token counter go negative, even when its running sum was lost', async () => {
    const limiter = createRateLimiter({ redis, windowSeconds: WINDOW_MS / 1000 });
    const tenantId = randomUUID();
    const budget = { rpm: 100, tpm: 1000 };
    const first = await limiter.reserve(tenantId, budget, 110);
    await redis.del(sumKey(tenantId)); // evicted, or lost with a Redis restart
    await limiter.settle(tenantId, first, 13);
    expect(Number(await redis.get(sumKey(tenantId)))).toBeGreaterThanOrEqual(0);
    const second = await limiter.reserve(tenantId, budget, 110);
    expect(Number(second.headers['x-ratelimit-remaining-tokens'])).toBe(1000 - 13 - 110);
    expect(Number(await redis.get(sumKey(tenantId)))).toBe(13 + 110);
    // A settlement of a reservation whose keys expired altogether adds its usage, never a debt.
    await redis.del(sumKey(tenantId), tokensKey(tenantId));
    await limiter.settle(tenantId, second, 5);
    expect(Number(await redis.get(sumKey(tenantId)))).toBe(5);
  });
});
