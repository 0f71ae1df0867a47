// The stack's configuration: every key of CONFIG_SPEC (Pulumi.yaml's config block is generated
// from it: `npm run gen:config -w infra`), read once, validated, typed. Each key is read by the
// service's config reader against its schema; the rules across keys follow. A missing or
// malformed value stops the program with one message that lists every problem, names the key
// and says the command that fixes it.
import { formatValue, readConfig } from '@chatbot/service/config-reader';
import * as pulumi from '@pulumi/pulumi';
import { Type, type Static, type TSchema, type TString } from 'typebox';
import { APP_SPEC, type AppStackKey } from './app-env.ts';

export type Color = 'blue' | 'green';
export const COLORS: readonly Color[] = ['blue', 'green'];

/** repository@sha256:<64 hex>: an image pinned by digest. */
export const DIGEST_REF = /^[a-z0-9][a-z0-9._\-/:]*@sha256:[0-9a-f]{64}$/;
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}$/;
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A string the pattern must match, refused as "must be <what> (got ...)". */
function matching(schema: TString, pattern: RegExp, what: string) {
  return Type.Refine(
    schema,
    (value) => pattern.test(value),
    (value) => `must be ${what} (got "${value}")`,
  );
}

const text = (defaultValue: string, description: string, more: Record<string, unknown> = {}) =>
  Type.String({ default: defaultValue, description, ...more });
const integer = (defaultValue: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ default: defaultValue, minimum, maximum, description });
const flag = (defaultValue: boolean, description: string) =>
  Type.Boolean({ default: defaultValue, description });
const memoryLimit = (of: string) => integer(0, 0, 1_048_576, `Memory limit ${of} (MB); 0: none.`);
const cpuLimit = (description: string) =>
  matching(
    text('', description, { examples: ['1.5'] }),
    /^(?=.*[1-9])\d+(\.\d+)?$/,
    'a positive number of CPUs like 1.5',
  );

/** A Swarm node label key, as `docker node update --label-add <key>=true` takes it. */
const NODE_LABEL = /^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$/;

