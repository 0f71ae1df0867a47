// Tenants, settings rules, provider keys, API keys, tokens and usage, with the role rules
// of API.md: 403 for a role that may not act in its own tenant, 404 for another tenant.
import { jwtVerify, createLocalJWKSet, exportJWK } from 'jose';
import { createPublicKey } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
type Tenant = Awaited<ReturnType<TestService['createTenant']>>;
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  svc = await startTestService({ env: { DEFAULT_RATE_LIMIT_RPM: '77', DEFAULT_RATE_LIMIT_TPM: '5000' } });
  a = await svc.createTenant({ name: 'Acme Corp' });
  b = await svc.createTenant();
});
afterAll(async () => svc?.close());

describe('creating and listing tenants', () => {
  it('creates a tenant with a slug derived from its name and settings shown with defaults', async () => {
    const res = await svc.request('POST', '/v1/tenants', {
      token: svc.platformToken,
      body: { name: 'Ünïcode Café  Ltd.' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      name: 'Ünïcode Café  Ltd.',
      slug: 'unicode-cafe-ltd',
      settings: {
        model: 'test/model',
        systemPrompt: '',
        allowedModels: [],
        fallbackModels: [],
        rateLimit: { rpm: 77, tpm: 5000 },
        maxOutputTokens: 1024,
        knowledgeBases: [],
        knowledgeTopK: 5,
        knowledgeMaxTokens: 2000,
      },
      hasProviderKey: false,
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
    });
  });

  it('answers a duplicate slug with 409 conflict', async () => {
    const res = await svc.request('POST', '/v1/tenants', {
      token: svc.platformToken,
      body: { name: 'x', slug: a.slug },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
  });

  it('refuses a name no slug can be derived from, and a malformed slug', async () => {
    const noSlug = await svc.request('POST', '/v1/tenants', {
      token: svc.platformToken,
      body: { name: '!!!' },
    });
    expect(noSlug.status).toBe(400);
    const bad = await svc.request('POST', '/v1/tenants', {
      token: svc.platformToken,
      body: { name: 'x', slug: 'Bad Slug' },
    });
    expect(bad.status).toBe(400);
  });

  it('lets only a platform admin create or list tenants', async () => {
    for (const token of [a.adminToken, a.userToken]) {
      expect((await svc.request('POST', '/v1/tenants', { token, body: { name: 'nope' } })).status).toBe(403);
      expect((await svc.request('GET', '/v1/tenants', { token })).status).toBe(403);
    }
  });

  it('pages through tenants with limit and cursor', async () => {
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: any = await svc.request('GET', `/v1/tenants?limit=1${cursor ? `&cursor=${cursor}` : ''}`, {
        token: svc.platformToken,
      });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(1);
      for (const t of res.body.items) seen.add(t.id);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor !== null && pages < 50);
    expect(seen.has(a.id) && seen.has(b.id)).toBe(true);
    expect(pages).toBeGreaterThanOrEqual(3);
  });
});

describe('reading and changing a tenant', () => {
  it('lets a tenant admin read and rename its tenant; a user gets 403; another tenant is 404', async () => {
    expect((await svc.request('GET', `/v1/tenants/${a.id}`, { token: a.adminToken })).status).toBe(200);
    expect((await svc.request('GET', `/v1/tenants/${a.id}`, { token: a.userToken })).status).toBe(403);
    const other = await svc.request('GET', `/v1/tenants/${b.id}`, { token: a.adminToken });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('not_found');
    const renamed = await svc.request('PATCH', `/v1/tenants/${a.id}`, {
      token: a.adminToken,
      body: { name: 'Acme' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Acme');
    expect(
      (await svc.request('PATCH', `/v1/tenants/${b.id}`, { token: a.adminToken, body: { name: 'x' } }))
        .status,
    ).toBe(404);
  });

  it('merges settings key by key and rateLimit field by field; null resets to the default', async () => {
    const t = await svc.createTenant();
    const patch = (token: string, settings: unknown) =>
      svc.request('PATCH', `/v1/tenants/${t.id}`, { token, body: { settings } });
    let res = await patch(t.adminToken, { model: 'm/one', systemPrompt: 'Be brief.' });
    expect(res.body.settings).toMatchObject({ model: 'm/one', systemPrompt: 'Be brief.' });
    res = await patch(svc.platformToken, { rateLimit: { rpm: 10 } });
    expect(res.body.settings).toMatchObject({
      model: 'm/one',
      systemPrompt: 'Be brief.',
      rateLimit: { rpm: 10, tpm: 5000 },
    });
    res = await patch(svc.platformToken, { rateLimit: { tpm: 900 } });
    expect(res.body.settings.rateLimit).toEqual({ rpm: 10, tpm: 900 });
    res = await patch(t.adminToken, { model: null });
    expect(res.body.settings).toMatchObject({ model: 'test/model', systemPrompt: 'Be brief.' });
    res = await patch(svc.platformToken, { rateLimit: { rpm: null } });
    expect(res.body.settings.rateLimit).toEqual({ rpm: 77, tpm: 900 });
    res = await patch(svc.platformToken, { rateLimit: null, maxOutputTokens: 256 });
    expect(res.body.settings).toMatchObject({ rateLimit: { rpm: 77, tpm: 5000 }, maxOutputTokens: 256 });
  });

  it('lets only a platform admin change rateLimit and maxOutputTokens', async () => {
    const t = await svc.createTenant();
    for (const settings of [{ rateLimit: { rpm: 1000 } }, { maxOutputTokens: 4000 }, { rateLimit: null }]) {
      const res = await svc.request('PATCH', `/v1/tenants/${t.id}`, {
        token: t.adminToken,
        body: { settings },
      });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
  });

  it('requires the model and fallbacks to be in allowedModels when it is set', async () => {
    const t = await svc.createTenant();
    const patch = (settings: unknown) =>
      svc.request('PATCH', `/v1/tenants/${t.id}`, { token: t.adminToken, body: { settings } });
    expect((await patch({ allowedModels: ['m/a', 'm/b'] })).status).toBe(400); // default model not in the list
    expect(
      (await patch({ allowedModels: ['m/a', 'm/b'], model: 'm/a', fallbackModels: ['m/c'] })).status,
    ).toBe(400);
    const ok = await patch({ allowedModels: ['m/a', 'm/b'], model: 'm/a', fallbackModels: ['m/b'] });
    expect(ok.status).toBe(200);
    expect((await patch({ model: 'm/z' })).status).toBe(400);
  });

  it('refuses unknown settings keys', async () => {
    const res = await svc.request('PATCH', `/v1/tenants/${a.id}`, {
      token: a.adminToken,
      body: { settings: { colour: 'red' } },
    });
    expect(res.status).toBe(400);
  });

  it('lets only a platform admin delete a tenant, and its data goes with it', async () => {
    const t = await svc.createTenant();
    const session = await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} });
    await svc.request('POST', `/v1/sessions/${session.body.id}/messages`, {
      token: t.userToken,
      body: { content: 'hi' },
    });
    expect((await svc.request('DELETE', `/v1/tenants/${t.id}`, { token: t.adminToken })).status).toBe(403);
    expect((await svc.request('DELETE', `/v1/tenants/${b.id}`, { token: t.adminToken })).status).toBe(404);
    expect((await svc.request('DELETE', `/v1/tenants/${t.id}`, { token: svc.platformToken })).status).toBe(
      204,
    );
    expect((await svc.request('GET', `/v1/tenants/${t.id}`, { token: svc.platformToken })).status).toBe(404);
    expect((await svc.request('DELETE', `/v1/tenants/${t.id}`, { token: svc.platformToken })).status).toBe(
      404,
    );
    const sql = postgres(svc.databaseUrl, { max: 1 });
    try {
      const [counts] = await sql`select
        (select count(*)::int from sessions where tenant_id = ${t.id}) as sessions,
        (select count(*)::int from messages where tenant_id = ${t.id}) as messages,
        (select count(*)::int from usage_daily where tenant_id = ${t.id}) as usage`;
      expect(counts).toEqual({ sessions: 0, messages: 0, usage: 0 });
    } finally {
      await sql.end();
    }
    // Its users' tokens no longer work for chat.
    expect((await svc.request('GET', '/v1/me', { token: t.userToken })).status).toBe(401);
  });

  it('gives a platform admin no chat endpoints', async () => {
    const res = await svc.request('POST', '/v1/sessions', { token: svc.platformToken, body: {} });
    expect(res.status).toBe(403);
    const me = await svc.request('GET', '/v1/me', { token: svc.platformToken });
    expect(me.body).toEqual({ sub: 'ops', role: 'platform_admin', tenant: null });
  });
});

describe('provider keys', () => {
  it('stores the tenant key encrypted, uses it instead of the platform key, and forgets it on delete', async () => {
    const t = await svc.createTenant();
    const put = await svc.request('PUT', `/v1/tenants/${t.id}/provider-key`, {
      token: t.adminToken,
      body: { apiKey: 'sk-or-v1-tenant-own-key' },
    });
    expect(put.status).toBe(204);
    const tenantView = await svc.request('GET', `/v1/tenants/${t.id}`, { token: t.adminToken });
    expect(tenantView.body.hasProviderKey).toBe(true);
    expect(JSON.stringify(tenantView.body)).not.toContain('sk-or-v1-tenant-own-key');

    const sql = postgres(svc.databaseUrl, { max: 1 });
    try {
      const [row] = await sql`select provider_key_encrypted from tenants where id = ${t.id}`;
      expect(row!.provider_key_encrypted).toMatch(/^gAAAAA[A-Za-z0-9_-]+=*$/);
      expect(row!.provider_key_encrypted).not.toContain('tenant-own-key');
    } finally {
      await sql.end();
    }

    const session = await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} });
    await svc.request('POST', `/v1/sessions/${session.body.id}/messages`, {
      token: t.userToken,
      body: { content: 'hi' },
    });
    expect(svc.stub.requests.at(-1)!.authorization).toBe('Bearer sk-or-v1-tenant-own-key');

    expect(
      (await svc.request('DELETE', `/v1/tenants/${t.id}/provider-key`, { token: t.adminToken })).status,
    ).toBe(204);
    expect(
      (await svc.request('GET', `/v1/tenants/${t.id}`, { token: t.adminToken })).body.hasProviderKey,
    ).toBe(false);
    await svc.request('POST', `/v1/sessions/${session.body.id}/messages`, {
      token: t.userToken,
      body: { content: 'again' },
    });
    expect(svc.stub.requests.at(-1)!.authorization).toBe('Bearer sk-platform-test');
  });

  it('answers 403 to a user, 404 in another tenant, 400 to an empty key', async () => {
    const body = { apiKey: 'sk-x' };
    expect(
      (await svc.request('PUT', `/v1/tenants/${a.id}/provider-key`, { token: a.userToken, body })).status,
    ).toBe(403);
    expect(
      (await svc.request('PUT', `/v1/tenants/${b.id}/provider-key`, { token: a.adminToken, body })).status,
    ).toBe(404);
    expect(
      (
        await svc.request('PUT', `/v1/tenants/${a.id}/provider-key`, {
          token: a.adminToken,
          body: { apiKey: '' },
        })
      ).status,
    ).toBe(400);
  });

  it('answers 503 not_configured without FERNET_KEY', async () => {
    const noFernet = await startTestService({
      database: { url: svc.databaseUrl },
      stub: svc.stub,
      env: { FERNET_KEY: '' },
    });
    try {
      const res = await noFernet.request('PUT', `/v1/tenants/${a.id}/provider-key`, {
        token: a.adminToken,
        body: { apiKey: 'sk-x' },
      });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('not_configured');
    } finally {
      await noFernet.close();
    }
  });
});

