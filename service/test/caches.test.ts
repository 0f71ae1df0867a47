// What the hot path remembers must not outlive what it stands for: a verified JWT stops
// working at its exp, and a tenant change made through one replica applies to the very
// next turn on another replica that still holds the old settings.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenSigner, createTokenVerifier, TokenError } from '../src/lib/jwt.ts';
import { generateRsaKeys, startTestService, type TestService } from './support/harness.ts';

describe('verified token cache', () => {
  const keys = generateRsaKeys();
  const settings = { issuer: undefined, audience: undefined };
  const sign = createTokenSigner(keys.privateKey, settings);

  it('refuses a token it verified before once the token expires', async () => {
    // The clock is the test's: only Date is faked (signing and verifying stay real), so how
    // long the machine takes between the steps changes nothing.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2030-01-01T00:00:00Z') });
    try {
      const verify = createTokenVerifier(keys.publicKey, settings);
      const { token, expiresAt } = await sign({ sub: 'ops', role: 'platform_admin', tenantId: null }, 60);
      expect(await verify(token)).toEqual({
        sub: 'ops',
        role: 'platform_admin',
        tenantId: null,
        expiresAt: expiresAt.getTime() / 1000,
      });
      vi.setSystemTime(expiresAt.getTime() - 1000);
      expect(await verify(token)).toEqual({
        sub: 'ops',
        role: 'platform_admin',
        tenantId: null,
        expiresAt: expiresAt.getTime() / 1000,
      });
      vi.setSystemTime(expiresAt.getTime());
      await expect(verify(token)).rejects.toThrow('token has expired');
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a tampered copy of a token it verified', async () => {
    const verify = createTokenVerifier(keys.publicKey, settings);
    const tenantId = '6f1c1d3e-57a4-4d8e-9a0b-2f0c7f6f1a11';
    const { token } = await sign({ sub: 'alice', role: 'user', tenantId }, 60);
    expect((await verify(token)).sub).toBe('alice');
    const [header, payload, signature] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), role: 'tenant_admin' }),
    ).toString('base64url');
    await expect(verify(`${header}.${forged}.${signature}`)).rejects.toThrow(TokenError);
    const cacheless = createTokenVerifier(keys.publicKey, settings, { cacheSize: 0 });
    expect(await cacheless(token)).toEqual(await verify(token));
  });
});

describe('tenant settings across replicas', () => {
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    a = await startTestService();
    b = await startTestService({ database: { url: a.databaseUrl }, stub: a.stub });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  async function turn(svc: TestService, token: string, sessionId: string, body: Record<string, unknown>) {
    return svc.request('POST', `/v1/sessions/${sessionId}/messages`, {
      token,
      body: { content: 'hello', ...body },
    });
  }

  it('applies a change made through one replica to the next turn on another', async () => {
    const t = await a.createTenant({ settings: { systemPrompt: 'first prompt' } });
    const session = (await b.request('POST', '/v1/sessions', { token: t.userToken, body: {} })).body.id;
    expect((await turn(b, t.userToken, session, {})).status).toBe(201);
    expect(a.stub.requests.at(-1)!.body.messages[0]).toEqual({ role: 'system', content: 'first prompt' });

    // Through replica a; replica b still holds the first settings.
    const patched = await a.request('PATCH', `/v1/tenants/${t.id}`, {
      token: t.adminToken,
      body: {
        settings: { systemPrompt: 'second prompt', allowedModels: ['m/one', 'm/two'], model: 'm/one' },
      },
    });
    expect(patched.status).toBe(200);

    expect((await turn(b, t.userToken, session, {})).status).toBe(201);
    const sent = a.stub.requests.at(-1)!.body;
    expect(sent.messages[0]).toEqual({ role: 'system', content: 'second prompt' });
    expect(sent.model).toBe('m/one');
    const refused = await turn(b, t.userToken, session, { model: 'test/model' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('invalid_request');

    // The OpenAI-compatible endpoint follows the same settings.
    const completion = await b.request('POST', '/v1/chat/completions', {
      token: t.userToken,
      body: { model: 'test/model', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(completion.status).toBe(400);
  });

  it('accepts at once on the other replica a model just allowed', async () => {
    const t = await a.createTenant({ settings: { allowedModels: ['m/one'], model: 'm/one' } });
    const session = (await b.request('POST', '/v1/sessions', { token: t.userToken, body: {} })).body.id;
    expect((await turn(b, t.userToken, session, { model: 'm/two' })).status).toBe(400);
    const patched = await a.request('PATCH', `/v1/tenants/${t.id}`, {
      token: t.adminToken,
      body: { settings: { allowedModels: ['m/one', 'm/two'] } },
    });
    expect(patched.status).toBe(200);
    expect((await turn(b, t.userToken, session, { model: 'm/two' })).status).toBe(201);
    expect(a.stub.requests.at(-1)!.body.model).toBe('m/two');
  });

  it('applies a lower request budget at once on the other replica', async () => {
    const t = await a.createTenant();
    const session = (await b.request('POST', '/v1/sessions', { token: t.userToken, body: {} })).body.id;
    const first = await turn(b, t.userToken, session, {});
    expect(first.status).toBe(201);
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('60');
    const patched = await a.request('PATCH', `/v1/tenants/${t.id}`, {
      token: a.platformToken,
      body: { settings: { rateLimit: { rpm: 1 } } },
    });
    expect(patched.status).toBe(200);
    const second = await turn(b, t.userToken, session, {});
    expect(second.status).toBe(429);
    expect(second.headers.get('x-ratelimit-limit-requests')).toBe('1');
  });

  it('refuses turns on the other replica once the tenant is deleted', async () => {
    const t = await a.createTenant();
    const session = (await b.request('POST', '/v1/sessions', { token: t.userToken, body: {} })).body.id;
    expect((await turn(b, t.userToken, session, {})).status).toBe(201);
    expect((await a.request('DELETE', `/v1/tenants/${t.id}`, { token: a.platformToken })).status).toBe(204);
    const after = await turn(b, t.userToken, session, {});
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('unauthorized');
  });
});