/** The keys of the infrastructure itself (the app's keys come from app-env.ts). */
const INFRA_SPEC = {
  namePrefix: text('', 'Prefix of every Docker object the stack creates; empty means chatbot-<stack>.'),
  orchestrator: Type.Enum(['host', 'swarm'], {
    default: 'host',
    description:
      'host: every container on the one Docker host, the app deployed blue/green; swarm: dockerHost is a Swarm manager, the app a replicated service updated one task at a time (start-first, rolled back on failure), Postgres and Redis on the node labelled swarmDataLabel, nginx on the node labelled swarmEdgeLabel.',
  }),
  swarmDataLabel: matching(
    text(
      'chatbot.data',
      'orchestrator swarm: label of the node that runs Postgres and Redis and keeps their volumes (docker node update --label-add <label>=true <node>).',
    ),
    NODE_LABEL,
    'a node label like chatbot.data',
  ),
  swarmEdgeLabel: matching(
    text(
      'chatbot.edge',
      'orchestrator swarm: label of the node that runs nginx, publishes ports 80 and 443 and keeps the web volume (docker node update --label-add <label>=true <node>).',
    ),
    NODE_LABEL,
    'a node label like chatbot.edge',
  ),
  swarmUploadsNfs: matching(
    text(
      '',
      'orchestrator swarm: NFS export (host:/path) holding the uploads volume, which every app task on every node mounts; required outside development (empty: a volume local to each node).',
      { examples: ['10.0.0.5:/srv/chatbot-uploads'] },
    ),
    /^[A-Za-z0-9.\-[\]:]+:\/\S*$/,
    'an NFS export like 10.0.0.5:/srv/chatbot-uploads',
  ),
  swarmEncryptNetwork: flag(
    false,
    'orchestrator swarm: encrypt the overlay network between nodes (IPsec: the nodes must let ESP, IP protocol 50, through).',
  ),
  dockerHost: matching(
    text(
      '',
      'Docker engine of the stack, e.g. ssh://deploy@host; empty means the local engine (DOCKER_HOST). Commands use the same host.',
      { examples: ['ssh://deploy@host'] },
    ),
    /^(unix|tcp|ssh|npipe):\/\/\S+$/,
    'a Docker host like ssh://deploy@host or unix:///var/run/docker.sock',
  ),
  domain: Type.Refine(
    text('localhost', 'Public host name of the stack (nginx server name, URL, ALLOWED_HOSTS).'),
    (value) => HOST_NAME.test(value.toLowerCase()),
    (value) => `must be a host name like chat.example.com (got "${value}")`,
  ),
  publicBindAddress: matching(
    text('127.0.0.1', 'Host address nginx publishes its ports on (0.0.0.0 for every interface).'),
    /^[0-9a-fA-F.:]+$/,
    'an IP address like 127.0.0.1 or 0.0.0.0',
  ),
  httpPort: integer(8080, 0, 65535, 'Published HTTP port (redirects to HTTPS); 0 lets Docker pick one.'),
  httpsPort: integer(8443, 0, 65535, 'Published HTTPS port; 0 lets Docker pick one.'),
  tlsMode: Type.Enum(['self-signed', 'host', 'config'], {
    default: 'self-signed',
    description:
      'self-signed (generated by @pulumi/tls), host (Let’s Encrypt layout under tlsHostDir on the Docker host) or config (tlsCertificate + tlsPrivateKey).',
  }),
  tlsHostDir: matching(
    text(
      '/etc/letsencrypt',
      'tlsMode host: directory on the Docker host holding live/<domain>/fullchain.pem and privkey.pem.',
    ),
    /^\//,
    'an absolute path on the Docker host',
  ),
  acmeWebroot: matching(
    text(
      '',
      'Directory on the Docker host served at /.well-known/acme-challenge/ over HTTP (certbot --webroot); empty turns it off.',
      { examples: ['/var/www/certbot'] },
    ),
    /^\//,
    'an absolute path on the Docker host',
  ),
  tlsCertificate: text('', 'tlsMode config: the certificate chain (PEM).'),
  tlsPrivateKey: text('', 'tlsMode config: the certificate’s private key (PEM).', { secret: true }),
  hsts: flag(false, 'Send Strict-Transport-Security (only with a certificate browsers trust).'),
  edgeRequestsPerSecond: integer(
    50,
    1,
    100_000,
    'nginx: requests a second one client address may send to /v1 (limit_req); beyond it and its burst, 429.',
  ),
  edgeRequestBurst: integer(
    200,
    0,
    100_000,
    'nginx: requests a client address may send at once above edgeRequestsPerSecond before it gets 429.',
  ),
  edgeConnections: integer(
    100,
    1,
    100_000,
    'nginx: requests to /v1 one client address may have open at once, streams included (limit_conn); beyond, 429.',
  ),
  postgresImage: text('pgvector/pgvector:pg17', 'Postgres image with pgvector.'),
  redisImage: text('redis:7.4-bookworm', 'Redis image.'),
  nginxImage: text('nginx:1.28-bookworm', 'nginx image.'),
  nodeImage: text(
    'node:24-bookworm-slim',
    'Base image of the app build (the Dockerfile’s NODE_IMAGE build argument).',
  ),
  image: text(
    '',
    'The release being deployed (migrations run it): empty builds the Dockerfile of this checkout (not in production); otherwise an image reference, in production repository@sha256:digest.',
  ),
  activeColor: Type.Enum(['blue', 'green'], {
    default: 'blue',
    description: 'The color nginx sends traffic to: blue or green.',
  }),
  blueImage: text(
    '',
    'Image the blue color runs; empty means the release (image). Set by the deploy script.',
  ),
  greenImage: text(
    '',
    'Image the green color runs; empty means the release (image). Set by the deploy script.',
  ),
  imageRepository: text(
    '',
    'Repository the build is tagged (and pushed) as, tag = commit; empty means <namePrefix>-app (local only).',
  ),
  push: flag(false, 'Push the built image to its registry.'),
  registryServer: text('', 'Registry to log in to; empty means the host part of imageRepository or image.'),
  registryUsername: text('', 'Registry user for pushes and pulls; empty means no login.'),
  registryPassword: text('', 'Registry password or token (required when registryUsername is set).', {
    secret: true,
  }),
  commit: text('', 'Commit the build is tagged with; empty means git rev-parse HEAD of this checkout.'),
  version: text('', 'Version label of the build (VERSION build argument); empty means the short commit.'),
  sourceUrl: text('', 'Source repository URL for the image’s OCI label (SOURCE build argument).'),
  platform: text('', 'Build platform, e.g. linux/amd64; empty means the Docker host’s own.'),
  replicas: integer(
    1,
    1,
    20,
    'App containers per color (orchestrator host), or tasks of the app service (swarm).',
  ),
  jwtPrivateKey: text('', 'JWT signing key (PEM); empty generates an ECDSA P-256 pair with @pulumi/tls.', {
    secret: true,
  }),
  jwtPublicKey: text('', 'JWT verification key (PEM, SPKI); required with jwtPrivateKey.'),
  appMemoryMb: memoryLimit('per app container'),
  appCpus: cpuLimit('CPU limit per app container, e.g. "1.5"; empty: none.'),
  postgresMemoryMb: memoryLimit('of Postgres'),
  postgresCpus: cpuLimit('CPU limit of Postgres; empty: none.'),
  postgresMaxConnections: integer(100, 10, 10_000, 'Postgres max_connections (both colors’ pools must fit).'),
  redisMemoryMb: memoryLimit('of Redis'),
  redisMaxmemory: matching(
    text('', 'Redis maxmemory, e.g. 2gb; empty: no limit.', { examples: ['2gb'] }),
    /^\d+([bB]|[kKmMgG][bB]?)?$/,
    'a size like 2gb or 512mb',
  ),
  redisMaxmemoryPolicy: Type.Enum(['noeviction'], {
    default: 'noeviction',
    description:
      'Redis maxmemory-policy, used with redisMaxmemory: noeviction only. The rate limiter’s counters and the ingestion queue must never be evicted; they carry TTLs, so volatile-* policies would evict them too, and a separate logical database would not help (eviction spans the whole instance). A full Redis refuses writes: counted requests answer 503, never run unmetered.',
  }),
  nginxMemoryMb: memoryLimit('of nginx'),
  retainData: flag(true, 'Keep the data volumes (Postgres, Redis, uploads) when the stack is destroyed.'),
  protectData: flag(false, 'Protect the data volumes: Pulumi refuses to delete them.'),
};

