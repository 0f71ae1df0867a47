// Per-tenant RPM/TPM limits: exact under concurrency across two service processes, tokens
// reserved before the call and settled to the real usage after it, and no window of
// RATE_LIMIT_WINDOW_SECONDS ever admitting more than the budget.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startFaultProxy, targetOf, throughProxy } from './support/fault-proxy.ts';
import {
  startServiceProcess,
  startTestService,
  type ServiceProcess,
  type TestService,
} from './support/harness.ts';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => svc?.close());

async function tenantWith(rateLimit: { rpm: number; tpm: number }, extra: Record<string, unknown> = {}) {
  const t = await svc.createTenant();
  const res = await svc.request('PATCH', `/v1/tenants/${t.id}`, {
    token: svc.platformToken,
    body: { settings: { rateLimit, ...extra } },
  });
  expect(res.status).toBe(200);
  return t;
}

function complete(base: string, token: string, content: string, maxTokens = 100) {
  return fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content }], max_tokens: maxTokens }),
  });
}

describe('request budget', () => {
  let processes: ServiceProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
  });

  it('admits exactly 60 of 200 concurrent requests spread over two service processes', async () => {
    processes = await Promise.all([startServiceProcess(svc.env), startServiceProcess(svc.env)]);
    const t = await tenantWith({ rpm: 60, tpm: 10_000_000 });
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => complete(processes[i % 2]!.url, t.userToken, `request ${i}`)),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(60);
    expect(statuses.filter((s) => s === 429)).toHaveLength(140);
    // Both processes admitted some: the budget is shared, not per process.
    const admittedBy = [0, 1].map((p) => responses.filter((r, i) => i % 2 === p && r.status === 200).length);
    expect(Math.min(...admittedBy)).toBeGreaterThan(0);
    const refused = responses.find((r) => r.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(await refused.json()).toMatchObject({ error: { code: 'rate_limited', type: 'rate_limit_error' } });
  });
});

describe('token budget', () => {
  it('admits exactly the reservations that fit, then counts the real usage', async () => {
    const t = await tenantWith({ rpm: 1000, tpm: 1000 });
    const content = 'x'.repeat(40); // 10 tokens of context + 100 of max output = 110 reserved
    svc.stub.setDefault({ kind: 'reply', content: 'one two three', firstByteDelayMs: 1500 });
    try {
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => complete(svc.url, t.userToken, content)),
      );
      const admitted = responses.filter((r) => r.status === 200);
      expect(admitted).toHaveLength(9); // floor(1000 / 110)
      const remaining = admitted
        .map((r) => Number(r.headers.get('x-ratelimit-remaining-tokens')))
        .sort((a, b) => a - b);
      expect(remaining[0]).toBe(1000 - 9 * 110);
      expect(responses.filter((r) => r.status === 429)).toHaveLength(11);
    } finally {
      svc.stub.reset();
    }
    // The nine settled to their real usage: 10 prompt + 3 completion tokens each.
    const next = await complete(svc.url, t.userToken, content);
    expect(next.status).toBe(200);
    expect(Number(next.headers.get('x-ratelimit-remaining-tokens'))).toBe(1000 - 9 * 13 - 110);
    expect(Number(next.headers.get('x-ratelimit-remaining-requests'))).toBe(1000 - 10);
  });

  it('refuses with 429 a request that could never fit the token budget', async () => {
    const t = await tenantWith({ rpm: 100, tpm: 500 });
    const res = await complete(svc.url, t.userToken, 'hello', 1000);
    expect(res.status).toBe(429);
    expect(((await res.json()) as any).error.code).toBe('rate_limited');
  });

  it('reserves the tenant maxOutputTokens for chat turns and sends the headers on every counted response', async () => {
    const t = await tenantWith({ rpm: 100, tpm: 100_000 }, { maxOutputTokens: 50 });
    const session = await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} });
    const res = await svc.request('POST', `/v1/sessions/${session.body.id}/messages`, {
      token: t.userToken,
      body: { content: 'abcd' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('100');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('99');
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe(String(100_000 - (1 + 50)));
    expect(svc.stub.requests.at(-1)!.body.max_tokens).toBe(50);
  });
});

describe('sliding window', () => {
  let short: TestService;
  beforeAll(async () => {
    short = await startTestService({
      database: { url: svc.databaseUrl },
      env: { RATE_LIMIT_WINDOW_SECONDS: '2' },
    });
  });
  afterAll(async () => short?.close());

  it('never admits more than the budget in any window, and admits again as the window slides', async () => {
    const rpm = 5;
    const windowMs = 2000;
    const t = await short.createTenant();
    await short.request('PATCH', `/v1/tenants/${t.id}`, {
      token: short.platformToken,
      body: { settings: { rateLimit: { rpm, tpm: 10_000_000 } } },
    });
    const admitted: { sent: number; received: number }[] = [];
    const until = performance.now() + 5500;
    const worker = async () => {
      while (performance.now() < until) {
        const sent = performance.now();
        const res = await complete(short.url, t.userToken, 'tick');
        const received = performance.now();
        if (res.status === 200) admitted.push({ sent, received });
        else await new Promise((r) => setTimeout(r, 20));
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    admitted.sort((a, b) => a.sent - b.sent);
    // Every admission happened between its request's sending and its answer; any rpm+1
    // consecutive admissions must span at least one window.
    for (let i = 0; i + rpm < admitted.length; i++) {
      expect(admitted[i + rpm]!.received - admitted[i]!.sent).toBeGreaterThanOrEqual(windowMs);
    }
    expect(admitted.length).toBeGreaterThanOrEqual(2 * rpm);
    expect(admitted.length).toBeLessThanOrEqual(3 * rpm);
  });
});

describe('Redis unreachable', () => {
  it('refuses counted requests with 503 instead of admitting them unmetered', async () => {
    const proxy = await startFaultProxy(targetOf(inject('redisUrl')));
    const cut = await startTestService({
      database: { url: svc.databaseUrl },
      stub: svc.stub,
      env: { REDIS_URL: throughProxy(inject('redisUrl'), proxy) },
    });
    try {
      const t = await cut.createTenant();
      const session = await cut.request('POST', '/v1/sessions', { token: t.userToken, body: {} });
      await proxy.down();
      const calls = svc.stub.requests.length;
      const res = await cut.request('POST', `/v1/sessions/${session.body.id}/messages`, {
        token: t.userToken,
        body: { content: 'unmetered?' },
      });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('unavailable');
      const completion = await complete(cut.url, t.userToken, 'unmetered?');
      expect(completion.status).toBe(503);
      expect(svc.stub.requests.length).toBe(calls);
      const messages = await cut.request('GET', `/v1/sessions/${session.body.id}/messages`, {
        token: t.userToken,
      });
      expect(messages.body.items).toEqual([]);
    } finally {
      await proxy.up();
      await cut.close();
      await proxy.close();
    }
  });
});
