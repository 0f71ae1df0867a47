// `token --sub <user> [--tenant <tenant id>] [--role <role>] [--ttl <seconds>]`: prints a JWT
// signed with JWT_PRIVATE_KEY on stdout, one line, and nothing else there. Needs no database.
import { parseArgs } from 'node:util';
import { unescapeNewlines } from './lib/keys.ts';
import { createTokenSigner, isUuid, ROLES, type Role } from './lib/jwt.ts';

const USAGE =
  'usage: token --sub <user> [--tenant <tenant id>] [--role user|tenant_admin|platform_admin] [--ttl <seconds>]';

export async function tokenCommand(
  args: string[],
  env: Record<string, string | undefined> = process.env,
  out: (line: string) => void = (line) => process.stdout.write(line),
): Promise<number> {
  const fail = (message: string, code = 2): number => {
    process.stderr.write(`token: ${message}\n${USAGE}\n`);
    return code;
  };
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        sub: { type: 'string' },
        tenant: { type: 'string' },
        role: { type: 'string', default: 'user' },
        ttl: { type: 'string', default: '3600' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return fail((error as Error).message);
  }
  const { sub, tenant, role, ttl } = values;
  if (sub === undefined || sub.length === 0 || sub.length > 200)
    return fail('--sub is required (1 to 200 characters)');
  if (!(ROLES as readonly string[]).includes(role)) return fail(`--role must be one of ${ROLES.join(', ')}`);
  if (role !== 'platform_admin' && (tenant === undefined || !isUuid(tenant))) {
    return fail('--tenant <tenant id (UUID)> is required unless --role platform_admin');
  }
  if (!/^\d+$/.test(ttl) || Number(ttl) < 1) return fail('--ttl must be a positive number of seconds');
  const privateKey = env.JWT_PRIVATE_KEY?.trim();
  if (!privateKey) return fail('JWT_PRIVATE_KEY is not set', 1);

  let sign;
  try {
    sign = createTokenSigner(unescapeNewlines(privateKey), {
      issuer: env.JWT_ISSUER?.trim() || undefined,
      audience: env.JWT_AUDIENCE?.trim() || undefined,
    });
  } catch {
    return fail('JWT_PRIVATE_KEY is not a PEM private key Node can read (RSA, EC P-256 or Ed25519)', 1);
  }
  const { token } = await sign(
    { sub, role: role as Role, tenantId: role === 'platform_admin' ? null : (tenant ?? null) },
    Number(ttl),
  );
  out(`${token}\n`);
  return 0;
}
