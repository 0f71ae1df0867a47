// /metrics: Prometheus text with requests and latency by route and status, provider
// latency and tokens, rate-limit refusals and open streams; not for proxied requests.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ env: { ALLOWED_HOSTS: 'chat.example.com,127.0.0.1' } });
});
afterAll(async () => svc?.close());

describe('metrics', () => {
  it('counts requests by route and status, provider calls, tokens and refusals', async () => {
    const host = { host: 'chat.example.com' };
    const t = await svc.createTenant();
    await svc.request('PATCH', `/v1/tenants/${t.id}`, {
      token: svc.platformToken,
      body: { settings: { rateLimit: { rpm: 1 } } },
      headers: host,
    });
    const session = await svc.request('POST', '/v1/sessions', {
      token: t.userToken,
      body: {},
      headers: host,
    });
    const ok = await svc.request('POST', `/v1/sessions/${session.body.id}/messages`, {
      token: t.userToken,
      body: { content: 'count me' },
      headers: host,
    });
    expect(ok.status).toBe(201);
    const refused = await svc.request('POST', `/v1/sessions/${session.body.id}/messages`, {
      token: t.userToken,
      body: { content: 'and me' },
      headers: host,
    });
    expect(refused.status).toBe(429);

    const res = await svc.request('GET', '/metrics', { headers: { host: '10.0.0.7:8000' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text: string = res.body;
    expect(text).toMatch(
      /http_requests_total\{method="POST",route="\/v1\/sessions\/:id\/messages",status="201"\} 1/,
    );
    expect(text).toMatch(
      /http_requests_total\{method="POST",route="\/v1\/sessions\/:id\/messages",status="429"\} 1/,
    );
    expect(text).toMatch(
      /http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/v1\/sessions"/,
    );
    expect(text).toMatch(/llm_request_duration_seconds_count\{model="test\/model",outcome="ok"\} 1/);
    expect(text).toMatch(/llm_tokens_total\{type="completion"\} 3/);
    expect(text).toMatch(/rate_limit_refusals_total\{limit="requests"\} 1/);
    expect(text).toMatch(/sse_streams_open 0/);
    expect(text).toMatch(/process_resident_memory_bytes \d+/);
  });

  it('metric labels are bounded: 1,000 random model names add no series', async () => {
    const t = await svc.createTenant();
    const raised = await svc.request('PATCH', `/v1/tenants/${t.id}`, {
      token: svc.platformToken,
      body: { settings: { rateLimit: { rpm: 100_000, tpm: 100_000_000 } } },
    });
    expect(raised.status).toBe(200);
    const complete = (model: string) =>
      svc.request('POST', '/v1/chat/completions', {
        token: t.userToken,
        body: { model, messages: [{ role: 'user', content: 'hi' }] },
      });
    const series = async () => {
      const text: string = (await svc.request('GET', '/metrics')).body;
      return new Set(
        text
          .split('\n')
          .filter((line) => /^llm_/.test(line))
          .map((line) => line.split(' ')[0]!),
      );
    };
    // The tenant's own model is a label; a model it never named is `other`.
    expect((await complete('test/model')).status).toBe(200);
    expect((await complete(`random/${randomUUID()}`)).status).toBe(200);
    const before = await series();
    for (let batch = 0; batch < 50; batch++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => complete(`random/${randomUUID()}`)));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    }
    const after = [...(await series())].filter((name) => !before.has(name));
    expect(after).toEqual([]);
    expect([...before].some((name) => name.includes('model="test/model"'))).toBe(true);
    expect([...before].some((name) => name.includes('model="other"'))).toBe(true);
  });

  it('answers 404 to a request that came through the proxy', async () => {
    const res = await svc.request('GET', '/metrics', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(res.status).toBe(404);
  });
});
