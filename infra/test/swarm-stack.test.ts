// What a stack declares with orchestrator swarm, under Pulumi's mock runtime: the app as one
// replicated service updated task by task (start-first, rolled back on failure, `pulumi up`
// waiting for convergence), secrets as versioned Swarm secrets the app reads from files,
// migrations before the service update, Postgres and Redis on the data node, nginx on the edge
// node resolving the app's tasks through Swarm's DNS. swarm.docker.test.ts runs the nginx side
// on a real swarm.
import { loadConfig } from '@chatbot/service/config';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { APP_HEALTHCHECK } from '../app-service.ts';
import { parseConfig, StackConfigError } from '../config.ts';
import { NGINX_PATHS } from '../nginx-config.ts';
import { deployedStateFromExport, planDeploy } from '../scripts/deploy-plan.ts';
import { APP_SECRET_FILES } from '../swarm-app.ts';
import {
  commentedSwarmSettings,
  exportOf,
  generatedSecrets,
  isSecret,
  named,
  ofType,
  plainStrings,
  reveal,
  ROOT,
  runStack,
  stackConfig,
  STACKS,
  swarmSettings,
  T,
  TEST_SECRETS,
  type RecordedResource,
  type RunOptions,
  type RunResult,
  type StackName,
} from './support/stack.ts';

const S = {
  service: 'docker:index/service:Service',
  secret: 'docker:index/secret:Secret',
  config: 'docker:index/serviceConfig:ServiceConfig',
} as const;

async function runSwarm(stack: StackName, opts: RunOptions = {}): Promise<RunResult> {
  return runStack(stack, { ...opts, config: { ...swarmSettings(stack), ...opts.config } });
}

const runs = {} as Record<StackName, RunResult>;
const slowRuns = {} as Record<StackName, RunResult>;
let rotated: RunResult;

beforeAll(async () => {
  await Promise.all(
    STACKS.map(async (stack) => {
      runs[stack] = await runSwarm(stack);
      slowRuns[stack] = await runSwarm(stack, { delays: { [T.command]: 150, [S.service]: 50 } });
    }),
  );
  rotated = await runSwarm('production', { secrets: { openrouterApiKey: 'sk-or-v1-rotated-0123456789' } });
  for (const r of [...Object.values(runs), ...Object.values(slowRuns), rotated])
    expect(r.error).toBeUndefined();
});

const service = (r: RunResult, name: string) => named(r, name).inputs as unknown as ServiceInputs;

interface ServiceInputs {
  name: string;
  mode: { replicated: { replicas: number } };
  updateConfig: Record<string, unknown>;
  rollbackConfig: Record<string, unknown>;
  convergeConfig: { delay: string; timeout: string };
  endpointSpec: { mode: string; ports?: Record<string, unknown>[] };
  taskSpec: {
    containerSpec: {
      image: string;
      args?: string[];
      env?: Record<string, string>;
      secrets?: {
        secretId: string;
        secretName: string;
        fileName: string;
        fileUid?: string;
        fileMode?: number;
      }[];
      configs?: { configId: string; configName: string; fileName: string }[];
      mounts?: Record<string, unknown>[];
      healthcheck: { tests: string[] };
      stopSignal?: string;
      stopGracePeriod: string;
    };
    networksAdvanceds: { id: string; aliases?: string[] }[];
    placement?: { constraints: string[] };
    restartPolicy: { condition: string };
  };
}

/** A Secret's value, decoded from the data the provider receives. */
function secretValue(secret: RecordedResource): string {
  const data = secret.inputs['data'];
  expect(isSecret(data), secret.name).toBe(true);
  return Buffer.from(String(reveal(data)), 'base64').toString('utf8');
}

function configValue(config: RecordedResource): string {
  return Buffer.from(String(config.inputs['data']), 'base64').toString('utf8');
}

