// /metrics: Prometheus text with requests and latency by route and status, provider
// latency and tokens, rate-limit refusals and open streams; not for proxied requests.
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

  it('answers 404 to a request that came through the proxy', async () => {
    const res = await svc.request('GET', '/metrics', { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(res.status).toBe(404);
  });
});
