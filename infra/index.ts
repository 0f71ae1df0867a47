// The chatbot platform, one stack: Postgres + pgvector, Redis, the chat service and nginx in
// front. orchestrator host (the default): everything on one Docker host, the chat service in
// blue and green colors. orchestrator swarm: Swarm services across the nodes of a swarm, the
// chat service updated one task at a time (swarm-*.ts). Pulumi.yaml names this file as `main`;
// Node runs it as TypeScript directly (type stripping), with no build step.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { AppImage } from './app-image.ts';
import { APP_PORT, AppService, type AppArgs } from './app-service.ts';
import { Cache, type RedisSettings } from './cache.ts';
import { COLORS, type Color, readStackConfig, stopSeconds } from './config.ts';
import { Database, type PostgresSettings } from './database.ts';
import { Migrations } from './migrations.ts';
import { Network } from './network.ts';
import { ReverseProxy, type ProxySettings } from './proxy.ts';
import { gitCommit, gitCommitTime, migrationsHash, repoRootFromCwd } from './repo.ts';
import { SwarmAppService } from './swarm-app.ts';
import { SwarmCache, SwarmDatabase } from './swarm-data.ts';
import { SwarmProxy } from './swarm-proxy.ts';

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

/** Each component's settings, whichever the orchestrator. */
const postgresArgs: PostgresSettings = {
  namePrefix: config.namePrefix,
  image: config.images.postgres,
  limits: config.limits.postgres,
  maxConnections: config.postgres.maxConnections,
  stopSeconds: stop,
  labels,
};
const redisArgs: RedisSettings = {
  namePrefix: config.namePrefix,
  image: config.images.redis,
  limits: config.limits.redis,
  maxmemory: config.redis.maxmemory,
  maxmemoryPolicy: config.redis.maxmemoryPolicy,
  stopSeconds: stop,
  labels,
};
/** The app's, but for the database, Redis and what it waits for (appArgs). */
const appSettings = {
  namePrefix: config.namePrefix,
  replicas: config.replicas,
  settings: config.app,
  jwtKeys: config.jwtKeys,
  limits: config.limits.app,
  stopSeconds: stop,
  labels,
};
const proxyArgs: ProxySettings = {
  stack: config.stack,
  namePrefix: config.namePrefix,
  image: config.images.nginx,
  proxy: config.proxy,
  limits: config.limits.nginx,
  stopSeconds: stop,
  dockerHost: config.dockerHost,
  labels,
  uploadMaxBytes: config.app.kbMaxUploadBytes,
};

/** The app's settings with its database, Redis, and the resources it starts after. */
function appArgs(
  database: { appUrl: pulumi.Input<string> },
  cache: { url: pulumi.Input<string> },
  after: pulumi.Input<pulumi.Resource>[],
): AppArgs {
  return { ...appSettings, databaseUrl: database.appUrl, redisUrl: cache.url, after };
}

/**
 * The migrations as a Command on this machine, whose `docker` reaches the stack's host or the
 * swarm's manager (DOCKER_HOST): a one-off container on the stack's network, after Postgres;
 * the app is updated only once it succeeded.
 */
function migrationsOn(
  network: Network,
  database: { appUrl: pulumi.Input<string>; url: pulumi.Input<string> },
  after: pulumi.Resource,
): Migrations {
  return new Migrations('migrations', {
    image: appImage.ref,
    network: network.name,
    databaseUrl: database.appUrl,
    migrationDatabaseUrl: database.url,
    dockerHost: config.dockerHost,
    containerName: `${config.namePrefix}-migrate`,
    migrationsHash: migrationsHash(),
    after: [after],
  });
}

/** What a stack exports, whichever the orchestrator (undefined: not in this mode). */
interface Deployed {
  url: pulumi.Output<string>;
  activeColor?: pulumi.Output<string>;
  idleColor?: pulumi.Output<string>;
  blueImage?: pulumi.Output<string>;
  greenImage?: pulumi.Output<string>;
  nginxContainer?: pulumi.Output<string>;
  activeContainers?: pulumi.Output<string[]>;
  appService?: pulumi.Output<string>;
  nginxService?: pulumi.Output<string>;
  jwtPublicKey: pulumi.Output<string>;
}