/** The Secret resource a service's secret reference names. */
function referenced(r: RunResult, id: string): RecordedResource {
  const found = ofType(r, S.secret).find((s) => `id-${s.name}` === id);
  if (found === undefined) throw new Error(`no secret with id ${id}`);
  return found;
}

describe.each(STACKS)('the %s stack with orchestrator swarm', (stack) => {
  it('declares Swarm services on an attachable overlay network, no containers and no volumes', () => {
    const r = runs[stack];
    expect(ofType(r, T.container)).toEqual([]);
    expect(ofType(r, T.volume)).toEqual([]);
    const [network, ...more] = ofType(r, T.network);
    expect(more).toEqual([]);
    expect(network?.inputs).toMatchObject({ driver: 'overlay', attachable: true });
    expect(
      ofType(r, S.service)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['app-service', 'cache-redis', 'database-postgres', 'proxy-nginx']);
    for (const s of ofType(r, S.service)) {
      const inputs = s.inputs as unknown as ServiceInputs;
      expect(inputs.taskSpec.networksAdvanceds, s.name).toEqual([
        expect.objectContaining({ id: `id-${network?.name}` }),
      ]);
      // No virtual IP (IPVS): the name resolves to the tasks' addresses.
      expect(inputs.endpointSpec.mode, s.name).toBe('dnsrr');
      expect(inputs.taskSpec.restartPolicy.condition, s.name).toBe('any');
      expect(inputs.taskSpec.containerSpec.healthcheck.tests.length, s.name).toBeGreaterThan(1);
      expect(inputs.convergeConfig.timeout, s.name).toMatch(/^\d+m$/);
    }
  });

  it('runs the app as one service of `replicas` tasks, updated one at a time, start-first, rolled back on failure', () => {
    const app = service(runs[stack], 'app-service');
    const replicas = { dev: 1, staging: 2, production: 4 }[stack];
    expect(app.name).toBe(`chatbot-${stack}-app`);
    expect(app.mode).toEqual({ replicated: { replicas } });
    expect(app.updateConfig).toMatchObject({
      parallelism: 1,
      order: 'start-first',
      failureAction: 'rollback',
      monitor: '30s',
      maxFailureRatio: '0',
    });
    expect(app.rollbackConfig).toMatchObject({ parallelism: 1, order: 'start-first', monitor: '10s' });
    // pulumi up waits for every task (and fails on a rollback): long enough for an update and
    // its rollback, 90 s a task.
    expect(app.convergeConfig).toEqual({
      delay: '5s',
      timeout: `${Math.ceil((2 * replicas * 90) / 60) + 2}m`,
    });
    // A task is running, and gets traffic, only once its healthcheck passed.
    expect(app.taskSpec.containerSpec.healthcheck).toEqual(APP_HEALTHCHECK);
    expect(app.endpointSpec.ports).toBeUndefined();
    expect(app.taskSpec.placement).toBeUndefined();
  });

  it('stops app tasks with SIGTERM and a grace period above the drain time', () => {
    const spec = service(runs[stack], 'app-service').taskSpec.containerSpec;
    const grace = Number(spec.env?.['SHUTDOWN_GRACE_MS']) / 1000;
    expect(spec.stopSignal).toBe('SIGTERM');
    expect(Number(/^(\d+)s$/.exec(spec.stopGracePeriod)?.[1])).toBeGreaterThan(grace);
  });

  it('gives the app its secrets as Swarm secrets it reads through <NAME>_FILE, never in its environment', async () => {
    const r = runs[stack];
    const spec = service(r, 'app-service').taskSpec.containerSpec;
    const env = spec.env ?? {};
    const secretVariables = ['DATABASE_URL', 'REDIS_URL', 'JWT_PRIVATE_KEY', 'FERNET_KEY'].concat(
      stack === 'dev' ? [] : ['OPENROUTER_API_KEY'],
    );
    for (const name of secretVariables) {
      expect(env, name).not.toHaveProperty(name);
      const file = APP_SECRET_FILES[name];
      expect(env[`${name}_FILE`]).toBe(`/run/secrets/${file}`);
      const ref = spec.secrets?.find((s) => s.fileName === file);
      // Readable by the image's user (the Dockerfile's USER 1000:1000) only.
      expect(ref, name).toMatchObject({ fileUid: '1000', fileGid: '1000', fileMode: 0o400 });
      const secret = referenced(r, ref?.secretId ?? '');
      expect(ref?.secretName).toBe(secret.inputs['name']);
    }
    expect(spec.secrets).toHaveLength(secretVariables.length);
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^USER 1000:1000$/m);

    // What the service reads from those files is a valid configuration (the mock runtime's
    // JWT key is not a real key: the service's own check of it is left out, as elsewhere).
    const dir = mkdtempSync(join(tmpdir(), 'chatbot-swarm-secrets-'));
    try {
      const read: Record<string, string> = {};
      for (const [name, value] of Object.entries(env)) {
        if (name === 'JWT_PUBLIC_KEY' || name === 'JWT_PRIVATE_KEY_FILE') continue;
        if (!name.endsWith('_FILE')) {
          read[name] = value;
          continue;
        }
        const ref = spec.secrets?.find((s) => `/run/secrets/${s.fileName}` === value);
        const path = join(dir, ref?.fileName ?? 'missing');
        writeFileSync(path, secretValue(referenced(r, ref?.secretId ?? '')));
        read[name] = path;
      }
      const config = loadConfig(read);
      expect(config.databaseUrl).toMatch(/^postgres:\/\/chatbot_service:[^@]+@postgres:5432\/chatbot$/);
      expect(config.redisUrl).toMatch(/^redis:\/\/:[^@]+@redis:6379\/0$/);
      expect(config.fernetKey).toMatch(/^[A-Za-z0-9_-]{43}=$/);
      if (stack !== 'dev') expect(config.openrouterApiKey).toBe(TEST_SECRETS.openrouterApiKey);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps generated and given secrets out of every plain input, config and output', () => {
    const r = runs[stack];
    const generated = generatedSecrets(r);
    const given = stack === 'dev' ? [] : [TEST_SECRETS.openrouterApiKey, TEST_SECRETS.registryPassword];
    const needles = [...generated.flatMap((g) => g.values), ...given];
    const everything = JSON.stringify(r.resources.map((x) => reveal(x.inputs)));
    const secrets = ofType(r, S.secret).map(secretValue).join('\n');
    // Each reaches a resource (in a Swarm secret's data, base64) ...
    for (const g of generated) {
      expect(
        g.values.some((v) => everything.includes(v) || secrets.includes(v)),
        g.resource,
      ).toBe(true);
    }
    for (const v of given) expect(everything.includes(v) || secrets.includes(v), v).toBe(true);
    // ... and never outside a secret: not in plain inputs, not in a Swarm config's content,
    // not in a stack output.
    for (const x of r.resources) {
      if (x.type.startsWith('random:') || x.type === 'tls:index/privateKey:PrivateKey') continue;
      const plain = plainStrings(x.inputs);
      if (x.type === S.config) plain.push(configValue(x));
      for (const s of plain) {
        for (const needle of needles)
          expect(s.includes(needle), `${x.name} holds a secret in clear`).toBe(false);
      }
    }
    for (const s of plainStrings(r.outputs)) {
      for (const needle of needles) expect(s.includes(needle), 'a stack output holds a secret').toBe(false);
    }
    // Nothing secret in a service's spec (what `docker service inspect` shows): Pulumi would
    // mark the whole spec secret if anything in it were.
    for (const s of ofType(r, S.service)) expect(isSecret(s.inputs['taskSpec']), s.name).toBe(false);
    for (const s of ofType(r, S.secret)) {
      // Named after a hash of the value: readable, telling nothing, and not secret itself.
      expect(s.inputs['name'], s.name).toMatch(new RegExp(`^chatbot-${stack}-[a-z-]{2,11}-[0-9a-f]{10}$`));
      expect(String(s.inputs['name']).length).toBeLessThanOrEqual(64);
    }
  });

  it('migrates before the app service is created or updated, then fills the web volume, then starts nginx', () => {
    const slow = slowRuns[stack];
    const migrate = named(slow, 'migrations-migrate');
    expect(migrate.started).toBeGreaterThan(named(slow, 'database-postgres').finished);
    const app = named(slow, 'app-service');
    expect(app.opts.dependsOn).toEqual(expect.arrayContaining(['migrations-migrate']));
    expect(app.started).toBeGreaterThan(migrate.finished);
    expect(app.started).toBeGreaterThan(named(slow, 'cache-redis').finished);
    const fill = named(slow, 'proxy-web-fill');
    expect(fill.started).toBeGreaterThan(app.finished);
    expect(named(slow, 'proxy-nginx').started).toBeGreaterThan(fill.finished);
    // The migration's one-off container joins the overlay network (attachable) on the manager.
    const env = reveal(migrate.inputs['environment']) as Record<string, string>;
    expect(env['NETWORK']).toBe(`chatbot-${stack}-net`);
  });

  it('pins Postgres and Redis to the data node with their volumes, secrets as files', () => {
    const r = runs[stack];
    const pg = service(r, 'database-postgres');
    const redis = service(r, 'cache-redis');
    for (const [s, volume, target] of [
      [pg, `chatbot-${stack}-pgdata`, '/var/lib/postgresql/data'],
      [redis, `chatbot-${stack}-redisdata`, '/data'],
    ] as const) {
      expect(s.taskSpec.placement).toEqual({ constraints: ['node.labels.chatbot.data==true'] });
      expect(s.mode).toEqual({ replicated: { replicas: 1 } });
      // One data directory, one server: the old task stops before the new one starts.
      expect(s.updateConfig).toMatchObject({ order: 'stop-first', failureAction: 'rollback' });
      expect(s.taskSpec.containerSpec.mounts).toContainEqual(
        expect.objectContaining({ type: 'volume', source: volume, target }),
      );
    }
    expect(pg.taskSpec.networksAdvanceds[0]?.aliases).toEqual(['postgres']);
    expect(redis.taskSpec.networksAdvanceds[0]?.aliases).toEqual(['redis']);

    // Postgres reads its password from a file; the image's entrypoint stays (args, not commands).
    expect(pg.taskSpec.containerSpec.env).toEqual({
      POSTGRES_USER: 'chatbot',
      POSTGRES_DB: 'chatbot',
      POSTGRES_PASSWORD_FILE: '/run/secrets/pg-password',
    });
    expect(pg.taskSpec.containerSpec.args?.slice(0, 2)).toEqual(['postgres', '-c']);
    const pgSecret = referenced(r, pg.taskSpec.containerSpec.secrets?.[0]?.secretId ?? '');
    const owner = reveal(named(r, 'migrations-migrate').inputs['environment']) as Record<string, string>;
    expect(new URL(owner['MIGRATION_DATABASE_URL'] ?? '').password).toBe(secretValue(pgSecret));

    // Redis's config file (with requirepass) is a secret; the healthcheck reads the password from it.
    expect(redis.taskSpec.containerSpec.args).toEqual(['redis-server', '/run/secrets/redis-conf']);
    const conf = secretValue(referenced(r, redis.taskSpec.containerSpec.secrets?.[0]?.secretId ?? ''));
    expect(conf).toMatch(/^requirepass \S+$/m);
    expect(conf).toContain('appendonly yes');
    expect(redis.taskSpec.containerSpec.healthcheck.tests[1]).toContain(
      `REDISCLI_AUTH="$(sed -n 's/^requirepass //p' /run/secrets/redis-conf)"`,
    );
    expect(redis.taskSpec.containerSpec.env).toBeUndefined();
  });

  it('runs nginx on the edge node, ports published in host mode, resolving tasks.<app service> through Docker’s DNS', () => {
    const r = runs[stack];
    const nginx = service(r, 'proxy-nginx');
    const ports = { dev: [8080, 8443], staging: [80, 443], production: [80, 443] }[stack];
    expect(nginx.taskSpec.placement).toEqual({ constraints: ['node.labels.chatbot.edge==true'] });
    expect(nginx.endpointSpec).toEqual({
      mode: 'dnsrr',
      ports: [
        { targetPort: 80, publishedPort: ports[0], publishMode: 'host', protocol: 'tcp' },
        { targetPort: 443, publishedPort: ports[1], publishMode: 'host', protocol: 'tcp' },
      ],
    });
    expect(nginx.updateConfig).toMatchObject({ order: 'stop-first', failureAction: 'rollback' });
    expect(nginx.taskSpec.containerSpec.stopSignal).toBe('SIGQUIT');

    const confRef = nginx.taskSpec.containerSpec.configs?.find((c) => c.fileName === NGINX_PATHS.config);
    const conf = configValue(named(r, confRef?.configId.replace(/^id-/, '') ?? ''));
    expect(conf).toContain('resolver 127.0.0.11 valid=1s ipv6=off;');
    expect(conf).toContain(`map $host $chatbot_app { default tasks.chatbot-${stack}-app:8000; }`);
    expect(conf).toContain('proxy_pass http://$chatbot_app;');
    expect(conf).not.toContain('proxy_pass http://chatbot_app;');
    expect(conf).not.toContain(NGINX_PATHS.upstream);
    expect(conf).not.toContain('$chatbot_color');
    expect(confRef?.configName).toMatch(new RegExp(`^chatbot-${stack}-nginx-conf-[0-9a-f]{10}$`));
    expect(nginx.taskSpec.containerSpec.mounts).toContainEqual(
      expect.objectContaining({
        type: 'volume',
        source: `chatbot-${stack}-web`,
        target: '/srv/web',
        readOnly: true,
      }),
    );

    if (stack === 'dev') {
      // Self-signed: the certificate as a config, its key as a secret only root reads.
      expect(nginx.taskSpec.containerSpec.configs?.map((c) => c.fileName)).toEqual([
        NGINX_PATHS.config,
        NGINX_PATHS.tlsCertificate,
      ]);
      expect(nginx.taskSpec.containerSpec.secrets).toEqual([
        expect.objectContaining({ fileName: NGINX_PATHS.tlsKey, fileUid: '0', fileMode: 0o400 }),
      ]);
    } else {
      // Let's Encrypt's tree and the ACME webroot from the edge node.
      expect(nginx.taskSpec.containerSpec.mounts).toEqual(
        expect.arrayContaining([
          { type: 'bind', source: '/etc/letsencrypt', target: '/etc/letsencrypt', readOnly: true },
          { type: 'bind', source: '/var/www/certbot', target: '/srv/acme', readOnly: true },
        ]),
      );
      expect(nginx.taskSpec.containerSpec.secrets).toBeUndefined();
    }
  });

  it('fills the web volume with a Swarm job on the edge node, secrets through the environment', () => {
    const r = runs[stack];
    const fill = named(r, 'proxy-web-fill');
    expect(isSecret(fill.inputs['environment'])).toBe(true);
    const env = reveal(fill.inputs['environment']) as Record<string, string>;
    expect(env).toMatchObject({
      VOLUME: `chatbot-${stack}-web`,
      CONSTRAINT: 'node.labels.chatbot.edge==true',
      IMAGE: r.outputs['imageRef'],
    });
    if (stack !== 'dev') {
      expect(env['REGISTRY_PASSWORD']).toBe(TEST_SECRETS.registryPassword);
      expect(fill.inputs['create']).toContain('--password-stdin');
    }
    // The password goes to docker login on stdin, never on a command line.
    expect(fill.inputs['create']).not.toMatch(/--password(?!-stdin)/);
    expect(fill.inputs['triggers']).toEqual([r.outputs['imageRef'], `chatbot-${stack}-web`, 'chatbot.edge']);
  });

  it('exports the services, and no colors', () => {
    const o = runs[stack].outputs;
    expect(o).toMatchObject({ appService: `chatbot-${stack}-app`, nginxService: `chatbot-${stack}-nginx` });
    for (const key of ['activeColor', 'blueImage', 'greenImage', 'nginxContainer', 'activeContainers'])
      expect(o, key).not.toHaveProperty(key);
  });
});

