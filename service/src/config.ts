// Configuration from the environment, exactly as API.md's table lists it.
// Every value is validated at start; a problem names the variable.

export type Environment = 'development' | 'staging' | 'production';

export interface Config {
  environment: Environment;
  logLevel: string;
  apiHost: string;
  apiPort: number;
  databaseUrl: string;
  dbPoolSize: number;
  dbMaxOverflow: number;
  redisUrl: string;
  cacheTtlSeconds: number;
  disableAuth: boolean;
  jwtPublicKey: string | undefined;
  jwtPrivateKey: string | undefined;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
  fernetKey: string | undefined;
  openrouterApiKey: string | undefined;
  openrouterBaseUrl: string;
  defaultModel: string;
  llmTimeoutMs: number;
  corsOrigins: string[];
  allowedHosts: string[];
  defaultRateLimitRpm: number;
  defaultRateLimitTpm: number;
  rateLimitWindowSeconds: number;
  shutdownGraceMs: number;
  webRoot: string | undefined;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A literal `\n` in an environment value stands for a newline (PEM keys in one line). */
export function unescapeNewlines(value: string): string {
  return value.replace(/\\n/g, '\n');
}

/** The JWT algorithm a key is used with: RS256 for RSA, ES256 for P-256, EdDSA for Ed25519. */
export function jwtAlgorithmFor(key: KeyObject): 'RS256' | 'ES256' | 'EdDSA' | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  return undefined;
}

function checkKey(
  name: string,
  pem: string | undefined,
  kind: 'public' | 'private',
  problems: string[],
): void {
  if (pem === undefined) return;
  let key: KeyObject;
  try {
    key = kind === 'public' ? createPublicKey(pem) : createPrivateKey(pem);
  } catch {
    problems.push(`${name} is not a PEM ${kind} key Node can read`);
    return;
  }
  if (jwtAlgorithmFor(key) === undefined) {
    problems.push(`${name} must be an RSA, EC P-256 or Ed25519 key`);
  }
}

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];

  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const required = (name: string): string => {
    const v = str(name);
    if (v === undefined) problems.push(`${name} is required`);
    return v ?? '';
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = str(name);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${v}")`);
      return fallback;
    }
    return Number(v);
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = str(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no'].includes(v)) return false;
    problems.push(`${name} must be true or false (got "${v}")`);
    return fallback;
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const v = str(name);
    if (v === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      problems.push(`${name} must be one of ${allowed.join(', ')} (got "${v}")`);
      return fallback;
    }
    return v as T;
  };
  const url = (name: string, value: string, protocols: string[]): void => {
    if (value === '') return;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      problems.push(`${name} is not a valid URL`);
      return;
    }
    if (!protocols.includes(parsed.protocol)) {
      problems.push(`${name} must use ${protocols.map((p) => p.replace(':', '://')).join(' or ')}`);
    }
  };
  const list = (name: string): string[] =>
    (str(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');

  const environment = oneOf<Environment>('ENVIRONMENT', 'development', [
    'development',
    'staging',
    'production',
  ]);
  const logLevel = oneOf('LOG_LEVEL', 'info', LOG_LEVELS);
  const databaseUrl = required('DATABASE_URL');
  url('DATABASE_URL', databaseUrl, ['postgres:', 'postgresql:']);
  const redisUrl = required('REDIS_URL');
  url('REDIS_URL', redisUrl, ['redis:', 'rediss:']);
  const openrouterBaseUrl = str('OPENROUTER_BASE_URL') ?? 'https://openrouter.ai/api/v1';
  url('OPENROUTER_BASE_URL', openrouterBaseUrl, ['http:', 'https:']);

  const disableAuth = bool('DISABLE_AUTH', false);
  if (disableAuth && environment === 'production') {
    problems.push('DISABLE_AUTH=true is refused when ENVIRONMENT=production');
  }

  const pem = (name: string): string | undefined => {
    const v = str(name);
    return v === undefined ? undefined : unescapeNewlines(v);
  };

  const fernetKey = str('FERNET_KEY');
  if (fernetKey !== undefined) {
    const ok = /^[A-Za-z0-9_-]{43}=?$/.test(fernetKey) && Buffer.from(fernetKey, 'base64url').length === 32;
    if (!ok) problems.push('FERNET_KEY must be url-safe base64 of 32 bytes');
  }

  const corsOrigins = list('CORS_ORIGINS');
  for (const origin of corsOrigins) {
    if (origin === '*') continue;
    try {
      const u = new URL(origin);
      if (u.origin !== origin) throw new Error('not an origin');
    } catch {
      problems.push(`CORS_ORIGINS holds "${origin}", which is not an origin like https://example.com`);
    }
  }

  const config: Config = {
    environment,
    logLevel,
    apiHost: str('API_HOST') ?? '0.0.0.0',
    apiPort: int('API_PORT', 8000, 0, 65535),
    databaseUrl,
    dbPoolSize: int('DB_POOL_SIZE', 5, 1, 1000),
    dbMaxOverflow: int('DB_MAX_OVERFLOW', 10, 0, 1000),
    redisUrl,
    cacheTtlSeconds: int('CACHE_TTL_SECONDS', 3600, 1, 30 * 86400),
    disableAuth,
    jwtPublicKey: pem('JWT_PUBLIC_KEY'),
    jwtPrivateKey: pem('JWT_PRIVATE_KEY'),
    jwtIssuer: str('JWT_ISSUER'),
    jwtAudience: str('JWT_AUDIENCE'),
    fernetKey,
    openrouterApiKey: str('OPENROUTER_API_KEY'),
    openrouterBaseUrl: openrouterBaseUrl.replace(/\/+$/, ''),
    defaultModel: str('DEFAULT_MODEL') ?? 'openai/gpt-4o-mini',
    llmTimeoutMs: int('LLM_TIMEOUT_MS', 60000, 1, 3_600_000),
    corsOrigins,
    allowedHosts: list('ALLOWED_HOSTS').map((h) => h.toLowerCase()),
    defaultRateLimitRpm: int('DEFAULT_RATE_LIMIT_RPM', 60, 1, 10_000_000),
    defaultRateLimitTpm: int('DEFAULT_RATE_LIMIT_TPM', 100000, 1, 10_000_000_000),
    rateLimitWindowSeconds: int('RATE_LIMIT_WINDOW_SECONDS', 60, 1, 3600),
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 25000, 0, 3_600_000),
    webRoot: str('WEB_ROOT'),
  };

  checkKey('JWT_PUBLIC_KEY', config.jwtPublicKey, 'public', problems);
  checkKey('JWT_PRIVATE_KEY', config.jwtPrivateKey, 'private', problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
