// The container image (Dockerfile at the repository root), built and run the way the stacks
// run it: Postgres + pgvector, Redis and an LLM stub on a Docker network of its own, the
// image's `migrate`, then the app container, reached through its port published on loopback.
// Everything started here is removed afterwards, also when a step fails.
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { docker, removeContainer, startPostgres, startRedis, uniqueName } from '@chatbot/test-kit/docker';
import { generateRsaKeys } from './support/harness.ts';
import {
  buildImage,
  buildStep,
  copyBuildContext,
  dockerOk,
  dockerRun,
  history,
  hostPort,
  layerDigests,
  publishTarget,
  tail,
  waitUntil,
} from './support/image/image-tools.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STUB_SOURCE = fileURLToPath(import.meta.resolve('@chatbot/test-kit/llm-stub'));
const NODE_IMAGE = process.env.TEST_NODE_IMAGE ?? 'node:24-bookworm-slim';
/** The most this project may add over the base image ("60 MB" as Docker counts: 10^6). */
const ADDED_BYTES_BUDGET = 60_000_000;
const SHUTDOWN_GRACE_MS = 10_000;
const STUB_SLOW_DELAY_MS = 3_000;

const prefix = uniqueName('chatbot-image-test');
const tag = `${prefix}:test`;
const rebuildTag = `${prefix}:rebuild`;
const contextTag = `${prefix}:context`;
const network = `${prefix}-net`;
const names = { pg: `${prefix}-pg`, redis: `${prefix}-redis`, stub: `${prefix}-llm`, app: `${prefix}-app` };
const buildArgs = {
  NODE_IMAGE,
  VERSION: `0.0.0-image-test.${prefix.slice(-8)}`,
  REVISION: randomBytes(20).toString('hex'),
  SOURCE: 'https://example.com/chatbot/platform',
};

// Secrets of this run: they reach containers through environment variables only.
const keys = generateRsaKeys();
const postgresPassword = randomBytes(16).toString('hex');
const redisPassword = randomBytes(16).toString('hex');
const appEnv: Record<string, string> = {
  ENVIRONMENT: 'production',
  DATABASE_URL: `postgres://postgres:${postgresPassword}@${names.pg}:5432/chatbot`,
  REDIS_URL: `redis://:${redisPassword}@${names.redis}:6379`,
  JWT_PUBLIC_KEY: keys.publicKey,
  JWT_PRIVATE_KEY: keys.privateKey,
  FERNET_KEY: `${randomBytes(32).toString('base64url')}=`,
  OPENROUTER_API_KEY: `sk-or-image-test-${randomBytes(16).toString('hex')}`,
  OPENROUTER_BASE_URL: `http://${names.stub}:8080/v1`,
  DEFAULT_MODEL: 'test/model',
  LLM_TIMEOUT_MS: '15000',
  SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
  WEB_ROOT: '/srv/web',
};
const secretValues = [
  postgresPassword,
  redisPassword,
  appEnv.FERNET_KEY!,
  appEnv.OPENROUTER_API_KEY!,
  // Every line of the private key's body: none may appear anywhere, whole or in part.
  ...keys.privateKey.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----')),
];
/** `-e NAME` for each variable: the values travel in the docker client's environment. */
const envFlags = (env: Record<string, string>): string[] => Object.keys(env).flatMap((name) => ['-e', name]);

const containers: string[] = [];
const tempDirs: string[] = [];
let networkCreated = false;
let baseUrl = '';

/** Postgres and Redis on the test's network, by the names and with the passwords appEnv holds. */
async function startDatabases(): Promise<void> {
  containers.push(names.pg, names.redis);
  const on = { network };
  await Promise.all([
    startPostgres({ ...on, name: names.pg, password: postgresPassword }),
    startRedis({ ...on, name: names.redis, password: redisPassword }),
  ]);
}

