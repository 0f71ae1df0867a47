// The service under test: a fresh database per test file (migrated), the shared Redis, an
// LLM stub on loopback, JWT keys made on the fly, and the app listening on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest } from 'node:http';
import type {} from '@chatbot/test-kit/global-setup';
import { startLlmStub, type LlmStub } from '@chatbot/test-kit/llm-stub';
import postgres from 'postgres';
import { inject } from 'vitest';
import { buildApp, loggerOptions, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createTokenSigner, type Role } from '../../src/lib/jwt.ts';
import { MIGRATIONS_FOLDER, runMigrations } from '../../src/migrate.ts';

export function generateRsaKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The login role each test database's service connects as, by database name (this process's). */
const logins = new Map<string, { user: string; password: string }>();

/**
 * A database of its own for one test file, migrated by its owner (`url`, the cluster's
 * superuser), with a login role of its own for the service (`appUrl`), as `migrate` provisions
 * it from DATABASE_URL and MIGRATION_DATABASE_URL; both dropped by `drop`.
 */
export async function createTestDatabase(): Promise<{ url: string; appUrl: string; drop(): Promise<void> }> {
  const adminUrl = inject('databaseUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const login = { user: `app_${name}`, password: randomBytes(12).toString('hex') };
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const appUrl = new URL(url);
  appUrl.username = login.user;
  appUrl.password = login.password;
  await runMigrations(url.toString(), MIGRATIONS_FOLDER, { appDatabaseUrl: appUrl.toString() });
  logins.set(name, login);
  return {
    url: url.toString(),
    appUrl: appUrl.toString(),
    drop: async () => {
      logins.delete(name);
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists ${name} with (force)`);
        await sql.unsafe(`drop role if exists ${login.user}`);
      } finally {
        await sql.end();
      }
    },
  };
}

/**
 * The service's URL for a test database's owner URL (possibly through a proxy): the same
 * host, port and database, as the database's login role. A database made elsewhere keeps the
 * URL it was given.
 */
export function appDatabaseUrlOf(ownerUrl: string): string {
  const url = new URL(ownerUrl);
  const login = logins.get(url.pathname.slice(1));
  if (login === undefined) return ownerUrl;
  url.username = login.user;
  url.password = login.password;
  return url.toString();
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface TestService {
  app: App;
  url: string;
  stub: LlmStub;
  /** The database's owner (the cluster's superuser in tests): for raw looks and for sharing. */
  databaseUrl: string;
  /** What the service connects with (its DATABASE_URL): the database's login role. */
  appDatabaseUrl: string;
  env: Record<string, string>;
  keys: { publicKey: string; privateKey: string };
  token(claims: { sub: string; role?: Role; tenantId?: string | null }, ttlSeconds?: number): Promise<string>;
  request<T = any>(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<ApiResponse<T>>;
  /** A tenant created by a platform admin, with tokens for a user and a tenant admin. */
  createTenant(input?: { name?: string; settings?: unknown }): Promise<{
    id: string;
    slug: string;
    userToken: string;
    adminToken: string;
    tokenFor(sub: string, role?: Role): Promise<string>;
  }>;
  platformToken: string;
  close(): Promise<void>;
}

/**
 * The service's environment in tests: the test database and Redis, the given JWT keys, a
 * fresh Fernet key and the LLM stub as the provider; no knowledge-base workers.
 */
export function testServiceEnv(input: {
  databaseUrl: string;
  stubUrl: string;
  keys: { publicKey: string; privateKey: string };
}): Record<string, string> {
  return {
    ENVIRONMENT: 'development',
    DATABASE_URL: input.databaseUrl,
    REDIS_URL: inject('redisUrl'),
    JWT_PUBLIC_KEY: input.keys.publicKey,
    JWT_PRIVATE_KEY: input.keys.privateKey,
    FERNET_KEY: randomBytes(32).toString('base64url') + '=',
    OPENROUTER_API_KEY: 'sk-platform-test',
    OPENROUTER_BASE_URL: input.stubUrl,
    DEFAULT_MODEL: 'test/model',
    LLM_TIMEOUT_MS: '5000',
    // No knowledge-base workers unless a test asks for them (with a queue prefix of its own).
    KB_WORKER_CONCURRENCY: '0',
  };
}

let keysOnce: { publicKey: string; privateKey: string } | undefined;

export async function startTestService(
  options: {
    env?: Record<string, string>;
    database?: { url: string };
    stub?: LlmStub;
    /** Receives the service's JSON log lines. */
    logStream?: { write(line: string): void };
  } = {},
): Promise<TestService> {
  const keys = (keysOnce ??= generateRsaKeys());
  const ownDatabase = options.database === undefined ? await createTestDatabase() : undefined;
  const databaseUrl = options.database?.url ?? ownDatabase!.url;
  const appDatabaseUrl = appDatabaseUrlOf(databaseUrl);
  const stub = options.stub ?? (await startLlmStub());
  const env: Record<string, string> = {
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...testServiceEnv({ databaseUrl: appDatabaseUrl, stubUrl: stub.url, keys }),
    ...options.env,
  };
  const config = loadConfig(env);
  const app = await buildApp(
    config,
    options.logStream === undefined
      ? {}
      : { logger: { ...(loggerOptions(config) as object), stream: options.logStream } },
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  const sign = createTokenSigner(keys.privateKey, { issuer: config.jwtIssuer, audience: config.jwtAudience });

  const token: TestService['token'] = async (claims, ttlSeconds = 3600) =>
    (
      await sign(
        { sub: claims.sub, role: claims.role ?? 'user', tenantId: claims.tenantId ?? null },
        ttlSeconds,
      )
    ).token;

  const request: TestService['request'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    // node:http rather than fetch: tests set headers fetch refuses to send (Host).
    const res = await new Promise<{ status: number; headers: Headers; text: string }>((resolve, reject) => {
      const req = httpRequest(url + path, { method, headers }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined)
              responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          resolve({ status: response.statusCode ?? 0, headers: responseHeaders, text });
        });
        response.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    const text = res.text;
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('application/json') && text !== '')
      parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as any };
  };

  const platformToken = await token({ sub: 'ops', role: 'platform_admin' });

  const createTenant: TestService['createTenant'] = async (input = {}) => {
    const name = input.name ?? `Tenant ${randomBytes(4).toString('hex')}`;
    const res = await request('POST', '/v1/tenants', {
      token: platformToken,
      body: { name, ...(input.settings === undefined ? {} : { settings: input.settings }) },
    });
    if (res.status !== 201)
      throw new Error(`creating a tenant answered ${res.status}: ${JSON.stringify(res.body)}`);
    const id = res.body.id as string;
    const tokenFor = (sub: string, role: Role = 'user') => token({ sub, role, tenantId: id });
    return {
      id,
      slug: res.body.slug,
      userToken: await tokenFor('alice'),
      adminToken: await tokenFor('admin', 'tenant_admin'),
      tokenFor,
    };
  };

  return {
    app,
    url,
    stub,
    databaseUrl,
    appDatabaseUrl,
    env,
    keys,
    token,
    request,
    createTenant,
    platformToken,
    close: async () => {
      await app.close();
      if (options.stub === undefined) await stub.close();
      await ownDatabase?.drop();
    },
  };
}

/**
 * A JSON POST on a connection of its own (no agent): `answered` resolves with the status, or 0
 * when none came; destroying `request` leaves, as a client (or nginx) closing it does.
 */
export function postOnOwnConnection(
  url: string,
  headers: Record<string, string>,
  body: unknown,
): { request: ClientRequest; answered: Promise<number> } {
  let request!: ClientRequest;
  const answered = new Promise<number>((resolve) => {
    request = httpRequest(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', () => resolve(0));
    request.end(JSON.stringify(body));
  });
  return { request, answered };
}

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  logs: string[];
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The service as a real process (`node src/main.ts`), on a port the OS picks. */
export async function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  const main = new URL('../../src/main.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', ...env, API_HOST: '127.0.0.1', API_PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      buffered += text;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        logs.push(line);
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (match) resolve(match[1]!);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => logs.push(text));
    void exited.then((code) =>
      reject(new Error(`service exited with ${code} before listening:\n${logs.join('\n')}`)),
    );
  });
  return {
    url,
    child,
    logs,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
