// Configuration: defaults, and every problem named by its variable.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { generateRsaKeys } from './support/harness.ts';

const base = { DATABASE_URL: 'postgres://u:p@db:5432/chatbot', REDIS_URL: 'redis://:pw@redis:6379' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it("applies API.md's defaults", () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      environment: 'development',
      logLevel: 'info',
      apiHost: '0.0.0.0',
      apiPort: 8000,
      dbPoolSize: 5,
      dbMaxOverflow: 10,
      cacheTtlSeconds: 3600,
      disableAuth: false,
      openrouterBaseUrl: 'https://openrouter.ai/api/v1',
      defaultModel: 'openai/gpt-4o-mini',
      llmTimeoutMs: 60000,
      corsOrigins: [],
      allowedHosts: [],
      defaultRateLimitRpm: 60,
      defaultRateLimitTpm: 100000,
      rateLimitWindowSeconds: 60,
      shutdownGraceMs: 25000,
      appVersion: 'dev',
      webRoot: undefined,
    });
  });

  it.each([
    ['DATABASE_URL', { DATABASE_URL: '' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['REDIS_URL', { REDIS_URL: 'not a url' }],
    ['API_PORT', { API_PORT: '80a' }],
    ['API_PORT', { API_PORT: '70000' }],
    ['DB_POOL_SIZE', { DB_POOL_SIZE: '0' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['ENVIRONMENT', { ENVIRONMENT: 'prod' }],
    ['DISABLE_AUTH', { DISABLE_AUTH: 'maybe' }],
    ['FERNET_KEY', { FERNET_KEY: 'too-short' }],
    ['JWT_PUBLIC_KEY', { JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----' }],
    ['JWT_PRIVATE_KEY', { JWT_PRIVATE_KEY: 'secret' }],
    ['OPENROUTER_BASE_URL', { OPENROUTER_BASE_URL: 'ftp://x' }],
    ['LLM_TIMEOUT_MS', { LLM_TIMEOUT_MS: '-5' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://ok.example.com,not-an-origin' }],
    ['DEFAULT_RATE_LIMIT_RPM', { DEFAULT_RATE_LIMIT_RPM: 'lots' }],
    ['RATE_LIMIT_WINDOW_SECONDS', { RATE_LIMIT_WINDOW_SECONDS: '0' }],
    ['SHUTDOWN_GRACE_MS', { SHUTDOWN_GRACE_MS: '1.5' }],
  ])('names %s when it is missing or malformed', (name, env) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(name);
  });

  it('refuses DISABLE_AUTH=true when ENVIRONMENT=production', () => {
    expect(problemsOf({ DISABLE_AUTH: 'true', ENVIRONMENT: 'production' })).toEqual([
      'DISABLE_AUTH=true is refused when ENVIRONMENT=production',
    ]);
    expect(problemsOf({ DISABLE_AUTH: 'true', ENVIRONMENT: 'staging' })).toEqual([]);
  });

  it('reads PEM keys written on one line with literal \\n', () => {
    const { publicKey } = generateRsaKeys();
    const config = loadConfig({ ...base, JWT_PUBLIC_KEY: publicKey.replace(/\n/g, '\\n') });
    expect(config.jwtPublicKey).toBe(publicKey);
  });

  it('stops the server process with a message naming the variable', () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const result = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH, REDIS_URL: 'redis://localhost:6379', API_PORT: 'eighty' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL is required');
    expect(result.stderr).toContain('API_PORT must be an integer');
  });
});
