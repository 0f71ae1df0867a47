// HTTP-level refusals: every one has its documented code, never a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
let tenant: Awaited<ReturnType<TestService['createTenant']>>;
let sessionId: string;

beforeAll(async () => {
  svc = await startTestService({
    env: { ALLOWED_HOSTS: 'chat.example.com,127.0.0.1', CORS_ORIGINS: 'https://app.example.com' },
  });
  tenant = await svc.createTenant();
  sessionId = (await svc.request('POST', '/v1/sessions', { token: tenant.userToken, body: {} })).body.id;
});
afterAll(async () => svc?.close());

describe('request validation', () => {
  it('answers malformed JSON with 400 invalid_request', async () => {
    const res = await svc.request('POST', '/v1/sessions', {
      token: tenant.userToken,
      rawBody: '{"title": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('refuses unknown body fields with 400', async () => {
    const res = await svc.request('POST', '/v1/sessions', {
      token: tenant.userToken,
      body: { title: 'x', color: 'red' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('refuses a value of the wrong type instead of coercing it', async () => {
    const res = await svc.request('POST', '/v1/sessions', { token: tenant.userToken, body: { title: 5 } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('refuses an empty message and one over 32000 characters', async () => {
    for (const content of ['', 'x'.repeat(32_001)]) {
      const res = await svc.request('POST', `/v1/sessions/${sessionId}/messages`, {
        token: tenant.userToken,
        body: { content },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('answers a body over 1 MiB with 413 payload_too_large', async () => {
    const res = await svc.request('POST', '/v1/sessions', {
      token: tenant.userToken,
      rawBody: JSON.stringify({ title: 'x'.repeat(1024 * 1024 + 10) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('answers a body that is not JSON with 415 unsupported_media_type', async () => {
    const res = await svc.request('POST', '/v1/sessions', {
      token: tenant.userToken,
      rawBody: 'title=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
  });

  it.each(['0', '101', 'ten', '-1', '1.5'])('refuses ?limit=%s with 400', async (limit) => {
    const res = await svc.request('GET', `/v1/sessions?limit=${limit}`, { token: tenant.userToken });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('refuses a cursor it did not write', async () => {
    const res = await svc.request('GET', '/v1/sessions?cursor=bm90LWEtY3Vyc29y', { token: tenant.userToken });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('refuses an id that is not a UUID with 400', async () => {
    const res = await svc.request('GET', '/v1/sessions/not-a-uuid', { token: tenant.userToken });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('answers an unknown route with 404 not_found', async () => {
    const res = await svc.request('GET', '/v1/nothing-here', { token: tenant.userToken });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('hosts and origins', () => {
  it('refuses a Host outside ALLOWED_HOSTS with 400', async () => {
    const res = await svc.request('GET', '/v1/me', {
      token: tenant.userToken,
      headers: { host: 'evil.example.net' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('serves an allowed Host, with or without a port', async () => {
    for (const host of ['chat.example.com', 'chat.example.com:443']) {
      const res = await svc.request('GET', '/v1/me', { token: tenant.userToken, headers: { host } });
      expect(res.status).toBe(200);
    }
  });

  it('answers the health endpoints for any Host', async () => {
    for (const path of ['/health', '/health/live']) {
      const res = await svc.request('GET', path, { headers: { host: 'internal-probe' } });
      expect(res.status).toBe(200);
    }
  });

  it('allows a configured CORS origin and no other', async () => {
    const ok = await svc.request('OPTIONS', '/v1/sessions', {
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const other = await svc.request('GET', '/health', { headers: { origin: 'https://evil.example.net' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