async function startStub(): Promise<void> {
  // `docker cp` rather than a bind mount, so a remote (dind) engine works too.
  containers.push(names.stub);
  await docker([
    'create',
    '--name',
    names.stub,
    '--network',
    network,
    '-e',
    'STUB_PORT=8080',
    '-e',
    `STUB_SLOW_DELAY_MS=${STUB_SLOW_DELAY_MS}`,
    NODE_IMAGE,
    'node',
    '/tmp/llm-stub.ts',
  ]);
  await docker(['cp', STUB_SOURCE, `${names.stub}:/tmp/llm-stub.ts`]);
  await docker(['start', names.stub]);
  await waitUntil('llm stub', async () => (await docker(['logs', names.stub])).includes('listening'));
}

/** `docker run --rm IMAGE token ...` with JWT_PRIVATE_KEY from the environment. */
async function mintToken(args: string[]): Promise<string> {
  const name = uniqueName(`${prefix}-token`);
  containers.push(name);
  const out = await dockerOk(
    ['run', '--rm', '--name', name, '-e', 'JWT_PRIVATE_KEY', tag, 'token', ...args],
    {
      env: { JWT_PRIVATE_KEY: keys.privateKey },
    },
  );
  expect(out).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/); // the JWT alone, one line
  return out;
}

async function api(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('application/json') ? JSON.parse(text) : text;
  return { status: res.status, headers: res.headers, body: json };
}

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