/**
 * Every configuration key of the project (namespace `chatbot:`): the app's, then the
 * infrastructure's. A key marked `secret` is set with `pulumi config set --secret`.
 */
export const CONFIG_SPEC = Type.Object({ ...APP_SPEC, ...INFRA_SPEC });

export type ConfigKey = keyof typeof CONFIG_SPEC.properties;
/** Every key's value, as read (empty values replaced by their defaults). */
export type ConfigValues = Static<typeof CONFIG_SPEC>;
export type TlsMode = ConfigValues['tlsMode'];
export type Orchestrator = ConfigValues['orchestrator'];

/** orchestrator swarm: where things run (node labels) and how the uploads are shared. */
export interface SwarmConfig {
  dataLabel: string;
  edgeLabel: string;
  /** The NFS export of the uploads volume; undefined: a volume local to each node. */
  uploadsNfs: { address: string; path: string } | undefined;
  encryptNetwork: boolean;
}

export interface TlsConfig {
  mode: TlsMode;
  /** tlsMode host */
  hostDir: string;
  /** tlsMode config */
  certificate?: string;
  privateKey?: pulumi.Output<string>;
}

export interface EdgeLimits {
  requestsPerSecond: number;
  burst: number;
  connections: number;
}

export interface ResourceLimits {
  memoryMb: number;
  cpus: string | undefined;
}

/** What the app keys set (each passed on as its variable, see app-env.ts). */
export type AppSettings = Pick<ConfigValues, AppStackKey>;

export interface StackConfig {
  stack: string;
  namePrefix: string;
  dockerHost: string | undefined;
  orchestrator: Orchestrator;
  swarm: SwarmConfig;
  images: { postgres: string; redis: string; nginx: string; node: string };
  release: {
    /** A prebuilt image reference; undefined builds this checkout's Dockerfile. */
    image: string | undefined;
    repository: string;
    push: boolean;
    registry: { server: string; username: string; password: pulumi.Output<string> } | undefined;
    commit: string;
    version: string;
    sourceUrl: string;
    platform: string | undefined;
  };
  /** orchestrator host: the color nginx sends traffic to (swarm has no colors). */
  activeColor: Color;
  idleColor: Color;
  /** What each color runs; undefined means the release. */
  colorImages: Record<Color, string | undefined>;
  /** App containers per color (host), or tasks of the app service (swarm). */
  replicas: number;
  app: AppSettings;
  /** Configured JWT keys; undefined generates a pair. */
  jwtKeys: { privateKey: pulumi.Output<string>; publicKey: string } | undefined;
  limits: { app: ResourceLimits; postgres: ResourceLimits; redis: ResourceLimits; nginx: ResourceLimits };
  postgres: { maxConnections: number };
  redis: { maxmemory: string | undefined; maxmemoryPolicy: string };
  proxy: {
    domain: string;
    bindAddress: string;
    httpPort: number;
    httpsPort: number;
    hsts: boolean;
    acmeWebroot: string | undefined;
    tls: TlsConfig;
    /** Per client address on /v1 (nginx limit_req and limit_conn). */
    edgeLimits: EdgeLimits;
  };
  data: { retain: boolean; protect: boolean };
}

