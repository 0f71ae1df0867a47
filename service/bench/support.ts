// What the service's benchmarks share: their knobs, and a world of Postgres (durable commits),
// Redis, the LLM stub (a process of its own) and the service in the benchmark's process.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTokenSigner } from '../src/lib/jwt.ts';
import { runMigrations } from '../src/migrate.ts';
import { createApiClient } from '@chatbot/api-client';
import { startPostgres, startRedis, type StartedContainer } from '@chatbot/test-kit/docker';
import { startLlmStubProcess } from '@chatbot/test-kit/llm-stub';

/** A knob from the environment: a number of at least `min`, else `fallback` when unset or empty. */
export function envNumber(name: string, fallback: number, min = 1): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number of at least ${min}`);
  return n;
}

type Role = 'platform_admin' | 'tenant_admin' | 'user';

export interface BenchWorld {
  postgres: StartedContainer;
  redis: StartedContainer;
  app: Awaited<ReturnType<typeof buildApp>>;
  /** The service's address, http://127.0.0.1:PORT. */
  origin: string;
  /** A JWT for that subject, valid an hour. */
  token(sub: string, role: Role, tenantId: string | null): Promise<string>;
  /** A platform_admin's JWT. */
  ops: string;
  /** A JSON request to the service; anything but 2xx throws. */
  json(method: string, path: string, token: string, body?: unknown): Promise<any>;
  /** Stops what the world started (keepContainers leaves Postgres and Redis running). */
  close(options?: { keepContainers?: boolean }): Promise<void>;
}

/**
 * Starts Postgres (durable commits, plus postgresArgs), Redis, the stub and the service as
 * production runs it (ES256 JWTs, LOG_LEVEL warn), with env added to its configuration.
 * On a failure part way, what was started is stopped again.
 */
export async function startBenchWorld(
  input: { name: string; postgresArgs?: string[]; env?: Record<string, string> },
  log: (text: string) => void,
): Promise<BenchWorld> {
  const started: StartedContainer[] = [];
  const uploads = mkdtempSync(join(tmpdir(), `bench-${input.name}-`));
  let stub: Awaited<ReturnType<typeof startLlmStubProcess>> | undefined;
  let app: BenchWorld['app'] | undefined;
  const close: BenchWorld['close'] = async (options = {}) => {
    await app?.close().catch(() => undefined);
    await stub?.stop();
    if (options.keepContainers) log(`kept: ${started.map((c) => `${c.name} ${c.url}`).join(', ')}`);
    else await Promise.all(started.map((c) => c.stop()));
    rmSync(uploads, { recursive: true, force: true });
  };
  try {
    log('starting Postgres (durable commits) and Redis');
    const [postgres, redis] = await Promise.all([
      startPostgres({ durable: true, ...(input.postgresArgs ? { args: input.postgresArgs } : {}) }),
      startRedis(),
    ]);
    started.push(postgres, redis);
    await runMigrations(postgres.url);
    const llm = await startLlmStubProcess();
    stub = llm;
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const config = loadConfig({
      ENVIRONMENT: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      JWT_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      JWT_PRIVATE_KEY: privateKey,
      OPENROUTER_API_KEY: 'sk-bench',
      OPENROUTER_BASE_URL: llm.url,
      UPLOADS_DIR: uploads,
      KB_QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
      ...input.env,
    });
    app = await buildApp(config, { logger: { level: 'warn' } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const origin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    const sign = createTokenSigner(privateKey, { issuer: undefined, audience: undefined });
    const token: BenchWorld['token'] = async (sub, role, tenantId) =>
      (await sign({ sub, role, tenantId }, 3600)).token;
    const client = createApiClient({ baseUrl: origin, getToken: () => null });
    const json: BenchWorld['json'] = (method, path, bearer, body) =>
      client.request(method, path, { token: bearer, ...(body ? { body } : {}) });
    return {
      postgres,
      redis,
      app,
      origin,
      token,
      ops: await token('ops', 'platform_admin', null),
      json,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
