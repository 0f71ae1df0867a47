import { loadConfig } from '@chatbot/service/config';
import { isRequired } from '@chatbot/service/config-reader';
import { ENV } from '@chatbot/service/env';
import type { TSchema } from 'typebox';
import { beforeAll, describe, expect, it } from 'vitest';
import { APP_ENV } from '../app-env.ts';
import { NGINX_PATHS } from '../nginx-config.ts';
import {
  appContainers,
  envOf,
  generatedSecrets,
  named,
  ofType,
  plainStrings,
  reveal,
  runStack,
  STACKS,
  T,
  TEST_SECRETS,
  type RunResult,
  type StackName,
} from './support/stack.ts';

/** The service's variables (API.md, "Configuration (environment)"): what the app's environment may hold. */
const VARIABLES = Object.keys(ENV.properties);
const REQUIRED = Object.entries(ENV.properties as Record<string, TSchema>)
  .filter(([, schema]) => isRequired(schema))
  .map(([name]) => name);
/** What the stacks set (app-env.ts), but for what is unset unless configured (issuer, audience, CORS). */
const SET = Object.keys(APP_ENV).filter((n) => !['JWT_ISSUER', 'JWT_AUDIENCE', 'CORS_ORIGINS'].includes(n));

const runs = {} as Record<StackName, RunResult>;
/** The same stacks with green active, and with every command slow to finish. */
const greenRuns = {} as Record<StackName, RunResult>;
const slowRuns = {} as Record<StackName, RunResult>;

beforeAll(async () => {
  await Promise.all(
    STACKS.map(async (stack) => {
      runs[stack] = await runStack(stack);
      greenRuns[stack] = await runStack(stack, { config: { activeColor: 'green' } });
      slowRuns[stack] = await runStack(stack, { delays: { [T.command]: 150 } });
    }),
  );
  for (const r of [...Object.values(runs), ...Object.values(greenRuns), ...Object.values(slowRuns)]) {
    expect(r.error).toBeUndefined();
  }
});