describe('API keys', () => {
  it('lets a user neither create nor list keys, and hides another tenant', async () => {
    expect(
      (await svc.request('POST', `/v1/tenants/${a.id}/api-keys`, { token: a.userToken, body: {} })).status,
    ).toBe(403);
    expect((await svc.request('GET', `/v1/tenants/${a.id}/api-keys`, { token: a.userToken })).status).toBe(
      403,
    );
    expect((await svc.request('GET', `/v1/tenants/${b.id}/api-keys`, { token: a.adminToken })).status).toBe(
      404,
    );
    const bKey = await svc.request('POST', `/v1/tenants/${b.id}/api-keys`, { token: b.adminToken, body: {} });
    expect(
      (await svc.request('DELETE', `/v1/tenants/${a.id}/api-keys/${bKey.body.id}`, { token: a.adminToken }))
        .status,
    ).toBe(404);
    expect((await svc.request('GET', '/v1/me', { token: bKey.body.key })).status).toBe(200);
  });
});

describe('POST /v1/tokens', () => {
  it('issues a JWT for an end user of the tenant that the service accepts', async () => {
    const res = await svc.request('POST', '/v1/tokens', {
      token: a.adminToken,
      body: { sub: 'end-user-1', ttlSeconds: 120 },
    });
    expect(res.status).toBe(201);
    const jwks = createLocalJWKSet({ keys: [await exportJWK(createPublicKey(svc.keys.publicKey))] });
    const { payload } = await jwtVerify(res.body.token, jwks);
    expect(payload).toMatchObject({ sub: 'end-user-1', role: 'user', tenant_id: a.id });
    expect(payload.exp! - payload.iat!).toBe(120);
    expect(Date.parse(res.body.expiresAt)).toBe(payload.exp! * 1000);
    const me = await svc.request('GET', '/v1/me', { token: res.body.token });
    expect(me.body).toMatchObject({ sub: 'end-user-1', role: 'user' });
  });

  it('refuses platform_admin with 403, a ttl over a day with 400, and a user caller with 403', async () => {
    expect(
      (
        await svc.request('POST', '/v1/tokens', {
          token: a.adminToken,
          body: { sub: 'x', role: 'platform_admin' },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await svc.request('POST', '/v1/tokens', {
          token: a.adminToken,
          body: { sub: 'x', ttlSeconds: 86_401 },
        })
      ).status,
    ).toBe(400);
    expect((await svc.request('POST', '/v1/tokens', { token: a.userToken, body: { sub: 'x' } })).status).toBe(
      403,
    );
    expect(
      (await svc.request('POST', '/v1/tokens', { token: a.adminToken, body: { sub: 'x', tenantId: b.id } }))
        .status,
    ).toBe(404);
  });

  it('answers 503 not_configured without JWT_PRIVATE_KEY', async () => {
    const noKey = await startTestService({
      database: { url: svc.databaseUrl },
      stub: svc.stub,
      env: { JWT_PRIVATE_KEY: '' },
    });
    try {
      const res = await noKey.request('POST', '/v1/tokens', { token: a.adminToken, body: { sub: 'x' } });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('not_configured');
    } finally {
      await noKey.close();
    }
  });
});

describe('GET /v1/usage', () => {
  it('counts requests and tokens per day with traffic', async () => {
    const t = await svc.createTenant();
    const session = await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} });
    for (const content of ['one two three four', 'five']) {
      await svc.request('POST', `/v1/sessions/${session.body.id}/messages`, {
        token: t.userToken,
        body: { content },
      });
    }
    const today = new Date().toISOString().slice(0, 10);
    const res = await svc.request('GET', '/v1/usage', { token: t.adminToken });
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(1);
    const [day] = res.body.items;
    expect(day.day).toBe(today);
    expect(day.requests).toBe(2);
    const replies = svc.stub.requests.slice(-2);
    expect(day.completionTokens).toBe(
      replies.reduce((n, r) => n + `Echo: ${r.body.messages.at(-1)!.content}`.split(' ').length, 0),
    );
    expect(day.promptTokens).toBeGreaterThan(0);
    const range = await svc.request('GET', '/v1/usage?from=2020-01-01&to=2020-01-31', {
      token: t.adminToken,
    });
    expect(range.body.items).toEqual([]);
  });

  it('refuses a bad range, a user, and lets a platform admin name the tenant', async () => {
    expect((await svc.request('GET', '/v1/usage?from=2024-02-30', { token: a.adminToken })).status).toBe(400);
    expect(
      (await svc.request('GET', '/v1/usage?from=2024-03-02&to=2024-03-01', { token: a.adminToken })).status,
    ).toBe(400);
    expect((await svc.request('GET', '/v1/usage', { token: a.userToken })).status).toBe(403);
    expect(
      (await svc.request('GET', `/v1/usage?tenantId=${a.id}`, { token: svc.platformToken })).status,
    ).toBe(200);
    expect((await svc.request('GET', '/v1/usage', { token: svc.platformToken })).status).toBe(400);
  });
});