describe('swarm mode across stacks and configurations', () => {
  it('registers the keys and passwords as the host mode does, so they stay when a stack changes orchestrator', async () => {
    const host = await runStack('production');
    expect(host.error).toBeUndefined();
    const identity = (r: RunResult) =>
      r.resources
        .filter((x) => x.type.startsWith('random:') || x.type === 'tls:index/privateKey:PrivateKey')
        .map((x) => {
          const parent = r.resources.find((p) => p.name === x.opts.parent && !p.custom);
          return `${parent?.type}/${x.type}::${x.name}`;
        })
        .sort();
    expect(identity(runs.production)).toEqual(identity(host));
    expect(identity(host)).toContain(
      'chatbot:infra:AppService/random:index/randomBytes:RandomBytes::app-fernet-key',
    );
  });

  it('rotates a secret by a new Swarm secret of another name, which the app service then uses', () => {
    const names = (r: RunResult) =>
      Object.fromEntries(ofType(r, S.secret).map((s) => [s.name, String(s.inputs['name'])]));
    const before = names(runs.production);
    const after = names(rotated);
    expect(after['app-llm-key-secret']).not.toBe(before['app-llm-key-secret']);
    for (const key of Object.keys(before).filter((k) => k !== 'app-llm-key-secret'))
      expect(after[key], key).toBe(before[key]);
    const refs = service(rotated, 'app-service').taskSpec.containerSpec.secrets ?? [];
    expect(refs.find((s) => s.fileName === 'llm-key')?.secretName).toBe(after['app-llm-key-secret']);
    expect(secretValue(named(rotated, 'app-llm-key-secret'))).toBe('sk-or-v1-rotated-0123456789');
  });

  it('mounts the uploads from the NFS export on every node, under a name of its own', () => {
    const mounts = service(runs.production, 'app-service').taskSpec.containerSpec.mounts;
    expect(mounts).toEqual([
      expect.objectContaining({
        type: 'volume',
        source: 'chatbot-production-uploads-nfs',
        target: '/app/uploads',
        volumeOptions: expect.objectContaining({
          driverName: 'local',
          driverOptions: { type: 'nfs', o: 'addr=10.0.0.5,nfsvers=4,rw', device: ':/srv/chatbot-uploads' },
        }),
      }),
    ]);
    // dev (one node): a local volume, the host mode's name.
    expect(service(runs.dev, 'app-service').taskSpec.containerSpec.mounts).toEqual([
      expect.objectContaining({ source: 'chatbot-dev-uploads', target: '/app/uploads' }),
    ]);
  });

  it('pulls the promoted digest in production, with the registry credentials as a secret', () => {
    const app = named(runs.production, 'app-service');
    expect((app.inputs as unknown as ServiceInputs).taskSpec.containerSpec.image).toMatch(/@sha256:/);
    expect(isSecret(app.inputs['auth'])).toBe(true);
    expect(ofType(runs.production, T.image)).toEqual([]);
  });

  it('places on the labels and encrypts the network as configured', async () => {
    const r = await runSwarm('staging', {
      config: { swarmDataLabel: 'db', swarmEdgeLabel: 'edge-1', swarmEncryptNetwork: 'true' },
    });
    expect(r.error).toBeUndefined();
    expect(service(r, 'database-postgres').taskSpec.placement?.constraints).toEqual(['node.labels.db==true']);
    expect(service(r, 'cache-redis').taskSpec.placement?.constraints).toEqual(['node.labels.db==true']);
    expect(service(r, 'proxy-nginx').taskSpec.placement?.constraints).toEqual(['node.labels.edge-1==true']);
    expect(ofType(r, T.network)[0]?.inputs['options']).toEqual({ encrypted: 'true' });
  });

  it('leaves `npm run deploy` to set the release only: a swarm stack has no color to switch', () => {
    const state = deployedStateFromExport(exportOf(runs.staging, 'staging'));
    expect(state).toEqual({});
    expect(
      planDeploy(state, { image: 'registry.example.com/chatbot/app@sha256:x', commit: 'c1' }, 'blue'),
    ).toEqual({
      image: 'registry.example.com/chatbot/app@sha256:x',
      commit: 'c1',
      blueImage: '',
      greenImage: '',
      activeColor: 'blue',
    });
  });
});

