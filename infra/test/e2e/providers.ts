// The providers the dev stack uses, carried out for real: what `pulumi up` would make the
// Docker, Command, Random and TLS providers do, for the inputs the program declares. Inputs
// a provider function does not understand are refused, never ignored.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '@chatbot/test-kit/process';
import {
  api,
  containerLogs,
  ensureImage,
  inspectContainer,
  publishedPortsAt,
  tarOf,
} from './docker-engine.ts';
import { ecdsaKey, selfSignedCert, type SelfSignedInputs } from './x509.ts';

/** The label every Docker object of one harness run carries (removal goes by it). */
export const RUN_LABEL = 'com.chatbot.e2e-run';

export interface Created {
  id: string;
  outputs: Record<string, unknown>;
  /** Output names the real provider marks secret. */
  secretOutputs?: string[];
}

export interface ProviderContext {
  runId: string;
  /** Where a log line goes (never a secret). */
  log: (line: string) => void;
}

type Inputs = Record<string, unknown>;

/** Refuses keys outside `allowed` (at `where`), so nothing declared is silently ignored. */
function only(where: string, value: unknown, allowed: string[]): Inputs {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${where}: expected an object, got ${JSON.stringify(value)}`);
  }
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new Error(
      `${where}: the e2e harness does not carry out ${unknown.map((k) => `"${k}"`).join(', ')} ` +
        `(it understands ${allowed.join(', ')}); refusing rather than ignoring it`,
    );
  }
  return value as Inputs;
}
const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string') throw new Error(`${what} must be a string, got ${JSON.stringify(v)}`);
  return v;
};
const num = (v: unknown, what: string): number => {
  if (typeof v !== 'number') throw new Error(`${what} must be a number, got ${JSON.stringify(v)}`);
  return v;
};
const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** "5s", "1m30s", "250ms" as nanoseconds (Docker's healthcheck durations). */
function durationNs(v: unknown, what: string): number {
  const s = str(v, what);
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * { ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed = re.lastIndex;
  }
  if (consumed !== s.length || s === '') throw new Error(`${what}: "${s}" is not a duration like 5s`);
  return Math.round(total);
}

function labelsOf(value: unknown, ctx: ProviderContext, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [i, l] of list(value).entries()) {
    const o = only(`${where}.labels[${i}]`, l, ['label', 'value']);
    labels[str(o['label'], 'label')] = str(o['value'], 'label value');
  }
  labels[RUN_LABEL] = ctx.runId;
  return labels;
}

// --- docker.Network, docker.Volume ---------------------------------------------------------

async function createNetwork(name: string, inputs: Inputs, ctx: ProviderContext): Promise<Created> {
  const i = only(`docker.Network ${name}`, inputs, ['name', 'driver', 'labels']);
  const dockerName = str(i['name'], 'name');
  const res = await api<{ Id: string }>('POST', '/networks/create', {
    Name: dockerName,
    Driver: i['driver'] ?? 'bridge',
    CheckDuplicate: true,
    Labels: labelsOf(i['labels'], ctx, `docker.Network ${name}`),
  });
  return { id: res.Id, outputs: { ...i, name: dockerName, driver: i['driver'] ?? 'bridge' } };
}

async function createVolume(name: string, inputs: Inputs, ctx: ProviderContext): Promise<Created> {
  const i = only(`docker.Volume ${name}`, inputs, ['name', 'labels', 'driver']);
  const dockerName = str(i['name'], 'name');
  await api('POST', '/volumes/create', {
    Name: dockerName,
    Driver: i['driver'] ?? 'local',
    Labels: labelsOf(i['labels'], ctx, `docker.Volume ${name}`),
  });
  return { id: dockerName, outputs: { ...i, name: dockerName, driver: i['driver'] ?? 'local' } };
}

// --- docker.Image: a BuildKit build through the docker CLI ----------------------------------

async function createImage(name: string, inputs: Inputs, ctx: ProviderContext): Promise<Created> {
  const where = `docker.Image ${name}`;
  const i = only(where, inputs, ['imageName', 'build', 'skipPush', 'buildOnPreview']);
  if (i['skipPush'] !== true) throw new Error(`${where}: the harness never pushes (skipPush must be true)`);
  const build = only(`${where}.build`, i['build'], [
    'context',
    'dockerfile',
    'builderVersion',
    'args',
    'platform',
    'target',
  ]);
  if (build['builderVersion'] !== 'BuilderBuildKit') {
    throw new Error(`${where}: the harness builds with BuildKit only (builderVersion BuilderBuildKit)`);
  }
  const imageName = str(i['imageName'], 'imageName');
  // Relative to the program's working directory, as the provider resolves it.
  const context = resolve(str(build['context'] ?? '.', 'build.context'));
  const args = Object.entries((build['args'] ?? {}) as Record<string, string>);
  const dir = mkdtempSync(join(tmpdir(), 'chatbot-e2e-build-'));
  try {
    const iidfile = join(dir, 'iid');
    const started = Date.now();
    const result = await run(
      'docker',
      [
        'build',
        '--progress=plain',
        '--iidfile',
        iidfile,
        '--tag',
        imageName,
        '--label',
        `${RUN_LABEL}=${ctx.runId}`,
        ...(build['dockerfile'] !== undefined
          ? ['--file', resolve(str(build['dockerfile'], 'dockerfile'))]
          : []),
        ...(build['platform'] !== undefined ? ['--platform', str(build['platform'], 'platform')] : []),
        ...(build['target'] !== undefined ? ['--target', str(build['target'], 'target')] : []),
        // Values through the environment (--build-arg NAME reads it there), never argv.
        ...args.flatMap(([k]) => ['--build-arg', k]),
        context,
      ],
      { env: { DOCKER_BUILDKIT: '1', ...Object.fromEntries(args) }, timeoutMs: 900_000 },
    );
    if (result.code !== 0) {
      throw new Error(`${where}: docker build failed (exit ${result.code}):\n${result.stderr.slice(-4000)}`);
    }
    const imageId = readFileSync(iidfile, 'utf8').trim();
    ctx.log(`built ${imageName} (${imageId.slice(0, 19)}) in ${Date.now() - started} ms`);
    // Not pushed: repoDigest is the local image id (pulumi-docker >= 4.4).
    return { id: imageId, outputs: { ...i, imageName, repoDigest: imageId, baseImageName: imageName } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- docker.Container -----------------------------------------------------------------------

const CONTAINER_INPUTS = [
  'name',
  'image',
  'envs',
  'command',
  'entrypoints',
  'user',
  'workingDir',
  'volumes',
  'networksAdvanced',
  'ports',
  'uploads',
  'healthcheck',
  'wait',
  'waitTimeout',
  'restart',
  'shmSize',
  'memory',
  'cpus',
  'stopSignal',
  'stopTimeout',
  'destroyGraceSeconds',
  'labels',
];

async function createContainer(name: string, inputs: Inputs, ctx: ProviderContext): Promise<Created> {
  const where = `docker.Container ${name}`;
  const i = only(where, inputs, CONTAINER_INPUTS);
  const dockerName = str(i['name'], `${where}.name`);

  const mounts = list(i['volumes']).map((v, n) => {
    const o = only(`${where}.volumes[${n}]`, v, ['volumeName', 'hostPath', 'containerPath', 'readOnly']);
    const target = str(o['containerPath'], 'containerPath');
    if (o['volumeName'] !== undefined) {
      return {
        Type: 'volume',
        Source: str(o['volumeName'], 'volumeName'),
        Target: target,
        ReadOnly: o['readOnly'] === true,
      };
    }
    return {
      Type: 'bind',
      Source: str(o['hostPath'], 'hostPath'),
      Target: target,
      ReadOnly: o['readOnly'] === true,
    };
  });

  const networks = list(i['networksAdvanced']).map((v, n) => {
    const o = only(`${where}.networksAdvanced[${n}]`, v, ['name', 'aliases']);
    return { name: str(o['name'], 'network name'), aliases: list(o['aliases']).map((a) => str(a, 'alias')) };
  });

  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const [n, p] of list(i['ports']).entries()) {
    const o = only(`${where}.ports[${n}]`, p, ['internal', 'external', 'ip', 'protocol']);
    const key = `${num(o['internal'], 'internal')}/${String(o['protocol'] ?? 'tcp')}`;
    exposed[key] = {};
    const ip = str(o['ip'] ?? '0.0.0.0', 'ip');
    // Published on 127.0.0.1 only, unless the engine is remote (then on its interfaces).
    if (ip !== '127.0.0.1' && ip !== publishedPortsAt().bindAddress) {
      throw new Error(
        `${where}: the harness publishes ports on ${publishedPortsAt().bindAddress} only (got ${ip})`,
      );
    }
    (bindings[key] ??= []).push({
      HostIp: ip,
      HostPort: o['external'] !== undefined ? String(num(o['external'], 'external')) : '',
    });
  }

  const uploads = list(i['uploads']).map((u, n) => {
    const o = only(`${where}.uploads[${n}]`, u, ['file', 'content', 'executable']);
    return {
      path: str(o['file'], 'file'),
      content: str(o['content'], 'content'),
      mode: o['executable'] === true ? 0o744 : 0o644,
    };
  });

  let healthcheck: Record<string, unknown> | undefined;
  if (i['healthcheck'] !== undefined) {
    const h = only(`${where}.healthcheck`, i['healthcheck'], [
      'tests',
      'interval',
      'timeout',
      'retries',
      'startPeriod',
    ]);
    healthcheck = {
      Test: list(h['tests']).map((t) => str(t, 'healthcheck test')),
      ...(h['interval'] !== undefined ? { Interval: durationNs(h['interval'], 'interval') } : {}),
      ...(h['timeout'] !== undefined ? { Timeout: durationNs(h['timeout'], 'timeout') } : {}),
      ...(h['startPeriod'] !== undefined ? { StartPeriod: durationNs(h['startPeriod'], 'startPeriod') } : {}),
      ...(h['retries'] !== undefined ? { Retries: num(h['retries'], 'retries') } : {}),
    };
  }
  if (i['wait'] === true && healthcheck === undefined) throw new Error(`${where}: wait needs a healthcheck`);

  const first = networks[0];
  const body = {
    Image: str(i['image'], `${where}.image`),
    Env: list(i['envs']).map((e) => str(e, 'env')),
    ...(i['command'] !== undefined ? { Cmd: list(i['command']).map((c) => str(c, 'command')) } : {}),
    ...(i['entrypoints'] !== undefined
      ? { Entrypoint: list(i['entrypoints']).map((c) => str(c, 'entrypoint')) }
      : {}),
    ...(i['user'] !== undefined ? { User: str(i['user'], 'user') } : {}),
    ...(i['workingDir'] !== undefined ? { WorkingDir: str(i['workingDir'], 'workingDir') } : {}),
    Labels: labelsOf(i['labels'], ctx, where),
    ExposedPorts: exposed,
    ...(healthcheck !== undefined ? { Healthcheck: healthcheck } : {}),
    ...(i['stopSignal'] !== undefined ? { StopSignal: str(i['stopSignal'], 'stopSignal') } : {}),
    ...(i['stopTimeout'] !== undefined ? { StopTimeout: num(i['stopTimeout'], 'stopTimeout') } : {}),
    HostConfig: {
      Mounts: mounts,
      PortBindings: bindings,
      RestartPolicy: { Name: i['restart'] === undefined ? 'no' : str(i['restart'], 'restart') },
      ...(i['shmSize'] !== undefined ? { ShmSize: num(i['shmSize'], 'shmSize') * 1024 * 1024 } : {}),
      ...(i['memory'] !== undefined ? { Memory: num(i['memory'], 'memory') * 1024 * 1024 } : {}),
      ...(i['cpus'] !== undefined ? { NanoCpus: Math.round(Number(str(i['cpus'], 'cpus')) * 1e9) } : {}),
      ...(first !== undefined ? { NetworkMode: first.name } : {}),
    },
    ...(first !== undefined
      ? { NetworkingConfig: { EndpointsConfig: { [first.name]: { Aliases: first.aliases } } } }
      : {}),
  };

  const started = Date.now();
  await ensureImage(body.Image);
  const { Id: id } = await api<{ Id: string }>(
    'POST',
    `/containers/create?name=${encodeURIComponent(dockerName)}`,
    body,
  );
  for (const extra of networks.slice(1)) {
    await api('POST', `/networks/${encodeURIComponent(extra.name)}/connect`, {
      Container: id,
      EndpointConfig: { Aliases: extra.aliases },
    });
  }
  if (uploads.length > 0) await api('PUT', `/containers/${id}/archive?path=/`, tarOf(uploads));
  await api('POST', `/containers/${id}/start`);

  if (i['wait'] === true) {
    const timeoutS = i['waitTimeout'] === undefined ? 60 : num(i['waitTimeout'], 'waitTimeout');
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      const state = (await inspectContainer(id)).State;
      if (state.Health?.Status === 'healthy') break;
      if (!state.Running || Date.now() > deadline) {
        const logs = await containerLogs(id).catch(() => '');
        throw new Error(
          `${where}: container ${dockerName} did not become healthy within ${timeoutS} s ` +
            `(state ${state.Status}, health ${state.Health?.Status ?? 'none'})\n${logs.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const inspected = await inspectContainer(id);
  ctx.log(
    `container ${dockerName} up${i['wait'] === true ? ' and healthy' : ''} in ${Date.now() - started} ms`,
  );

  const ports = list(i['ports']).map((p) => {
    const o = p as Inputs;
    const key = `${String(o['internal'])}/${String(o['protocol'] ?? 'tcp')}`;
    const published = inspected.NetworkSettings.Ports?.[key]?.[0];
    return { ...o, protocol: o['protocol'] ?? 'tcp', external: Number(published?.HostPort ?? o['external']) };
  });
  return {
    id,
    outputs: { ...i, ...(i['ports'] !== undefined ? { ports } : {}), imageId: inspected.Image },
  };
}

async function deleteContainer(id: string, outputs: Inputs): Promise<void> {
  const grace = typeof outputs['destroyGraceSeconds'] === 'number' ? outputs['destroyGraceSeconds'] : 0;
  await api('POST', `/containers/${id}/stop?t=${grace}`, undefined, { timeoutMs: (grace + 30) * 1000 }).catch(
    (err: { status?: number }) => {
      if (err.status !== 304 && err.status !== 404) throw err;
    },
  );
  await api('DELETE', `/containers/${id}?force=true`).catch((err: { status?: number }) => {
    if (err.status !== 404) throw err;
  });
}

// --- command.local.Command ------------------------------------------------------------------

async function runCommand(name: string, inputs: Inputs, ctx: ProviderContext): Promise<Created> {
  const where = `command.local.Command ${name}`;
  const i = only(where, inputs, ['create', 'environment', 'stdin', 'triggers', 'logging', 'dir']);
  const env = (i['environment'] ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(env)) str(v, `${where}.environment.${k}`);
  const started = Date.now();
  const result = await run('/bin/sh', ['-c', str(i['create'], `${where}.create`)], {
    env,
    ...(i['stdin'] !== undefined ? { stdin: str(i['stdin'], 'stdin') } : {}),
    ...(i['dir'] !== undefined ? { cwd: str(i['dir'], 'dir') } : {}),
  });
  const quiet = i['logging'] === 'none';
  if (result.code !== 0) {
    throw new Error(
      `${where}: exit status ${result.code}` +
        (quiet ? ' (logging: none, output not shown)' : `: ${result.stderr.trim()}`),
    );
  }
  ctx.log(`command ${name} ran in ${Date.now() - started} ms`);
  return {
    id: `${name}-${randomBytes(4).toString('hex')}`,
    outputs: { ...i, stdout: result.stdout.trimEnd(), stderr: result.stderr.trimEnd() },
  };
}

// --- random and tls -------------------------------------------------------------------------

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomPassword(name: string, inputs: Inputs): Created {
  const i = only(`random.RandomPassword ${name}`, inputs, ['length', 'special']);
  if (i['special'] !== false)
    throw new Error(`random.RandomPassword ${name}: the harness makes special: false passwords`);
  const n = num(i['length'], 'length');
  const result = Array.from({ length: n }, () => ALNUM[randomInt(ALNUM.length)]).join('');
  return { id: 'none', outputs: { ...i, result }, secretOutputs: ['result', 'bcryptHash'] };
}

function randomBytesResource(name: string, inputs: Inputs): Created {
  const i = only(`random.RandomBytes ${name}`, inputs, ['length']);
  const bytes = randomBytes(num(i['length'], 'length'));
  return {
    id: 'none',
    outputs: { ...i, base64: bytes.toString('base64'), hex: bytes.toString('hex') },
    secretOutputs: ['base64', 'hex'],
  };
}

function privateKey(name: string, inputs: Inputs): Created {
  const i = only(`tls.PrivateKey ${name}`, inputs, ['algorithm', 'ecdsaCurve']);
  if (i['algorithm'] !== 'ECDSA')
    throw new Error(`tls.PrivateKey ${name}: the harness makes ECDSA keys only`);
  const pems = ecdsaKey(str(i['ecdsaCurve'], 'ecdsaCurve'));
  return { id: 'none', outputs: { ...i, ...pems }, secretOutputs: ['privateKeyPem', 'privateKeyPemPkcs8'] };
}

async function certificate(name: string, inputs: Inputs): Promise<Created> {
  const i = only(`tls.SelfSignedCert ${name}`, inputs, [
    'privateKeyPem',
    'subject',
    'dnsNames',
    'ipAddresses',
    'validityPeriodHours',
    'earlyRenewalHours',
    'allowedUses',
  ]);
  const subject = only(`tls.SelfSignedCert ${name}.subject`, i['subject'] ?? {}, [
    'commonName',
    'organization',
  ]);
  const made = await selfSignedCert({
    privateKeyPem: str(i['privateKeyPem'], 'privateKeyPem'),
    subject: subject as SelfSignedInputs['subject'],
    dnsNames: list(i['dnsNames']).map((d) => str(d, 'dnsName')),
    ipAddresses: list(i['ipAddresses']).map((d) => str(d, 'ipAddress')),
    validityPeriodHours: num(i['validityPeriodHours'], 'validityPeriodHours'),
    allowedUses: list(i['allowedUses']).map((d) => str(d, 'allowedUse')),
  });
  return { id: 'none', outputs: { ...i, ...made } };
}

// --- dispatch --------------------------------------------------------------------------------

export type ReplaceMode = 'delete-before-replace' | 'create-before-replace';

export interface ProviderFor {
  create(name: string, inputs: Inputs, ctx: ProviderContext): Promise<Created>;
  delete?(id: string, outputs: Inputs): Promise<void>;
  /** How a change of inputs is carried out (Pulumi's diff for these providers). */
  replace: ReplaceMode;
}

export const PROVIDERS: Record<string, ProviderFor> = {
  'docker:index/network:Network': {
    create: createNetwork,
    delete: (id) => api('DELETE', `/networks/${id}`),
    replace: 'delete-before-replace',
  },
  // Volumes are data: removed only by the harness's final clean-up (retainOnDelete).
  'docker:index/volume:Volume': { create: createVolume, replace: 'delete-before-replace' },
  // pulumi-docker's Image delete leaves the local image; the clean-up removes it by label.
  'docker:index/image:Image': { create: createImage, replace: 'create-before-replace' },
  'docker:index/container:Container': {
    create: createContainer,
    delete: deleteContainer,
    replace: 'delete-before-replace',
  },
  // A changed trigger replaces it (create runs); any other changed input is an update, which
  // without an `update` command runs `create` again (pulumi-command 1.x): both run create.
  'command:local:Command': { create: runCommand, replace: 'create-before-replace' },
  'random:index/randomPassword:RandomPassword': {
    create: async (n, i) => randomPassword(n, i),
    replace: 'create-before-replace',
  },
  'random:index/randomBytes:RandomBytes': {
    create: async (n, i) => randomBytesResource(n, i),
    replace: 'create-before-replace',
  },
  'tls:index/privateKey:PrivateKey': {
    create: async (n, i) => privateKey(n, i),
    replace: 'create-before-replace',
  },
  'tls:index/selfSignedCert:SelfSignedCert': {
    create: async (n, i) => certificate(n, i),
    replace: 'create-before-replace',
  },
  // The docker provider itself: the engine the harness speaks to (its SDK fills `host` from
  // DOCKER_HOST), no registry credentials.
  'pulumi:providers:docker': {
    create: async (name, inputs) => {
      const i = only(`docker provider ${name}`, inputs, ['host']);
      if (i['host'] !== undefined && i['host'] !== process.env['DOCKER_HOST']) {
        throw new Error(
          `docker provider ${name}: host ${String(i['host'])} is not the engine the harness drives (DOCKER_HOST)`,
        );
      }
      return { id: randomBytes(8).toString('hex'), outputs: {} };
    },
    replace: 'create-before-replace',
  },
};

/** The provider function of a resource type; a type the harness does not know is refused. */
export function providerFor(type: string, name: string): ProviderFor {
  const provider = PROVIDERS[type];
  if (provider === undefined) {
    throw new Error(
      `the e2e harness does not know how to carry out a ${type} (${name}); refusing it ` +
        `(it knows ${Object.keys(PROVIDERS).join(', ')})`,
    );
  }
  return provider;
}
