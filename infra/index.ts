// The chatbot platform, one stack: Postgres + pgvector, Redis, the chat service in blue and
// green colors, and nginx in front, on one Docker host. Pulumi.yaml names this file as `main`;
// Node runs it as TypeScript directly (type stripping), with no build step.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { AppImage } from './app-image.ts';
import { AppService } from './app-service.ts';
import { Cache } from './cache.ts';
import { COLORS, type Color, readStackConfig, stopSeconds } from './config.ts';
import { Database } from './database.ts';
import { Migrations } from './migrations.ts';
import { Network } from './network.ts';
import { ReverseProxy } from './proxy.ts';
import { gitCommit, gitCommitTime, migrationsHash, repoRootFromCwd } from './repo.ts';

const config = readStackConfig(gitCommit);
const labels = { 'com.chatbot.project': pulumi.getProject(), 'com.chatbot.stack': config.stack };
const stop = stopSeconds(config);

const provider = new docker.Provider('docker', {
  ...(config.dockerHost !== undefined ? { host: config.dockerHost } : {}),
  ...(config.release.registry !== undefined
    ? {
        registryAuth: [
          {
            address: config.release.registry.server,
            username: config.release.registry.username,
            password: config.release.registry.password,
          },
        ],
      }
    : {}),
});
const onHost: pulumi.ComponentResourceOptions = { providers: [provider] };

const network = new Network('network', { name: `${config.namePrefix}-net`, labels }, onHost);

const database = new Database(
  'database',
  {
    namePrefix: config.namePrefix,
    network: network.name,
    image: config.images.postgres,
    limits: config.limits.postgres,
    maxConnections: config.postgres.maxConnections,
    data: config.data,
    stopSeconds: stop,
    labels,
  },
  onHost,
);

const cache = new Cache(
  'cache',
  {
    namePrefix: config.namePrefix,
    network: network.name,
    image: config.images.redis,
    limits: config.limits.redis,
    maxmemory: config.redis.maxmemory,
    maxmemoryPolicy: config.redis.maxmemoryPolicy,
    data: config.data,
    stopSeconds: stop,
    labels,
  },
  onHost,
);

const appImage = new AppImage(
  'app-image',
  {
    release: config.release,
    nodeImage: config.images.node,
    context: repoRootFromCwd(),
    created: config.release.image === undefined ? gitCommitTime(config.release.commit) : '',
  },
  onHost,
);

// Commands run on this machine; their `docker` reaches the stack's host (DOCKER_HOST).
const migrations = new Migrations('migrations', {
  image: appImage.ref,
  network: network.name,
  databaseUrl: database.appUrl,
  migrationDatabaseUrl: database.url,
  dockerHost: config.dockerHost,
  containerName: `${config.namePrefix}-migrate`,
  migrationsHash: migrationsHash(),
  after: [database.container],
});

const colorImages = Object.fromEntries(
  COLORS.map((color) => [color, config.colorImages[color] ?? appImage.ref] as const),
) as Record<Color, pulumi.Input<string>>;

const app = new AppService(
  'app',
  {
    namePrefix: config.namePrefix,
    network: network.name,
    replicas: config.replicas,
    images: colorImages,
    settings: config.app,
    jwtKeys: config.jwtKeys,
    databaseUrl: database.appUrl,
    redisUrl: cache.url,
    limits: config.limits.app,
    stopSeconds: stop,
    data: config.data,
    dockerHost: config.dockerHost,
    labels,
    after: [migrations.command, database.container, cache.container],
  },
  onHost,
);

const active = app.colors[config.activeColor];
const proxy = new ReverseProxy(
  'proxy',
  {
    stack: config.stack,
    namePrefix: config.namePrefix,
    network: network.name,
    image: config.images.nginx,
    proxy: config.proxy,
    limits: config.limits.nginx,
    stopSeconds: stop,
    dockerHost: config.dockerHost,
    labels,
    webVolumes: { blue: app.colors.blue.webVolume.name, green: app.colors.green.webVolume.name },
    activeColor: config.activeColor,
    uploadMaxBytes: config.app.kbMaxUploadBytes,
    activeServers: active.servers,
    activeResources: [...active.containers, active.webFill],
  },
  onHost,
);

/** Where the platform answers. */
export const url = proxy.url;
/** The color nginx sends traffic to (known once the switch ran), and the one kept for a rollback. */
export const activeColor = proxy.switchCommand.id.apply(() => config.activeColor);
export const idleColor = proxy.switchCommand.id.apply(() => config.idleColor);
/** The release (what migrations ran): repository@sha256:digest, or the local image id in dev. */
export const imageRef = appImage.ref;
export const imageName = appImage.name;
export const commit = config.release.commit;
/** What each color runs (the deploy script pins these). */
export const blueImage = app.colors.blue.image;
export const greenImage = app.colors.green.image;
export const replicas = config.replicas;
export const nginxContainer = proxy.container.name;
export const activeContainers = pulumi.all(active.containers.map((c) => c.name));
export const jwtPublicKey = app.jwtPublicKey;