describe('swarm mode configuration', () => {
  function problems(stack: StackName, config: Record<string, string>): string[] {
    const { config: values } = stackConfig(stack, { config });
    try {
      parseConfig({
        stack,
        project: 'chatbot',
        get: (key) => values[`chatbot:${key}`],
        gitCommit: () => '0123456789abcdef0123456789abcdef01234567',
      });
    } catch (err) {
      if (err instanceof StackConfigError) return err.problems;
      throw err;
    }
    return [];
  }

  it('accepts the commented settings of Pulumi.production.yaml, and host by default', () => {
    expect(commentedSwarmSettings()).toMatchObject({ orchestrator: 'swarm', replicas: '4' });
    expect(problems('production', commentedSwarmSettings())).toEqual([]);
    expect(problems('production', {})).toEqual([]);
  });

  it('sizes max_connections for replicas + 1 tasks during an update, not two colors', () => {
    const found = problems('production', { ...commentedSwarmSettings(), postgresMaxConnections: '300' });
    expect(found.join('\n')).toContain(
      "chatbot:postgresMaxConnections (300) is below what the app's tasks may open during an update ((4 replicas + 1) x (dbPoolSize + dbMaxOverflow) + 5 = 305)",
    );
    // The same 300 takes two colors of 2 on one host: 2 x 2 x 60 + 5 = 245.
    expect(problems('production', { postgresMaxConnections: '300' })).toEqual([]);
  });

  it('requires the uploads on NFS outside development, and published ports', () => {
    const found = problems('staging', { orchestrator: 'swarm', httpPort: '0' });
    expect(found.join('\n')).toContain(
      'chatbot:swarmUploadsNfs is required with orchestrator swarm on stack staging (uploaded documents must be readable by every app task on every node): pulumi config set swarmUploadsNfs 10.0.0.5:/srv/chatbot-uploads --stack staging',
    );
    expect(found.join('\n')).toContain('chatbot:httpPort must be a port number with orchestrator swarm');
    expect(problems('dev', { orchestrator: 'swarm' })).toEqual([]);
  });

  it('refuses malformed labels and exports', () => {
    const found = problems('dev', {
      orchestrator: 'swarm',
      swarmDataLabel: 'Not A Label',
      swarmUploadsNfs: 'just-a-host',
    });
    expect(found.join('\n')).toContain('chatbot:swarmDataLabel must be a node label like chatbot.data');
    expect(found.join('\n')).toContain(
      'chatbot:swarmUploadsNfs must be an NFS export like 10.0.0.5:/srv/chatbot-uploads',
    );
  });

  it('refuses an unknown orchestrator', () => {
    expect(problems('dev', { orchestrator: 'kubernetes' }).join('\n')).toContain('chatbot:orchestrator');
  });
});