beforeAll(async () => {
  await docker(['network', 'create', network]);
  networkCreated = true;
  // The build and the containers it is tested with start together.
  const results = await Promise.allSettled([
    buildImage({ context: REPO_ROOT, tag, buildArgs }),
    startDatabases(),
    startStub(),
  ]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}, 20 * 60_000);

afterAll(async () => {
  await Promise.all(containers.map((name) => removeContainer(name)));
  if (networkCreated) await docker(['network', 'rm', network]).catch(() => undefined);
  for (const image of [tag, rebuildTag, contextTag])
    await docker(['image', 'rm', image]).catch(() => undefined);
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
}, 120_000);

describe('the container image', { timeout: 180_000 }, () => {
  it('is the base image plus at most 60 MB of layers (prints the sizes)', async () => {
    const [image, base, imageLayers, baseLayers] = await Promise.all([
      history(tag),
      history(NODE_IMAGE),
      layerDigests(tag),
      layerDigests(NODE_IMAGE),
    ]);
    expect(imageLayers.slice(0, baseLayers.length)).toEqual(baseLayers);
    expect(image.slice(image.length - base.length).map((l) => l.size)).toEqual(base.map((l) => l.size));
    const added = image.slice(0, image.length - base.length);
    const addedBytes = sum(added.map((l) => l.size));
    const totalBytes = sum(image.map((l) => l.size));
    console.log(
      [
        `image size: total ${megabytes(totalBytes)}, base ${NODE_IMAGE} ${megabytes(totalBytes - addedBytes)}, ` +
          `added ${megabytes(addedBytes)} (budget ${megabytes(ADDED_BYTES_BUDGET)})`,
        ...added
          .filter((l) => l.size > 0)
          .map((l) => `  ${megabytes(l.size).padStart(9)}  ${l.createdBy.slice(0, 90)}`),
      ].join('\n'),
    );
    expect(addedBytes).toBeGreaterThan(0);
    expect(addedBytes).toBeLessThanOrEqual(ADDED_BYTES_BUDGET);
  });

  it('holds the service, its production dependencies and the web build, and nothing else', async () => {
    const manifest = async (path: string) =>
      JSON.parse(await readFile(join(REPO_ROOT, path), 'utf8')) as {
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
      };
    const [root, service, web, infra] = await Promise.all(
      ['package.json', 'service/package.json', 'web/package.json', 'infra/package.json'].map(manifest),
    );
    const runtime = Object.keys(service!.dependencies ?? {});
    const notRuntime = [
      ...Object.keys(root!.devDependencies ?? {}),
      ...Object.keys(service!.devDependencies ?? {}),
      ...Object.keys({ ...web!.dependencies, ...web!.devDependencies }),
      ...Object.keys({ ...infra!.dependencies, ...infra!.devDependencies }),
    ].filter((name) => !runtime.includes(name));
    const mustExist = [
      '/app/service/src/main.ts',
      '/app/service/package.json',
      '/app/service/drizzle/meta/_journal.json',
      '/srv/web/index.html',
      ...runtime.map((name) => `/app/node_modules/${name}/package.json`),
    ];
    const mustNotExist = [
      '/app/service/test',
      '/app/web',
      '/app/infra',
      '/app/node_modules/.bin',
      '/root/.npm',
      '/home/node/.npm',
      ...notRuntime.map((name) => `/app/node_modules/${name}`),
    ];
    // Stats the paths and lists what Node never loads at run time (types, maps, TS sources).
    // The @chatbot/api-types link is left out: Node loads its TypeScript, by the real path
    // (/app/packages/api-types), outside node_modules.
    const script = `
      const fs = require('node:fs');
      const paths = ${JSON.stringify([...mustExist, ...mustNotExist])};
      const exists = Object.fromEntries(paths.map((p) => [p, fs.existsSync(p)]));
      const unused = fs.readdirSync('/app/node_modules', { recursive: true })
        .filter((f) => /\\.(map|[cm]?ts)$/.test(f) && !f.startsWith('@chatbot/api-types/'));
      console.log(JSON.stringify({ exists, unused }));`;
    const out = await dockerOk(['run', '--rm', '--user', '0', '--entrypoint', 'node', tag, '-e', script]);
    const { exists, unused } = JSON.parse(out) as { exists: Record<string, boolean>; unused: string[] };
    expect(mustExist.filter((p) => !exists[p])).toEqual([]);
    expect(mustNotExist.filter((p) => exists[p])).toEqual([]);
    expect(unused).toEqual([]);
  });

  it('migrate applies the migrations and exits 0, and 0 again; a bad database URL exits non-zero', async () => {
    const journal = JSON.parse(
      await readFile(join(REPO_ROOT, 'service/drizzle/meta/_journal.json'), 'utf8'),
    ) as {
      entries: unknown[];
    };
    for (const attempt of [1, 2]) {
      const name = `${prefix}-migrate-${attempt}`;
      containers.push(name);
      const result = await dockerRun(
        ['run', '--rm', '--name', name, '--network', network, '-e', 'DATABASE_URL', tag, 'migrate'],
        { env: { DATABASE_URL: appEnv.DATABASE_URL! } },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('up to date');
      const applied = await dockerOk(
        [
          'exec',
          '-e',
          'PGPASSWORD',
          names.pg,
          'psql',
          '-h',
          '127.0.0.1',
          '-U',
          'postgres',
          '-d',
          'chatbot',
          '-tAc',
          'select count(*) from drizzle.__drizzle_migrations',
        ],
        { env: { PGPASSWORD: postgresPassword } },
      );
      expect(Number(applied)).toBe(journal.entries.length);
    }

    const name = `${prefix}-migrate-bad`;
    containers.push(name);
    const bad = await dockerRun(
      ['run', '--rm', '--name', name, '--network', network, '-e', 'DATABASE_URL', tag, 'migrate'],
      {
        env: { DATABASE_URL: `postgres://postgres:not-the-password@${names.pg}:5432/chatbot` },
      },
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('migrate: failed');
  });

  it('serves as a non-root user, with Node as PID 1, and its HEALTHCHECK reports healthy', async () => {
    containers.push(names.app);
    const target = publishTarget();
    await dockerOk(
      [
        'run',
        '-d',
        '--name',
        names.app,
        '--network',
        network,
        '-p',
        target.publish(8000),
        ...envFlags(appEnv),
        tag,
      ],
      { env: appEnv },
    );
    let status = '';
    try {
      await waitUntil(
        'the app container to be healthy',
        async () => {
          status = await docker([
            'inspect',
            '--format',
            '{{.State.Status}} {{.State.Health.Status}}',
            names.app,
          ]);
          if (status.startsWith('exited')) throw new Error('the app container exited');
          return status === 'running healthy';
        },
        90_000,
        { stopOn: (error) => error instanceof Error && error.message.includes('exited') },
      );
    } catch (error) {
      const logs = await dockerRun(['logs', '--tail', '40', names.app]);
      throw new Error(`app container not healthy (${status}):\n${tail(logs.stdout + logs.stderr, 40)}`, {
        cause: error,
      });
    }
    const health = JSON.parse(await docker(['inspect', '--format', '{{json .State.Health}}', names.app])) as {
      Log: { ExitCode: number }[];
    };
    expect(health.Log.at(-1)?.ExitCode).toBe(0);

    const uid = await docker(['exec', names.app, 'id', '-u']);
    expect(uid).toMatch(/^\d+$/);
    expect(uid).not.toBe('0');
    // PID 1 is Node itself (exec-form ENTRYPOINT, no shell), running as that user: SIGTERM reaches it.
    const pid1 = await docker(['exec', names.app, 'cat', '/proc/1/status']);
    expect(pid1).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
    const cmdline = await docker(['exec', names.app, 'cat', '/proc/1/cmdline']);
    expect(cmdline.split('\0').filter((arg) => arg !== '')).toEqual([
      'node',
      '/app/service/src/main.ts',
      'serve',
    ]);

    // The code is read-only for that user; /app/uploads (the stacks' uploads volume) is writable.
    const writable = await docker([
      'exec',
      names.app,
      'node',
      '-e',
      `const fs = require('node:fs');
       const can = (p) => { try { fs.accessSync(p, fs.constants.W_OK); return true; } catch { return false; } };
       console.log(JSON.stringify(['/app/service/src', '/app/node_modules', '/srv/web', '/app/uploads'].map(can)));`,
    ]);
    expect(JSON.parse(writable)).toEqual([false, false, false, true]);

    baseUrl = `http://${target.host}:${await hostPort(names.app, 8000)}`;
  });

  it('answers /health and the web build, and runs a chat turn with tokens from the token command', async () => {
    const health = await api('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'healthy',
      checks: { database: 'ok', redis: 'ok' },
      version: buildArgs.VERSION,
    });

    const page = await api('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');

    const platformToken = await mintToken(['--sub', 'ops', '--role', 'platform_admin']);
    const tenant = await api('POST', '/v1/tenants', platformToken, { name: 'Image test tenant' });
    expect(tenant.status, JSON.stringify(tenant.body)).toBe(201);
    const adminToken = await mintToken([
      '--sub',
      'admin',
      '--tenant',
      tenant.body.id,
      '--role',
      'tenant_admin',
    ]);
    const userToken = await api('POST', '/v1/tokens', adminToken, { sub: 'alice' });
    expect(userToken.status, JSON.stringify(userToken.body)).toBe(201);

    const session = await api('POST', '/v1/sessions', userToken.body.token, { title: 'from the image test' });
    expect(session.status, JSON.stringify(session.body)).toBe(201);
    const content = `hello from the image ${randomBytes(4).toString('hex')}`;
    const turn = await api('POST', `/v1/sessions/${session.body.id}/messages`, userToken.body.token, {
      content,
    });
    expect(turn.status, JSON.stringify(turn.body)).toBe(201);
    expect(turn.body.reply).toMatchObject({
      role: 'assistant',
      status: 'complete',
      content: `Echo: ${content}`,
    });
  });

  it('drains on SIGTERM: docker stop -t 30 finishes the request in flight and exits 0 within SHUTDOWN_GRACE_MS', async () => {
    const platformToken = await mintToken(['--sub', 'ops', '--role', 'platform_admin']);
    const tenant = await api('POST', '/v1/tenants', platformToken, { name: 'Image shutdown tenant' });
    const userToken = await mintToken(['--sub', 'bob', '--tenant', tenant.body.id]);
    const session = await api('POST', '/v1/sessions', userToken, {});
    expect(session.status).toBe(201);
    // The stub answers `stub/slow` after STUB_SLOW_DELAY_MS: the turn is in flight when SIGTERM
    // comes. It travels on a keep-alive connection (fetch keeps them, as nginx's upstream
    // keepalive does), which the drain must close once the response is out.
    const inFlight = api('POST', `/v1/sessions/${session.body.id}/messages`, userToken, {
      content: 'still there?',
      model: 'stub/slow',
    });
    // In flight once its user message is stored (before the provider call).
    await vi.waitFor(
      async () => {
        const stored = await api('GET', `/v1/sessions/${session.body.id}/messages`, userToken);
        expect(stored.body.items).toHaveLength(1);
      },
      { timeout: 30_000, interval: 100 },
    );

    const started = Date.now();
    await dockerOk(['stop', '-t', '30', names.app], { timeoutMs: 60_000 });
    const elapsedMs = Date.now() - started;
    const turn = await inFlight;
    const state = JSON.parse(await docker(['inspect', '--format', '{{json .State}}', names.app])) as {
      Status: string;
      ExitCode: number;
      OOMKilled: boolean;
    };
    const logs = await dockerRun(['logs', names.app]);
    console.log(`docker stop -t 30 took ${elapsedMs} ms (SHUTDOWN_GRACE_MS ${SHUTDOWN_GRACE_MS})`);

    expect(turn.status, JSON.stringify(turn.body)).toBe(201);
    expect(turn.body.reply.content).toBe('Echo: still there?');
    expect(state, tail(logs.stdout + logs.stderr, 30)).toMatchObject({
      Status: 'exited',
      ExitCode: 0,
      OOMKilled: false,
    });
    // close-with-grace exits 1 when the drain outlives SHUTDOWN_GRACE_MS; docker stop's
    // SIGKILL at 30 s would give 137: exit 0 means the drain ended within the grace.
    expect(logs.stdout).toContain('SIGTERM');
  });

  it('carries OCI labels from the build arguments and no secret in its history or configuration', async () => {
    const config = JSON.parse(await docker(['image', 'inspect', '--format', '{{json .Config}}', tag])) as {
      User: string;
      Env: string[];
      Labels: Record<string, string>;
      Entrypoint: string[];
      Cmd: string[];
      ExposedPorts: Record<string, unknown>;
      Healthcheck: { Test: string[] };
    };
    expect(config.Labels).toMatchObject({
      'org.opencontainers.image.version': buildArgs.VERSION,
      'org.opencontainers.image.revision': buildArgs.REVISION,
      'org.opencontainers.image.source': buildArgs.SOURCE,
    });
    expect(config.Env).toEqual(
      expect.arrayContaining(['NODE_ENV=production', `APP_VERSION=${buildArgs.VERSION}`]),
    );
    expect(config.Entrypoint).toEqual(['node', '/app/service/src/main.ts']);
    expect(config.Cmd).toEqual(['serve']);
    expect(Object.keys(config.ExposedPorts)).toEqual(['8000/tcp']);
    expect(config.User).not.toMatch(/^(|root|0)(:.*)?$/);
    expect(config.Healthcheck.Test.join(' ')).toMatch(/^CMD node -e .*fetch\(.*\/health/);

    const texts = {
      history: await docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', tag]),
      inspect: await docker(['image', 'inspect', tag]),
      containerArgs: await docker(['inspect', '--format', '{{json .Path}} {{json .Args}}', names.app]),
    };
    for (const [where, text] of Object.entries(texts)) {
      for (const secret of secretValues)
        expect(text.includes(secret), `a secret value in ${where}`).toBe(false);
      expect(text, where).not.toMatch(/PRIVATE KEY|PASSWORD=|_KEY=|DATABASE_URL=|REDIS_URL=/);
    }
  });

  it('.dockerignore keeps dependencies, git, tests, build output, local state and secrets out of the context', async () => {
    const context = await mkdtemp(join(tmpdir(), 'chatbot-image-context-'));
    tempDirs.push(context);
    await copyBuildContext(REPO_ROOT, context);
    const canary = randomBytes(12).toString('hex');
    const strays = [
      '.env',
      '.env.production',
      'web/.env.local',
      'service/.env',
      '.git/config',
      'node_modules/canary/index.js',
      'web/node_modules/canary/index.js',
      'web/dist/index.html',
      'service/coverage/index.html',
      '.pulumi-state/stacks/dev.json',
      'infra/Pulumi.dev.yaml',
      'infra/index.ts',
      'service/test/stray.test.ts',
      'web/src/stray.test.tsx',
      'service/src/jwt-private.pem',
    ];
    for (const path of strays) {
      await mkdir(dirname(join(context, path)), { recursive: true });
      await writeFile(join(context, path), `canary ${canary}\n`);
    }
    // A Dockerfile outside the context that copies the whole context: what reaches the builder.
    const dockerfile = join(context, '..', `${basename(context)}.Dockerfile`);
    tempDirs.push(dockerfile);
    await writeFile(dockerfile, `FROM ${NODE_IMAGE}\nCOPY . /context\n`);
    await dockerOk(['build', '--progress=plain', '--tag', contextTag, '--file', dockerfile, context], {
      timeoutMs: 300_000,
    });
    const listing = (
      await dockerOk(['run', '--rm', '--entrypoint', 'find', contextTag, '/context', '-type', 'f'])
    )
      .split('\n')
      .map((line) => line.replace('/context/', ''))
      .sort();

    expect(listing).toEqual(
      expect.arrayContaining([
        'package.json',
        'package-lock.json',
        '.npmrc',
        'service/package.json',
        'service/src/main.ts',
        'service/drizzle/meta/_journal.json',
        'web/package.json',
        'infra/package.json',
      ]),
    );
    expect(listing.filter((path) => strays.includes(path))).toEqual([]);
    expect(
      listing.filter((path) =>
        /(^|\/)(node_modules|\.git|test|tests|dist|coverage|\.pulumi-state)\//.test(path),
      ),
    ).toEqual([]);
    // grep exits 1 when no file holds the canary.
    const grep = await dockerRun([
      'run',
      '--rm',
      '--entrypoint',
      'grep',
      contextTag,
      '-rl',
      canary,
      '/context',
    ]);
    expect(grep.stdout).toBe('');
    expect(grep.code).toBe(1);
  });

  it('rebuilds after a change to one service source file without reinstalling dependencies', async () => {
    const context = await mkdtemp(join(tmpdir(), 'chatbot-image-context-'));
    tempDirs.push(context);
    await copyBuildContext(REPO_ROOT, context);
    await appendFile(join(context, 'service/src/main.ts'), `// rebuild ${randomBytes(4).toString('hex')}\n`);
    const log = await buildImage({ context, tag: rebuildTag, buildArgs });

    const steps = {
      serviceDeps: buildStep(log, 'npm ci --omit=dev'),
      webDeps: buildStep(log, 'npm ci --workspace web'),
      runtimeDeps: buildStep(log, 'COPY --from=deps'),
      sources: buildStep(log, 'COPY service/src/'),
    };
    console.log(
      'rebuild after touching service/src/main.ts:\n' +
        Object.values(steps)
          .map((s) => `  ${s.cached ? 'CACHED' : 'built '}  ${s.title.slice(0, 100)}`)
          .join('\n'),
    );
    expect(steps.serviceDeps.cached).toBe(true);
    expect(steps.webDeps.cached).toBe(true);
    expect(steps.runtimeDeps.cached).toBe(true);
    expect(steps.sources.cached).toBe(false);

    // The same dependency layer in both images: only the source layer differs.
    const [first, second] = await Promise.all([layerDigests(tag), layerDigests(rebuildTag)]);
    expect(second.length).toBe(first.length);
    expect(second.slice(0, -1)).toEqual(first.slice(0, -1));
    expect(second.at(-1)).not.toBe(first.at(-1));
  });
});
