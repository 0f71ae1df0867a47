// Issue 16, item 1: revocation ends minted access. A token minted through an API key (or
// through a token minted through one) dies with the key; only an API key, a platform-issued
// admin or a key-issued admin mints admins; a minted token never outlives its minter.
import { createPublicKey } from 'node:crypto';
import { createLocalJWKSet, exportJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
let tenant: Awaited<ReturnType<TestService['createTenant']>>;

beforeAll(async () => {
  svc = await startTestService();
  tenant = await svc.createTenant();
});
afterAll(async () => svc?.close());

async function newKey(): Promise<{ id: string; key: string }> {
  const res = await svc.request('POST', `/v1/tenants/${tenant.id}/api-keys`, {
    token: tenant.adminToken,
    body: { name: 'backend' },
  });
  expect(res.status).toBe(201);
  return { id: res.body.id, key: res.body.key };
}

async function mint(
  via: string,
  body: { sub: string; role?: string; ttlSeconds?: number },
  service: TestService = svc,
) {
  return service.request('POST', '/v1/tokens', { token: via, body });
}

async function minted(via: string, body: { sub: string; role?: string; ttlSeconds?: number }) {
  const res = await mint(via, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { token: string; expiresAt: string };
}

const revoke = (id: string, service: TestService = svc) =>
  service.request('DELETE', `/v1/tenants/${tenant.id}/api-keys/${id}`, { token: tenant.adminToken });

async function claimsOf(token: string) {
  const jwks = createLocalJWKSet({ keys: [await exportJWK(createPublicKey(svc.keys.publicKey))] });
  return (await jwtVerify(token, jwks)).payload;
}

describe('revocation ends minted access', () => {
  it('ends an admin token minted through an API key, and what that token minted, when the key is revoked', async () => {
    const { id, key } = await newKey();
    const admin = await minted(key, { sub: 'backend-admin', role: 'tenant_admin' });
    expect(await claimsOf(admin.token)).toMatchObject({ api_key_id: id, minted_by: 'api_key' });
    const user = await minted(admin.token, { sub: 'end-user' });
    expect(await claimsOf(user.token)).toMatchObject({ api_key_id: id, minted_by: 'tenant_admin' });
    const keyUser = await minted(key, { sub: 'other-user' });
    for (const token of [admin.token, user.token, keyUser.token]) {
      expect((await svc.request('GET', '/v1/me', { token })).status).toBe(200);
    }

    expect((await revoke(id)).status).toBe(204);

    // The replica that revoked the key knows at once.
    for (const token of [key, admin.token, user.token, keyUser.token]) {
      const res = await svc.request('GET', '/v1/me', { token });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
    const session = await svc.request('POST', '/v1/sessions', { token: user.token, body: {} });
    expect(session.status).toBe(401);
  });

  it('ends it on another replica within REVOCATION_CHECK_SECONDS', async () => {
    const other = await startTestService({
      database: { url: svc.databaseUrl },
      stub: svc.stub,
      env: { REVOCATION_CHECK_SECONDS: '1' },
    });
    try {
      const { id, key } = await newKey();
      const admin = await minted(key, { sub: 'backend-admin', role: 'tenant_admin' });
      // The other replica has verified the token and looked at its key.
      expect((await other.request('GET', '/v1/me', { token: admin.token })).status).toBe(200);
      expect((await revoke(id)).status).toBe(204);
      await vi.waitFor(
        async () => expect((await other.request('GET', '/v1/me', { token: admin.token })).status).toBe(401),
        { timeout: 30_000, interval: 100 },
      );
    } finally {
      await other.close();
    }
  }, 60_000);

  it('lets a platform-issued or key-issued admin mint admins, and an admin minted by an admin mint users only', async () => {
    const { key } = await newKey();
    const keyIssued = await minted(key, { sub: 'k-admin', role: 'tenant_admin' });
    const fromKeyIssued = await minted(keyIssued.token, { sub: 'k-admin-2', role: 'tenant_admin' });
    const fromPlatformIssued = await minted(tenant.adminToken, { sub: 'p-admin-2', role: 'tenant_admin' });
    for (const adminMinted of [fromKeyIssued, fromPlatformIssued]) {
      const refused = await mint(adminMinted.token, { sub: 'escalate', role: 'tenant_admin' });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('forbidden');
      expect((await mint(adminMinted.token, { sub: 'end-user' })).status).toBe(201);
    }
  });

  it('never mints a token that outlives the token minting it', async () => {
    const shortAdmin = await svc.token({ sub: 'short', role: 'tenant_admin', tenantId: tenant.id }, 120);
    const ownExp = (await claimsOf(shortAdmin)).exp!;
    for (const ttlSeconds of [undefined, 3600, 86_400]) {
      const res = await minted(shortAdmin, { sub: 'end-user', ...(ttlSeconds ? { ttlSeconds } : {}) });
      const exp = (await claimsOf(res.token)).exp!;
      expect(exp).toBeLessThanOrEqual(ownExp);
      expect(Date.parse(res.expiresAt)).toBe(exp * 1000);
    }
    // A shorter ttl than what remains is kept as asked.
    const brief = await minted(shortAdmin, { sub: 'end-user', ttlSeconds: 30 });
    const payload = await claimsOf(brief.token);
    expect(payload.exp! - payload.iat!).toBe(30);
  });
});
