// Per-tenant RPM/TPM limits: exact under concurrency across two service processes, tokens
// reserved before the call and settled to the real usage after it, and no window of
// RATE_LIMIT_WINDOW_SECONDS ever admitting more than the budget.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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
    const [first, second] = processes as [ServiceProcess, ServiceProcess];
    const t = await tenantWith({ rpm: 60, tpm: 10_000_000 });
    // 30 requests to the first process: all admitted (the budget is 60).
    const early = await Promise.all(
      Array.from({ length: 30 }, (_, i) => complete(first.url, t.userToken, `early ${i}`)),
    );
    expect(early.map((r) => r.status)).toEqual(Array(30).fill(200));
    // Then 170 at once, spread over both processes. Whichever process answers first, only
    // what the first process left is admitted: a budget per process would admit 30 more on
    // the first and 60 on the second.
    const responses = await Promise.all(
      Array.from({ length: 170 }, (_, i) =>
        complete((i % 2 === 0 ? first : second).url, t.userToken, `request ${i}`),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(30);
    expect(statuses.filter((s) => s === 429)).toHaveLength(140);
    const refused = responses.find((r) => r.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(await refused.json()).toMatchObject({ error: { code: 'rate_limited', type: 'rate_limit_error' } });
    // The second process, which admitted nothing before, sees the first one's 30 as spent.
    const after = await complete(second.url, t.userToken, 'after');
    expect(after.status).toBe(429);
    expect(after.headers.get('x-ratelimit-remaining-requests')).toBe('0');
  });
});

describe('token budget', () => {
  it('admits exactly the reservations that fit, then counts the real usage', async () => {
    const t = await tenantWith({ rpm: 1000, tpm: 1000 });
    const content = 'x'.repeat(40); // 10 tokens of context + 100 of max output = 110 reserved
    // Admitted calls are held at the stub until every request has been either refused or
    // admitted, so no reservation is settled while others are still being decided.
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    svc.stub.setDefault({ kind: 'reply', content: 'one two three', hold });
    try {
      let refusedSoFar = 0;
      const callsBefore = svc.stub.requests.length;
      const pending = Array.from({ length: 20 }, () =>
        complete(svc.url, t.userToken, content).then((r) => {
          if (r.status === 429) refusedSoFar++;
          return r;
        }),
      );
      await vi.waitFor(() => expect(refusedSoFar + svc.stub.requests.length - callsBefore).toBe(20), {
        timeout: 30_000,
        interval: 20,
      });
      release();
      const responses = await Promise.all(pending);
      const admitted = responses.filter((r) => r.status === 200);
      expect(admitted).toHaveLength(9); // floor(1000 / 110)
      const remaining = admitted
        .map((r) => Number(r.headers.get('x-ratelimit-remaining-tokens')))
        .sort((a, b) => a - b);
      expect(remaining[0]).toBe(1000 - 9 * 110);
      expect(responses.filter((r) => r.status === 429)).toHaveLength(11);
    } finally {
      release();
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
    // Three windows' worth of admissions need the window to slide twice; stop there.
    // Nothing depends on how fast requests go: each admission is bracketed by its request's
    // sending and its answer.
    const admitted: { sent: number; received: number }[] = [];
    const target = 3 * rpm;
    const worker = async () => {
      while (admitted.length < target) {
        const sent = performance.now();
        const res = await complete(short.url, t.userToken, 'tick');
        const received = performance.now();
        if (res.status === 200) admitted.push({ sent, received });
        else await new Promise((r) => setTimeout(r, 20));
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    admitted.sort((a, b) => a.sent - b.sent);
    // Every admission happened between its request's sending and its answer, so any rpm+1
    // admissions span at least one window: from the first one's sending to the latest answer.
    for (let i = 0; i + rpm < admitted.length; i++) {
      const group = admitted.slice(i, i + rpm + 1);
      const lastAnswer = Math.max(...group.map((a) => a.received));
      expect(lastAnswer - admitted[i]!.sent).toBeGreaterThanOrEqual(windowMs);
    }
    expect(admitted.length).toBeGreaterThanOrEqual(target);
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