describe.each(STACKS)('the %s stack', (stack) => {
  it('gives every container a healthcheck, a restart policy and waits for it to be healthy', () => {
    const containers = ofType(runs[stack], T.container);
    expect(containers.length).toBeGreaterThanOrEqual(5);
    for (const c of containers) {
      const hc = c.inputs['healthcheck'] as { tests: string[]; interval: string } | undefined;
      expect(hc?.tests.length, c.name).toBeGreaterThan(1);
      expect(hc?.tests[0], c.name).toMatch(/^CMD(-SHELL)?$/);
      expect(c.inputs['wait'], c.name).toBe(true);
      expect(c.inputs['restart'], c.name).toBe('unless-stopped');
      expect(c.opts.deleteBeforeReplace, c.name).toBe(true);
    }
    expect(named(runs[stack], 'database-postgres').inputs['healthcheck']).toMatchObject({
      tests: ['CMD-SHELL', 'pg_isready -h 127.0.0.1 -U chatbot -d chatbot'],
    });
    expect(named(runs[stack], 'cache-redis').inputs['healthcheck']).toMatchObject({
      tests: ['CMD-SHELL', 'redis-cli -h 127.0.0.1 ping | grep -q PONG'],
    });
  });

  it('checks app health with node’s fetch of /health and stops apps with SIGTERM after the drain time', () => {
    for (const c of appContainers(runs[stack])) {
      const tests = (c.inputs['healthcheck'] as { tests: string[] }).tests;
      expect(tests.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
      expect(tests[3]).toContain("fetch('http://127.0.0.1:8000/health'");
      const graceSeconds = Number(envOf(c)['SHUTDOWN_GRACE_MS']) / 1000;
      expect(c.inputs['stopSignal']).toBe('SIGTERM');
      expect(c.inputs['stopTimeout']).toBeGreaterThan(graceSeconds);
      // What the Docker provider waits for before it removes a replaced container.
      expect(c.inputs['destroyGraceSeconds']).toBeGreaterThan(graceSeconds);
    }
  });

  it('keeps generated passwords and keys and the deployer’s secrets secret in every input and output', () => {
    const result = runs[stack];
    const generated = generatedSecrets(result);
    // Postgres and Redis passwords, the Fernet key, the JWT key, and (dev) the TLS key.
    expect(generated.map((g) => g.resource).sort()).toEqual(
      [
        'app-fernet-key',
        'app-jwt-key',
        'cache-password',
        'database-app-password',
        'database-password',
        ...(stack === 'dev' ? ['proxy-tls-key'] : []),
      ].sort(),
    );
    const given = stack === 'dev' ? [] : [TEST_SECRETS.openrouterApiKey, TEST_SECRETS.registryPassword];
    const everything = JSON.stringify(result.resources.map((r) => reveal(r.inputs)));
    // Each secret reaches some resource (so the check below means something) ...
    for (const g of generated)
      expect(
        g.values.some((v) => everything.includes(v)),
        g.resource,
      ).toBe(true);
    for (const v of given) expect(everything).toContain(v);
    // ... and never outside a secret, in any input or stack output.
    const needles = [...generated.flatMap((g) => g.values), ...given];
    for (const r of result.resources) {
      if (r.type.startsWith('random:') || r.type === 'tls:index/privateKey:PrivateKey') continue; // the generators
      for (const s of plainStrings(r.inputs)) {
        for (const needle of needles)
          expect(s.includes(needle), `${r.name} holds a secret in clear`).toBe(false);
      }
    }
    for (const s of plainStrings(result.outputs)) {
      for (const needle of needles) expect(s.includes(needle), 'a stack output holds a secret').toBe(false);
    }
  });

  it('passes secrets to commands through their environment, never their command line, and logs no migration output', () => {
    for (const cmd of ofType(runs[stack], T.command)) {
      expect(typeof cmd.inputs['create'], cmd.name).toBe('string');
    }
    const migrate = named(runs[stack], 'migrations-migrate');
    expect(migrate.inputs['create']).toContain(
      '--env DATABASE_URL --env MIGRATION_DATABASE_URL "$IMAGE" migrate',
    );
    expect(migrate.inputs['logging']).toBe('none');
    const env = reveal(migrate.inputs['environment']) as Record<string, string>;
    // Migrations run as the owner and provision the service's login role.
    expect(env['MIGRATION_DATABASE_URL']).toMatch(/^postgres:\/\/chatbot:.+@postgres:5432\/chatbot$/);
    expect(env['DATABASE_URL']).toMatch(/^postgres:\/\/chatbot_service:.+@postgres:5432\/chatbot$/);
    expect(new URL(env['DATABASE_URL']!).password).not.toBe(new URL(env['MIGRATION_DATABASE_URL']!).password);
  });

  it('migrates before any app container starts or web volume fills', () => {
    const slow = slowRuns[stack];
    const migrate = named(slow, 'migrations-migrate');
    expect(migrate.started).toBeGreaterThan(named(slow, 'database-postgres').finished);
    const after = [
      ...appContainers(slow),
      ...ofType(slow, T.command).filter((c) => c.name.endsWith('-web-fill')),
    ];
    expect(after.length).toBeGreaterThanOrEqual(4);
    for (const r of after) expect(r.started, r.name).toBeGreaterThan(migrate.finished);
  });

  it('routes nginx only to the active color, switched inside the running nginx', () => {
    for (const [result, active, idle] of [
      [runs[stack], 'blue', 'green'],
      [greenRuns[stack], 'green', 'blue'],
    ] as const) {
      const sw = named(result, 'proxy-switch');
      const upstream = String(sw.inputs['stdin']);
      const activeNames = appContainers(result, active).map((c) => `server ${String(c.inputs['name'])}:8000`);
      expect(activeNames.length).toBeGreaterThan(0);
      for (const n of activeNames) expect(upstream).toContain(n);
      expect(upstream).not.toContain(`-app-${idle}-`);
      expect(upstream).toContain(`map $host $chatbot_color { default ${active}; }`);
      expect(sw.inputs['create']).toContain('docker exec -i "$NGINX_CONTAINER"');
      expect(sw.inputs['create']).toContain('nginx -s reload');
      expect(sw.opts.dependsOn).toEqual(expect.arrayContaining(['proxy-nginx', `app-${active}-web-fill`]));
      expect(result.outputs['activeColor']).toBe(active);
    }
    // The nginx container is the same whichever color is active: a switch never replaces it.
    expect(reveal(named(greenRuns[stack], 'proxy-nginx').inputs)).toEqual(
      reveal(named(runs[stack], 'proxy-nginx').inputs),
    );
    const uploads = reveal(named(runs[stack], 'proxy-nginx').inputs['uploads']) as {
      file: string;
      content: string;
    }[];
    const conf = uploads.find((u) => u.file === NGINX_PATHS.config)?.content ?? '';
    expect(conf).not.toMatch(/-app-(blue|green)-/);
  });

  it('gives the app only the service’s variables, each one the service accepts', () => {
    for (const c of appContainers(runs[stack])) {
      const names = Object.keys(envOf(c));
      for (const n of names) expect(VARIABLES, `${n} is not one of the service’s variables`).toContain(n);
      for (const n of REQUIRED) expect(names, `${n} is required`).toContain(n);
      const expected = SET.filter((n) => !(stack === 'dev' && n === 'OPENROUTER_API_KEY'));
      expect(names).toEqual(expect.arrayContaining(expected));
      // The mock runtime's keys are not real keys: the service's own check of them is left out.
      const { JWT_PUBLIC_KEY: _public, JWT_PRIVATE_KEY: _private, ...checkable } = envOf(c);
      expect(() => loadConfig(checkable)).not.toThrow();
    }
    const env = envOf(appContainers(runs[stack])[0]!);
    expect(env['ENVIRONMENT']).toBe(stack === 'dev' ? 'development' : stack);
    // The service's own login role, never the owner (see API.md, "Database roles").
    expect(env['DATABASE_URL']).toMatch(/^postgres:\/\/chatbot_service:[^@]+@postgres:5432\/chatbot$/);
    expect(env).not.toHaveProperty('MIGRATION_DATABASE_URL');
    expect(env['REDIS_URL']).toMatch(/^redis:\/\/:[^@]+@redis:6379\/0$/);
    expect(Buffer.from(env['FERNET_KEY'] ?? '', 'base64url')).toHaveLength(32);
    expect(env['FERNET_KEY']).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(env['JWT_PRIVATE_KEY']).toMatch(/^-----BEGIN PRIVATE KEY-----\\n.+\\n-----END PRIVATE KEY-----$/);
    expect(env['JWT_PUBLIC_KEY']).toMatch(/^-----BEGIN PUBLIC KEY-----\\n/);
    if (stack !== 'dev') expect(env['OPENROUTER_API_KEY']).toBe(TEST_SECRETS.openrouterApiKey);
  });

  it('keeps everything on one private network where only nginx publishes ports', () => {
    const [network, ...more] = ofType(runs[stack], T.network);
    expect(more).toEqual([]);
    const name = String(network?.inputs['name']);
    for (const c of ofType(runs[stack], T.container)) {
      expect(
        (c.inputs['networksAdvanced'] as { name: string }[]).map((n) => n.name),
        c.name,
      ).toEqual([name]);
      if (c.name !== 'proxy-nginx') expect(c.inputs['ports'], c.name).toBeUndefined();
    }
  });
});
