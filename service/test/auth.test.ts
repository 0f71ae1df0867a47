// Authentication: JWTs (asymmetric only, exp required, iss/aud checked), tenant API keys,
// and DISABLE_AUTH's development identity.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRsaKeys, startTestService, type TestService } from './support/harness.ts';

const ISSUER = 'https://issuer.example.com';
const AUDIENCE = 'chatbot-api';

let svc: TestService;
let tenant: Awaited<ReturnType<TestService['createTenant']>>;

beforeAll(async () => {
  svc = await startTestService({ env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });
  tenant = await svc.createTenant();
});
afterAll(async () => svc?.close());

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claims = () => ({
  sub: 'mallory',
  role: 'tenant_admin',
  tenant_id: tenant.id,
  iss: ISSUER,
  aud: AUDIENCE,
  iat: Math.floor(Date.now() / 1000),
  exp: Math.floor(Date.now() / 1000) + 600,
});

async function signWith(privateKeyPem: string, payload: Record<string, unknown>, alg = 'RS256') {
  const key = await importPKCS8(privateKeyPem, alg);
  return new SignJWT(payload).setProtectedHeader({ alg }).sign(key);
}

async function expectUnauthorized(token: string) {
  const res = await svc.request('GET', '/v1/me', { token });
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe('unauthorized');
}

describe('JWT', () => {
  it('accepts a token signed with the configured key', async () => {
    const res = await svc.request('GET', '/v1/me', { token: await signWith(svc.keys.privateKey, claims()) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sub: 'mallory', role: 'tenant_admin', tenant: { id: tenant.id } });
  });

  it('refuses a request without credentials', async () => {
    const res = await svc.request('GET', '/v1/me');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('refuses alg none', async () => {
    await expectUnauthorized(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`);
  });

  it('refuses HS256 signed with the public key as the secret', async () => {
    const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims())}`;
    const signature = createHmac('sha256', svc.keys.publicKey).update(input).digest('base64url');
    await expectUnauthorized(`${input}.${signature}`);
  });

  it('refuses an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectUnauthorized(
      await signWith(svc.keys.privateKey, { ...claims(), iat: now - 7200, exp: now - 3600 }),
    );
  });

  it('refuses a token without exp', async () => {
    const { exp: _exp, ...rest } = claims();
    await expectUnauthorized(await signWith(svc.keys.privateKey, rest));
  });

  it('refuses a wrong issuer and a wrong audience', async () => {
    await expectUnauthorized(
      await signWith(svc.keys.privateKey, { ...claims(), iss: 'https://other.example.com' }),
    );
    await expectUnauthorized(await signWith(svc.keys.privateKey, { ...claims(), aud: 'another-api' }));
  });

  it('refuses a token signed with a different key', async () => {
    await expectUnauthorized(await signWith(generateRsaKeys().privateKey, claims()));
  });

  it('refuses a tampered payload', async () => {
    const [header, , signature] = (await signWith(svc.keys.privateKey, claims())).split('.');
    await expectUnauthorized(`${header}.${b64({ ...claims(), role: 'platform_admin' })}.${signature}`);
  });

  it('refuses a tenant role without a tenant_id, an unknown role and an over-long sub', async () => {
    const { tenant_id: _t, ...noTenant } = claims();
    await expectUnauthorized(await signWith(svc.keys.privateKey, { ...noTenant, role: 'user' }));
    await expectUnauthorized(await signWith(svc.keys.privateKey, { ...claims(), role: 'root' }));
    await expectUnauthorized(await signWith(svc.keys.privateKey, { ...claims(), sub: 'x'.repeat(201) }));
  });

  it('refuses a malformed Authorization header', async () => {
    const res = await svc.request('GET', '/v1/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(res.status).toBe(401);
  });

  it('accepts ES256 tokens when the public key is an EC P-256 key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ec = await startTestService({
      database: { url: svc.databaseUrl },
      stub: svc.stub,
      env: {
        JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        JWT_PRIVATE_KEY: privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
      },
    });
    try {
      const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const { iss: _i, aud: _a, ...rest } = claims();
      const ok = await ec.request('GET', '/v1/me', { token: await signWith(pkcs8, rest, 'ES256') });
      expect(ok.status).toBe(200);
      const rsa = await ec.request('GET', '/v1/me', { token: await signWith(svc.keys.privateKey, rest) });
      expect(rsa.status).toBe(401);
    } finally {
      await ec.close();
    }
  });
});

describe('tenant API keys', () => {
  it('acts as a tenant admin of its tenant, and stops working at once when revoked', async () => {
    const created = await svc.request('POST', `/v1/tenants/${tenant.id}/api-keys`, {
      token: tenant.adminToken,
      body: { name: 'backend' },
    });
    expect(created.status).toBe(201);
    const { id, key, prefix } = created.body;
    expect(key).toMatch(/^cbk_[A-Za-z0-9_-]{40,}$/);
    expect(key.startsWith(prefix)).toBe(true);

    const me = await svc.request('GET', '/v1/me', { token: key });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ sub: `key:${id}`, role: 'tenant_admin', tenant: { id: tenant.id } });

    const listed = await svc.request('GET', `/v1/tenants/${tenant.id}/api-keys`, { token: key });
    expect(listed.status).toBe(200);
    const item = listed.body.items.find((k: { id: string }) => k.id === id);
    expect(item).toMatchObject({ id, name: 'backend', prefix });
    expect(item.lastUsedAt).not.toBeNull();
    expect(JSON.stringify(listed.body)).not.toContain(key);

    const revoked = await svc.request('DELETE', `/v1/tenants/${tenant.id}/api-keys/${id}`, {
      token: tenant.adminToken,
    });
    expect(revoked.status).toBe(204);
    await expectUnauthorized(key);
  });

  it('refuses an unknown key', async () => {
    await expectUnauthorized('cbk_' + 'A'.repeat(43));
  });

  it('stores only a hash of the key', async () => {
    const created = await svc.request('POST', `/v1/tenants/${tenant.id}/api-keys`, {
      token: tenant.adminToken,
    });
    const postgres = (await import('postgres')).default;
    const sql = postgres(svc.databaseUrl, { max: 1 });
    try {
      const rows = await sql`select * from api_keys where id = ${created.body.id}`;
      expect(JSON.stringify(rows)).not.toContain(created.body.key);
    } finally {
      await sql.end();
    }
  });
});

describe('DISABLE_AUTH', () => {
  it('acts as user dev, tenant_admin of the tenant with slug default, created at start', async () => {
    const dev = await startTestService({
      database: { url: svc.databaseUrl },
      stub: svc.stub,
      env: { DISABLE_AUTH: 'true' },
    });
    try {
      const me = await dev.request('GET', '/v1/me');
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ sub: 'dev', role: 'tenant_admin', tenant: { slug: 'default' } });
      const session = await dev.request('POST', '/v1/sessions', { body: { title: 'dev chat' } });
      expect(session.status).toBe(201);
    } finally {
      await dev.close();
    }
  });
});
