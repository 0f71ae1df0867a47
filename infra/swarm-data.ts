// orchestrator swarm: Postgres and Redis as services of one task each, pinned to the node
// labelled swarmDataLabel, where Docker creates their volumes when a task first mounts them
// (local volumes live on one node, so the task must always come back there). They register as
// the components of the host mode do (same type and name, same generated passwords), so a stack
// moving between orchestrators keeps its passwords, and run what database.ts and cache.ts
// define. Passwords reach them as Swarm secrets, never in the service's spec: Postgres through
// POSTGRES_PASSWORD_FILE, Redis in its config file.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import {
  CACHE_HOST,
  REDIS_DATA_PATH,
  redisCommand,
  redisCredentials,
  redisHealthcheck,
  type RedisSettings,
} from './cache.ts';
import {
  DATABASE_HOST,
  databaseCredentials,
  POSTGRES_DATA_PATH,
  POSTGRES_ENV,
  POSTGRES_HEALTHCHECK,
  POSTGRES_SHM_MB,
  POSTGRES_START_SECONDS,
  postgresCommand,
  postgresStopSeconds,
  type PostgresSettings,
} from './database.ts';
import { componentLabels } from './docker-defaults.ts';
import { SECRETS_DIR, secretFile, singleTaskServiceArgs, versionedSecret, volumeMount } from './swarm.ts';

export const POSTGRES_PASSWORD_FILE = 'pg-password';
export const REDIS_CONFIG_FILE = 'redis-conf';

/** Where a data service runs under swarm. */
export interface SwarmPlacement {
  /** The overlay network's id. */
  networkId: pulumi.Input<string>;
  /** The node label the service is pinned to (swarmDataLabel). */
  nodeLabel: string;
}

export type SwarmDatabaseArgs = PostgresSettings & SwarmPlacement;

export class SwarmDatabase extends pulumi.ComponentResource {
  /** The owner's URL (migrations need it). Secret. */
  public readonly url: pulumi.Output<string>;
  /** The service's login role's URL. Secret. */
  public readonly appUrl: pulumi.Output<string>;
  /** Created (and updated) once its task runs healthy. */
  public readonly service: docker.Service;

  constructor(name: string, args: SwarmDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    // The type of the host mode's Database, so the passwords below are the same resources.
    super('chatbot:infra:Database', name, {}, opts);

    const credentials = databaseCredentials(name, this);
    const labels = componentLabels(args.labels, 'postgres');
    const passwordSecret = versionedSecret(
      `${name}-password-secret`,
      { namePrefix: args.namePrefix, what: POSTGRES_PASSWORD_FILE, value: credentials.password, labels },
      this,
    );

    this.service = new docker.Service(
      `${name}-postgres`,
      singleTaskServiceArgs({
        name: `${args.namePrefix}-postgres`,
        labels,
        containerSpec: {
          image: args.image,
          // args, not commands: the image's entrypoint stays (it reads *_FILE and runs initdb).
          args: postgresCommand(args),
          env: { ...POSTGRES_ENV, POSTGRES_PASSWORD_FILE: `${SECRETS_DIR}/${POSTGRES_PASSWORD_FILE}` },
          secrets: [secretFile(passwordSecret, POSTGRES_PASSWORD_FILE)],
          mounts: [
            volumeMount(`${args.namePrefix}-pgdata`, POSTGRES_DATA_PATH, labels),
            { type: 'tmpfs', target: '/dev/shm', tmpfsOptions: { sizeBytes: POSTGRES_SHM_MB * 1024 * 1024 } },
          ],
          healthcheck: POSTGRES_HEALTHCHECK,
        },
        stopSeconds: postgresStopSeconds(args),
        network: { id: args.networkId, aliases: [DATABASE_HOST] },
        nodeLabel: args.nodeLabel,
        limits: args.limits,
        secondsPerTask: POSTGRES_START_SECONDS,
      }),
      { parent: this },
    );

    this.url = credentials.url;
    this.appUrl = credentials.appUrl;
    this.registerOutputs({ service: this.service.name });
  }
}

export type SwarmCacheArgs = RedisSettings & SwarmPlacement;

export class SwarmCache extends pulumi.ComponentResource {
  /** redis://:<password>@redis:6379/0. Secret. */
  public readonly url: pulumi.Output<string>;
  public readonly service: docker.Service;

  constructor(name: string, args: SwarmCacheArgs, opts?: pulumi.ComponentResourceOptions) {
    // The type of the host mode's Cache, so the password is the same resource.
    super('chatbot:infra:Cache', name, {}, opts);

    const credentials = redisCredentials(name, args, this);
    const labels = componentLabels(args.labels, 'redis');
    const configSecret = versionedSecret(
      `${name}-config-secret`,
      { namePrefix: args.namePrefix, what: REDIS_CONFIG_FILE, value: credentials.config, labels },
      this,
    );
    const configPath = `${SECRETS_DIR}/${REDIS_CONFIG_FILE}`;

    this.service = new docker.Service(
      `${name}-redis`,
      singleTaskServiceArgs({
        name: `${args.namePrefix}-redis`,
        labels,
        containerSpec: {
          image: args.image,
          args: redisCommand(configPath),
          secrets: [secretFile(configSecret, REDIS_CONFIG_FILE)],
          mounts: [volumeMount(`${args.namePrefix}-redisdata`, REDIS_DATA_PATH, labels)],
          // The password from the config file, into redis-cli's environment (never argv).
          healthcheck: redisHealthcheck(`REDISCLI_AUTH="$(sed -n 's/^requirepass //p' ${configPath})" `),
        },
        stopSeconds: args.stopSeconds,
        network: { id: args.networkId, aliases: [CACHE_HOST] },
        nodeLabel: args.nodeLabel,
        limits: args.limits,
      }),
      { parent: this },
    );

    this.url = credentials.url;
    this.registerOutputs({ service: this.service.name });
  }
}
