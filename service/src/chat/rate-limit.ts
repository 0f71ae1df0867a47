// Per-tenant request and token budgets over a sliding window, shared by every replica
// through Redis. One Lua script checks both budgets and reserves them atomically; a
// second one replaces a reservation by the real usage. The window is a log of admissions
// (sorted sets scored by Redis's own clock), so no window of RATE_LIMIT_WINDOW_SECONDS
// ever admits more than the budget, and there is no burst at window edges.
import { randomUUID } from 'node:crypto';
import type { Redis, Result } from 'ioredis';
import { AppError } from '../errors.ts';

// Both scripts first drop the token reservations that left the window and take them off the
// running sum; a sum that is missing (evicted, or expired apart from its set) or below zero is
// counted again from the set, so the budget never goes negative or forgets what it holds.
// Arguments: tokens zset (members "<id>:<tokens>"), sum key, cutoff, window ms.
const USED_TOKENS = `
local function used_tokens(tok, sum, cutoff, window)
  local expired = redis.call('ZRANGEBYSCORE', tok, '-inf', cutoff)
  local raw = redis.call('GET', sum)
  local used = raw and tonumber(raw)
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', tok, '-inf', cutoff)
    if used then
      for _, member in ipairs(expired) do
        used = used - tonumber(string.match(member, ':(%d+)$'))
      end
    end
  end
  if not used or used < 0 then
    used = 0
    for _, member in ipairs(redis.call('ZRANGE', tok, 0, -1)) do
      used = used + tonumber(string.match(member, ':(%d+)$'))
    end
  end
  if #expired > 0 or tonumber(raw) ~= used then
    redis.call('SET', sum, used, 'PX', window + 1000)
  end
  return used
end
`;

// KEYS: requests zset, tokens zset, tokens running sum, a key that must still hold ARGV[6]
//       (unless that is empty)
// ARGV: window ms, rpm, tpm, reservation, id, expected value of KEYS[4]
const RESERVE = `${USED_TOKENS}
if ARGV[6] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[6] then
  return {-1, 0, 0, 0, 'precondition'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local cutoff = now - window

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
local used = used_tokens(KEYS[2], KEYS[3], cutoff, window)
local requests = redis.call('ZCARD', KEYS[1])

local retry = 0
local refused = ''
if want > tpm then
  refused = 'tokens'
  retry = window
else
  if requests + 1 > rpm then
    refused = 'requests'
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    retry = tonumber(oldest[2]) + window - now
  end
  if used + want > tpm then
    -- when enough of the oldest reservations leave the window
    local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    local freed = 0
    local at = now + window
    for i = 1, #entries, 2 do
      freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
      if used - freed + want <= tpm then
        at = tonumber(entries[i + 1]) + window
        break
      end
    end
    local tokenRetry = at - now
    if refused == '' or tokenRetry > retry then retry = tokenRetry end
    if refused == '' then refused = 'tokens' end
  end
end

if refused ~= '' then
  if retry < 1 then retry = 1 end
  return {0, rpm - requests, tpm - used, retry, refused}
end

redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[5] .. ':' .. want)
redis.call('SET', KEYS[3], used + want)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], window + 1000) end
return {1, rpm - requests - 1, tpm - used - want, 0, ''}
`;

// KEYS: tokens zset, tokens sum. ARGV: id, reserved, actual, window ms
// A reservation still in the window is replaced by the real usage, at its own time. One that
// left the window before its turn ended (a turn longer than the window) is gone: the real
// usage is charged from now, for a window.
const SETTLE = `${USED_TOKENS}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[4])
local used = used_tokens(KEYS[1], KEYS[2], now - window, window)
local reserved = tonumber(ARGV[2])
local actual = tonumber(ARGV[3])
local old = ARGV[1] .. ':' .. ARGV[2]
local score = redis.call('ZSCORE', KEYS[1], old)
if score then
  redis.call('ZREM', KEYS[1], old)
  redis.call('ZADD', KEYS[1], score, ARGV[1] .. ':' .. ARGV[3])
  used = used - reserved + actual
elseif actual > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. ARGV[3])
  used = used + actual
else
  return 0
end
redis.call('SET', KEYS[2], used)
for i = 1, 2 do redis.call('PEXPIRE', KEYS[i], window + 1000) end
return 1
`;

