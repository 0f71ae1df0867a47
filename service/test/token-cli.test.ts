// The image's `token` command: the JWT alone on stdout, signed with JWT_PRIVATE_KEY.
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateRsaKeys } from './support/harness.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const keys = generateRsaKeys();

function token(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [MAIN, 'token', ...args], {
    env: { PATH: process.env.PATH, JWT_PRIVATE_KEY: keys.privateKey.replace(/\n/g, '\\n'), ...env },
    encoding: 'utf8',
    timeout: 120_000, // a deadline for a hung command, not a measure: a loaded machine starts Node slowly
  });
}

describe('token command', { timeout: 150_000 }, () => {
  it('prints one line: a platform_admin JWT without a tenant, with iss and aud from the environment', async () => {
    const result = token(['--sub', 'ops', '--role', 'platform_admin'], {
      JWT_ISSUER: 'iss-x',
      JWT_AUDIENCE: 'aud-y',
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const { payload, protectedHeader } = await jwtVerify(
      result.stdout.trim(),
      createPublicKey(keys.publicKey),
      {
        issuer: 'iss-x',
        audience: 'aud-y',
      },
    );
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub: 'ops', role: 'platform_admin' });
    expect(payload.tenant_id).toBeUndefined();
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it('writes the tenant, role and ttl it is given', async () => {
    const tenant = '5f0c4a53-2a4e-4c07-9d6b-2f0f7a1e8d11';
    const result = token(['--sub', 'u1', '--tenant', tenant, '--role', 'tenant_admin', '--ttl', '60']);
    expect(result.status, result.stderr).toBe(0);
    const { payload } = await jwtVerify(result.stdout.trim(), createPublicKey(keys.publicKey));
    expect(payload).toMatchObject({ sub: 'u1', tenant_id: tenant, role: 'tenant_admin' });
    expect(payload.exp! - payload.iat!).toBe(60);
  });

  it.each([
    [['--role', 'user'], '--sub'],
    [['--sub', 'u'], '--tenant'],
    [['--sub', 'u', '--role', 'root'], '--role'],
    [['--sub', 'u', '--role', 'platform_admin', '--ttl', 'soon'], '--ttl'],
    [['--sub', 'u', '--bogus'], 'bogus'],
  ])('refuses %j with a usage message on stderr and nothing on stdout', (args, word) => {
    const result = token(args);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(word);
  });

  it('fails clearly without JWT_PRIVATE_KEY', () => {
    const result = token(['--sub', 'ops', '--role', 'platform_admin'], { JWT_PRIVATE_KEY: '' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('JWT_PRIVATE_KEY');
  });
});