/** One Docker host: containers, the app blue/green behind nginx's color switch. */
function onOneHost(): Deployed {
  const network = new Network('network', { name: `${config.namePrefix}-net`, labels }, onHost);

  const database = new Database(
    'database',
    { ...postgresArgs, network: network.name, data: config.data },
    onHost,
  );

  const cache = new Cache('cache', { ...redisArgs, network: network.name, data: config.data }, onHost);
  const migrations = migrationsOn(network, database, database.container);

  const colorImages = Object.fromEntries(
    COLORS.map((color) => [color, config.colorImages[color] ?? appImage.ref] as const),
  ) as Record<Color, pulumi.Input<string>>;

  const app = new AppService(
    'app',
    {
      ...appArgs(database, cache, [migrations.command, database.container, cache.container]),
      network: network.name,
      images: colorImages,
      data: config.data,
      dockerHost: config.dockerHost,
    },
    onHost,
  );

  const active = app.colors[config.activeColor];
  const proxy = new ReverseProxy(
    'proxy',
    {
      ...proxyArgs,
      network: network.name,
      webVolumes: { blue: app.colors.blue.webVolume.name, green: app.colors.green.webVolume.name },
      activeColor: config.activeColor,
      activeServers: active.servers,
      activeResources: [...active.containers, active.webFill],
    },
    onHost,
  );

  return {
    url: proxy.url,
    // The color nginx sends traffic to (known once the switch ran), and the one kept for a rollback.
    activeColor: proxy.switchCommand.id.apply(() => config.activeColor),
    idleColor: proxy.switchCommand.id.apply(() => config.idleColor),
    // What each color runs (the deploy script pins these).
    blueImage: app.colors.blue.image,
    greenImage: app.colors.green.image,
    nginxContainer: proxy.container.name,
    activeContainers: pulumi.all(active.containers.map((c) => c.name)),
    jwtPublicKey: app.jwtPublicKey,
  };
}

/**
 * A Docker Swarm (dockerHost is a manager): an overlay network, Postgres and Redis pinned to
 * the data node, the app as one replicated service updated task by task, nginx on the edge
 * node resolving the app's tasks through Swarm's DNS.
 */
function onSwarm(): Deployed {
  const network = new Network(
    'network',
    { name: `${config.namePrefix}-net`, labels, swarm: { encrypted: config.swarm.encryptNetwork } },
    onHost,
  );
  const networkId = network.network.id;

  const database = new SwarmDatabase(
    'database',
    { ...postgresArgs, networkId, nodeLabel: config.swarm.dataLabel },
    onHost,
  );

  const cache = new SwarmCache(
    'cache',
    { ...redisArgs, networkId, nodeLabel: config.swarm.dataLabel },
    onHost,
  );
  const migrations = migrationsOn(network, database, database.service);

  const app = new SwarmAppService(
    'app',
    {
      ...appArgs(database, cache, [migrations.command, database.service, cache.service]),
      networkId,
      image: appImage.ref,
      swarm: config.swarm,
      registry: config.release.registry,
    },
    onHost,
  );

  const proxy = new SwarmProxy(
    'proxy',
    {
      ...proxyArgs,
      networkId,
      nodeLabel: config.swarm.edgeLabel,
      appTasks: `tasks.${app.serviceName}:${APP_PORT}`,
      release: appImage.ref,
      registry: config.release.registry,
      app: app.service,
    },
    onHost,
  );

  return {
    url: proxy.url,
    appService: app.service.name,
    nginxService: proxy.service.name,
    jwtPublicKey: app.jwtPublicKey,
  };
}

const deployed = config.orchestrator === 'swarm' ? onSwarm() : onOneHost();

/** Where the platform answers. */
export const url = deployed.url;
/** orchestrator host: the color nginx sends traffic to (known once the switch ran), and the one kept for a rollback. */
export const activeColor = deployed.activeColor;
export const idleColor = deployed.idleColor;
/** The release (what migrations ran): repository@sha256:digest, or the local image id in dev. */
export const imageRef = appImage.ref;
export const imageName = appImage.name;
export const commit = config.release.commit;
/** orchestrator host: what each color runs (the deploy script pins these). */
export const blueImage = deployed.blueImage;
export const greenImage = deployed.greenImage;
export const replicas = config.replicas;
export const nginxContainer = deployed.nginxContainer;
export const activeContainers = deployed.activeContainers;
/** orchestrator swarm: the Swarm services of the app and of nginx. */
export const appService = deployed.appService;
export const nginxService = deployed.nginxService;
export const jwtPublicKey = deployed.jwtPublicKey;