export interface Budget {
  rpm: number;
  tpm: number;
}

/**
 * A reservation's condition: `key` (in the tenant's hash tag) still holds `value`. The
 * chat endpoints pass the version of the tenant settings they used.
 */
export interface Precondition {
  key: string;
  value: string;
}

/** The precondition no longer held: nothing was reserved. */
export class PreconditionFailed extends Error {
  constructor() {
    super('the reservation precondition no longer holds');
    this.name = 'PreconditionFailed';
  }
}

export interface Reservation {
  id: string;
  tokens: number;
  headers: Record<string, string>;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    chatbotReserve(
      requests: string,
      tokens: string,
      sum: string,
      precondition: string,
      windowMs: number,
      rpm: number,
      tpm: number,
      want: number,
      id: string,
      expected: string,
    ): Result<[number, number, number, number, string], Context>;
    chatbotSettle(
      tokens: string,
      sum: string,
      id: string,
      reserved: number,
      actual: number,
      windowMs: number,
    ): Result<number, Context>;
  }
}

function headersOf(
  budget: Budget,
  remainingRequests: number,
  remainingTokens: number,
): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': String(budget.rpm),
    'x-ratelimit-remaining-requests': String(Math.max(0, remainingRequests)),
    'x-ratelimit-limit-tokens': String(budget.tpm),
    'x-ratelimit-remaining-tokens': String(Math.max(0, remainingTokens)),
  };
}

export function createRateLimiter(deps: {
  redis: Redis;
  windowSeconds: number;
  onRefusal?: (limit: 'requests' | 'tokens') => void;
}) {
  const { redis } = deps;
  const windowMs = deps.windowSeconds * 1000;
  redis.defineCommand('chatbotReserve', { numberOfKeys: 4, lua: RESERVE });
  redis.defineCommand('chatbotSettle', { numberOfKeys: 2, lua: SETTLE });
  const keys = (tenantId: string) => {
    const base = `chatbot:rl:{${tenantId}}`;
    return [`${base}:req`, `${base}:tok`, `${base}:toksum`] as const;
  };

  /**
   * Admits the request and reserves `tokens`, or throws 429 rate_limited with Retry-After
   * (or PreconditionFailed, when `precondition` no longer holds).
   */
  async function reserve(
    tenantId: string,
    budget: Budget,
    tokens: number,
    precondition?: Precondition,
  ): Promise<Reservation> {
    const id = randomUUID();
    const [req, tok, sum] = keys(tenantId);
    let result: [number, number, number, number, string];
    try {
      result = await redis.chatbotReserve(
        req,
        tok,
        sum,
        precondition?.key ?? `${req}:none`,
        windowMs,
        budget.rpm,
        budget.tpm,
        tokens,
        id,
        precondition?.value ?? '',
      );
    } catch (error) {
      throw new AppError('unavailable', 'the rate limiter (Redis) is unreachable', { cause: error });
    }
    const [admitted, remainingRequests, remainingTokens, retryMs, refused] = result;
    if (admitted === -1) throw new PreconditionFailed();
    const headers = headersOf(budget, remainingRequests, remainingTokens);
    if (admitted !== 1) {
      deps.onRefusal?.(refused === 'requests' ? 'requests' : 'tokens');
      const message =
        tokens > budget.tpm
          ? `this request needs ${tokens} tokens, more than the tenant's budget of ${budget.tpm} per window`
          : `the tenant's ${refused === 'requests' ? 'request' : 'token'} budget is spent; retry later`;
      throw new AppError('rate_limited', message, {
        headers: { ...headers, 'retry-after': String(Math.max(1, Math.ceil(retryMs / 1000))) },
      });
    }
    return { id, tokens, headers };
  }

  /**
   * Replaces a reservation by the tokens really used; a reservation that already left the
   * window is charged anew from now. Best effort: a failure only logs.
   */
  async function settle(tenantId: string, reservation: Reservation, actualTokens: number): Promise<void> {
    const [, tok, sum] = keys(tenantId);
    await redis.chatbotSettle(
      tok,
      sum,
      reservation.id,
      reservation.tokens,
      Math.max(0, Math.round(actualTokens)),
      windowMs,
    );
  }

  return { reserve, settle };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