/** Where raw values come from: Pulumi's config in the program, a map in unit tests. */
export interface ConfigSource {
  stack: string;
  project: string;
  get(key: ConfigKey): string | undefined;
  /** The commit of the checkout, asked for only when `commit` is empty. */
  gitCommit(): string;
}

export class StackConfigError extends Error {
  readonly problems: string[];
  constructor(stack: string, problems: string[]) {
    super(
      `Stack "${stack}" cannot be deployed until its configuration is fixed:\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'StackConfigError';
    this.problems = problems;
  }
}

/** The registry part of an image reference ("registry.example.com/team/app:tag"), if any. */
export function registryHostOf(ref: string): string | undefined {
  const first = ref.split('/')[0] ?? '';
  if (!ref.includes('/')) return undefined;
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : undefined;
}

export function otherColor(color: Color): Color {
  return color === 'blue' ? 'green' : 'blue';
}

function specOf(key: ConfigKey): TSchema {
  return CONFIG_SPEC.properties[key];
}

/** A value that makes the key valid, for the command in a message. */
function exampleOf(key: ConfigKey): string {
  const schema = specOf(key) as { default?: unknown; examples?: unknown[]; enum?: unknown[] };
  return formatValue(schema.examples?.[0] ?? schema.default ?? schema.enum?.[0]) ?? '<value>';
}

/** Validates raw values into a StackConfig, or throws StackConfigError listing every problem. */
export function parseConfig(source: ConfigSource): StackConfig {
  const { stack } = source;
  const ns = source.project;
  const setCmd = (key: ConfigKey, example = exampleOf(key)): string => {
    const secret = (specOf(key) as { secret?: boolean }).secret === true;
    return `pulumi config set${secret ? ' --secret' : ''} ${key} ${example} --stack ${stack}`;
  };

  const read = readConfig(CONFIG_SPEC, (key) => source.get(key as ConfigKey));
  const v = read.values;
  const problems = read.problems.map(({ key, text }) => `${ns}:${key} ${text}: ${setCmd(key as ConfigKey)}`);
  const optional = (value: string): string | undefined => (value === '' ? undefined : value);
  const required = (key: ConfigKey, why: string, example: string): string | undefined => {
    const value = optional(String(v[key] ?? ''));
    if (value === undefined) problems.push(`${ns}:${key} is required ${why}: ${setCmd(key, example)}`);
    return value;
  };

  const production = v.environment === 'production';

  const namePrefix = optional(v.namePrefix) ?? `chatbot-${stack}`;
  if (!DOCKER_NAME.test(namePrefix)) {
    problems.push(
      `${ns}:namePrefix must be letters, digits, '.', '_' or '-' (at most 41 characters; got "${namePrefix}")`,
    );
  }

  // The release and the colors.
  const image = optional(v.image);
  if (production) {
    if (image === undefined) {
      problems.push(
        `${ns}:image is required in production: the digest staging ran (production never builds). ` +
          `Deploy with \`npm run deploy -w infra -- --stack ${stack} --commit <sha>\` or ` +
          setCmd('image', 'registry.example.com/chatbot/app@sha256:<digest>'),
      );
    } else if (!DIGEST_REF.test(image)) {
      problems.push(
        `${ns}:image must be pinned by digest in production (repository@sha256:<64 hex>; got "${image}")`,
      );
    }
  }
  const colorImages: Record<Color, string | undefined> = {
    blue: optional(v.blueImage),
    green: optional(v.greenImage),
  };
  if (production) {
    for (const color of COLORS) {
      const ref = colorImages[color];
      if (ref !== undefined && !DIGEST_REF.test(ref)) {
        problems.push(`${ns}:${color}Image must be empty or pinned by digest in production (got "${ref}")`);
      }
    }
  }

  const repository = optional(v.imageRepository) ?? `${namePrefix}-app`;
  if (!/^[a-z0-9][a-z0-9._\-/:]*$/.test(repository) || /:[^/]*$/.test(repository.replace(/^[^/]*\//, ''))) {
    problems.push(
      `${ns}:imageRepository must be a repository without a tag, like registry.example.com/chatbot/app (got "${repository}")`,
    );
  }
  if (v.push && registryHostOf(repository) === undefined) {
    problems.push(
      `${ns}:imageRepository must name a registry host to push to (got "${repository}"): ${setCmd('imageRepository', 'registry.example.com/chatbot/app')}`,
    );
  }
  let registry: StackConfig['release']['registry'];
  const registryUsername = optional(v.registryUsername);
  if (registryUsername !== undefined) {
    const password = required(
      'registryPassword',
      'with registryUsername (the registry password or token)',
      '<token>',
    );
    const server =
      optional(v.registryServer) ?? registryHostOf(image ?? '') ?? registryHostOf(repository) ?? '';
    if (server === '')
      problems.push(
        `${ns}:registryServer is required: neither imageRepository nor image names a registry: ${setCmd('registryServer', 'registry.example.com')}`,
      );
    if (password !== undefined)
      registry = { server, username: registryUsername, password: pulumi.secret(password) };
  }

  let commit = optional(v.commit);
  if (commit === undefined && image === undefined) commit = source.gitCommit();
  commit ??= 'unknown';
  if (!/^[0-9A-Za-z._-]{1,128}$/.test(commit)) {
    problems.push(`${ns}:commit must be usable as an image tag (got "${commit}")`);
  }

  // The app.
  if (v.disableAuth && production)
    problems.push(`${ns}:disableAuth is refused in production: ${setCmd('disableAuth', 'false')}`);

  const jwtPrivate = optional(v.jwtPrivateKey);
  const jwtPublic = optional(v.jwtPublicKey);
  let jwtKeys: StackConfig['jwtKeys'];
  if (jwtPrivate !== undefined || jwtPublic !== undefined) {
    if (jwtPrivate === undefined) required('jwtPrivateKey', 'with jwtPublicKey', '"$(cat jwt.key)"');
    if (jwtPublic === undefined) required('jwtPublicKey', 'with jwtPrivateKey', '"$(cat jwt.pub)"');
    if (jwtPrivate !== undefined && jwtPublic !== undefined) {
      jwtKeys = { privateKey: pulumi.secret(jwtPrivate), publicKey: jwtPublic };
    }
  }
  if (v.environment !== 'development') {
    required('openrouterApiKey', `on stack ${stack} (the platform's OpenRouter key)`, 'sk-or-v1-...');
  }

  const domain = v.domain.toLowerCase();
  const allowedHosts = v.allowedHosts.map((host) => host.toLowerCase());
  if (allowedHosts.length === 0) {
    allowedHosts.push(
      ...new Set([domain, ...(v.environment === 'development' ? ['localhost', '127.0.0.1'] : [])]),
    );
  }

  // The proxy.
  if (production && v.tlsMode === 'self-signed') {
    problems.push(
      `${ns}:tlsMode must be host or config in production (a certificate browsers trust): ${setCmd('tlsMode', 'host')}`,
    );
  }
  const tls: TlsConfig = { mode: v.tlsMode, hostDir: v.tlsHostDir };
  if (v.tlsMode === 'config') {
    const certificate = required('tlsCertificate', 'with tlsMode config', '"$(cat fullchain.pem)"');
    const key = required('tlsPrivateKey', 'with tlsMode config', '"$(cat privkey.pem)"');
    if (certificate !== undefined) tls.certificate = certificate;
    if (key !== undefined) tls.privateKey = pulumi.secret(key);
  }
  if (v.httpPort !== 0 && v.httpPort === v.httpsPort)
    problems.push(`${ns}:httpPort and httpsPort must differ`);

  // Every color's pool (replicas x (pool + overflow)), the migrations and a few sessions for
  // operators must fit into max_connections. A swarm update runs one task more than replicas.
  const swarm = v.orchestrator === 'swarm';
  const needed =
    (swarm ? v.replicas + SWARM_UPDATE_PARALLELISM : 2 * v.replicas) * (v.dbPoolSize + v.dbMaxOverflow) + 5;
  if (needed > v.postgresMaxConnections) {
    const who = swarm
      ? `the app's tasks may open during an update ((${v.replicas} replicas + ${SWARM_UPDATE_PARALLELISM})`
      : `both colors may open (2 x ${v.replicas} replicas`;
    problems.push(
      `${ns}:postgresMaxConnections (${v.postgresMaxConnections}) is below what ${who} x (dbPoolSize + dbMaxOverflow) + 5 = ${needed}): ${setCmd('postgresMaxConnections', String(needed))}`,
    );
  }

  // Swarm: nginx publishes its ports on its node in host mode (no routing mesh), and every app
  // task on every node must see the same uploads.
  let uploadsNfs: SwarmConfig['uploadsNfs'];
  if (swarm) {
    for (const key of ['httpPort', 'httpsPort'] as const) {
      if (v[key] === 0)
        problems.push(
          `${ns}:${key} must be a port number with orchestrator swarm: ${setCmd(key, key === 'httpPort' ? '80' : '443')}`,
        );
    }
    const nfs = optional(v.swarmUploadsNfs);
    if (nfs !== undefined) {
      const at = nfs.indexOf(':/');
      uploadsNfs = { address: nfs.slice(0, at).replace(/^\[(.*)\]$/, '$1'), path: nfs.slice(at + 1) };
    } else if (v.environment !== 'development') {
      required(
        'swarmUploadsNfs',
        `with orchestrator swarm on stack ${stack} (uploaded documents must be readable by every app task on every node)`,
        '10.0.0.5:/srv/chatbot-uploads',
      );
    }
  }

  if (problems.length > 0) throw new StackConfigError(stack, problems);

  const app = Object.fromEntries(
    Object.keys(APP_SPEC).map((key) => [key, v[key as AppStackKey]]),
  ) as AppSettings;
  return {
    stack,
    namePrefix,
    dockerHost: optional(v.dockerHost),
    orchestrator: v.orchestrator,
    swarm: {
      dataLabel: v.swarmDataLabel,
      edgeLabel: v.swarmEdgeLabel,
      uploadsNfs,
      encryptNetwork: v.swarmEncryptNetwork,
    },
    images: { postgres: v.postgresImage, redis: v.redisImage, nginx: v.nginxImage, node: v.nodeImage },
    release: {
      image,
      repository,
      push: v.push,
      registry,
      commit,
      version: optional(v.version) ?? commit.slice(0, 12),
      sourceUrl: v.sourceUrl,
      platform: optional(v.platform),
    },
    activeColor: v.activeColor,
    idleColor: otherColor(v.activeColor),
    colorImages,
    replicas: v.replicas,
    app: { ...app, allowedHosts },
    jwtKeys,
    limits: {
      app: { memoryMb: v.appMemoryMb, cpus: optional(v.appCpus) },
      postgres: { memoryMb: v.postgresMemoryMb, cpus: optional(v.postgresCpus) },
      redis: { memoryMb: v.redisMemoryMb, cpus: undefined },
      nginx: { memoryMb: v.nginxMemoryMb, cpus: undefined },
    },
    postgres: { maxConnections: v.postgresMaxConnections },
    redis: { maxmemory: optional(v.redisMaxmemory), maxmemoryPolicy: v.redisMaxmemoryPolicy },
    proxy: {
      domain,
      bindAddress: v.publicBindAddress,
      httpPort: v.httpPort,
      httpsPort: v.httpsPort,
      hsts: v.hsts,
      acmeWebroot: optional(v.acmeWebroot),
      tls,
      edgeLimits: {
        requestsPerSecond: v.edgeRequestsPerSecond,
        burst: v.edgeRequestBurst,
        connections: v.edgeConnections,
      },
    },
    data: { retain: v.retainData, protect: v.protectData },
  };
}

/** orchestrator swarm: app tasks replaced at once in an update (each started before its old one stops). */
export const SWARM_UPDATE_PARALLELISM = 1;

/** Seconds a container gets to stop: the service's drain time plus a margin. */
export function stopSeconds(config: StackConfig): number {
  return Math.ceil(config.app.shutdownGraceMs / 1000) + 5;
}

/** Reads the running stack's configuration (Pulumi's config for the project namespace). */
export function readStackConfig(gitCommit: () => string): StackConfig {
  const cfg = new pulumi.Config();
  try {
    return parseConfig({
      stack: pulumi.getStack(),
      project: pulumi.getProject(),
      get: (key) => cfg.get(key),
      gitCommit,
    });
  } catch (err) {
    // RunError: Pulumi prints the message without a stack trace.
    if (err instanceof StackConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}
