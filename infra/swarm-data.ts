// orchestrator swarm: Postgres and Redis as services of one task each, pinned to the node
// labelled swarmDataLabel, where Docker creates their volumes when a task first mounts them
// (local volumes live on one node, so the task must always come back there). They register as
// the components of the host mode do (same type and name, same generated passwords), so a stack
// moving between orchestrators keeps its passwords. Passwords reach them as Swarm secrets, never
// in the service's spec: Postgres through POSTGRES_PASSWORD_FILE, Redis in its config file.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { CACHE_HOST, renderRedisConfig } from './cache.ts';
import type { ResourceLimits } from './config.ts';
import { DATABASE_HOST, DATABASE_NAME, DATABASE_USER, SERVICE_USER } from './database.ts';
import { generatedPassword, labelList, type Labels } from './docker-defaults.ts';
import {
  convergeFor,
  DNS_ROUND_ROBIN,
  onLabelledNode,
  RESTART_ALWAYS,
  secretFile,
  SINGLE_TASK_ROLLBACK,
  SINGLE_TASK_UPDATE,
  taskResources,
  versionedSecret,
  volumeMount,
} from './swarm.ts';

/** Where Swarm mounts the secrets by name. */
export const SECRETS_DIR = '/run/secrets';
export const POSTGRES_PASSWORD_FILE = 'pg-password';
export const REDIS_CONFIG_FILE = 'redis-conf';

export interface SwarmDataArgs {
  namePrefix: string;
  /** The overlay network's id. */
  networkId: pulumi.Input<string>;
  image: string;
  limits: ResourceLimits;
  /** The node label the service is pinned to (swarmDataLabel). */
  nodeLabel: string;
  stopSeconds: number;
  labels: Labels;
}

export interface SwarmDatabaseArgs extends SwarmDataArgs {
  maxConnections: number;
}

export class SwarmDatabase extends pulumi.ComponentResource {
  /** postgres://chatbot:<password>@postgres:5432/chatbot, the owner (migrations need it). Secret. */
  public readonly url: pulumi.Output<string>;
  /** postgres://chatbot_service:<password>@postgres:5432/chatbot, the service's login role. Secret. */
  public readonly appUrl: pulumi.Output<string>;
  /** Created (and updated) once its task runs healthy. */
  public readonly service: docker.Service;

  constructor(name: string, args: SwarmDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    // The type of the host mode's Database, so the passwords below are the same resources.
    super('chatbot:infra:Database', name, {}, opts);

    const password = generatedPassword(`${name}-password`, this);
    const appPassword = generatedPassword(`${name}-app-password`, this);
    const labels = { ...args.labels, 'com.chatbot.component': 'postgres' };
    const passwordSecret = versionedSecret(
      `${name}-password-secret`,
      { namePrefix: args.namePrefix, what: POSTGRES_PASSWORD_FILE, value: password.result, labels },
      this,
    );
    const stopSeconds = Math.max(args.stopSeconds, 60);

    this.service = new docker.Service(
      `${name}-postgres`,
      {
        name: `${args.namePrefix}-postgres`,
        labels: labelList(labels),
        taskSpec: {
          containerSpec: {
            image: args.image,
            // args, not commands: the image's entrypoint stays (it reads *_FILE and runs initdb).
            args: ['postgres', '-c', `max_connections=${args.maxConnections}`],
            env: {
              POSTGRES_USER: DATABASE_USER,
              POSTGRES_DB: DATABASE_NAME,
              POSTGRES_PASSWORD_FILE: `${SECRETS_DIR}/${POSTGRES_PASSWORD_FILE}`,
            },
            secrets: [secretFile(passwordSecret, POSTGRES_PASSWORD_FILE)],
            mounts: [
              volumeMount(`${args.namePrefix}-pgdata`, '/var/lib/postgresql/data', labels),
              { type: 'tmpfs', target: '/dev/shm', tmpfsOptions: { sizeBytes: 256 * 1024 * 1024 } },
            ],
            healthcheck: {
              // Over TCP: during initdb the server listens on its socket only.
              tests: ['CMD-SHELL', `pg_isready -h 127.0.0.1 -U ${DATABASE_USER} -d ${DATABASE_NAME}`],
              interval: '5s',
              timeout: '5s',
              retries: 12,
              startPeriod: '30s',
            },
            stopGracePeriod: `${stopSeconds}s`,
            labels: labelList(labels),
          },
          networksAdvanceds: [{ id: args.networkId, aliases: [DATABASE_HOST] }],
          placement: onLabelledNode(args.nodeLabel),
          resources: taskResources(args.limits),
          restartPolicy: RESTART_ALWAYS,
        },
        mode: { replicated: { replicas: 1 } },
        endpointSpec: { mode: DNS_ROUND_ROBIN },
        updateConfig: SINGLE_TASK_UPDATE,
        rollbackConfig: SINGLE_TASK_ROLLBACK,
        convergeConfig: convergeFor(1, 180),
      },
      { parent: this },
    );

    this.url = pulumi.secret(
      pulumi.interpolate`postgres://${DATABASE_USER}:${password.result}@${DATABASE_HOST}:5432/${DATABASE_NAME}`,
    );
    this.appUrl = pulumi.secret(
      pulumi.interpolate`postgres://${SERVICE_USER}:${appPassword.result}@${DATABASE_HOST}:5432/${DATABASE_NAME}`,
    );
    this.registerOutputs({ service: this.service.name });
  }
}

export interface SwarmCacheArgs extends SwarmDataArgs {
  maxmemory: string | undefined;
  maxmemoryPolicy: string;
}

export class SwarmCache extends pulumi.ComponentResource {
  /** redis://:<password>@redis:6379/0. Secret. */
  public readonly url: pulumi.Output<string>;
  public readonly service: docker.Service;

  constructor(name: string, args: SwarmCacheArgs, opts?: pulumi.ComponentResourceOptions) {
    // The type of the host mode's Cache, so the password is the same resource.
    super('chatbot:infra:Cache', name, {}, opts);

    const password = generatedPassword(`${name}-password`, this);
    const labels = { ...args.labels, 'com.chatbot.component': 'redis' };
    const configSecret = versionedSecret(
      `${name}-config-secret`,
      {
        namePrefix: args.namePrefix,
        what: REDIS_CONFIG_FILE,
        value: password.result.apply((p) => renderRedisConfig(p, args.maxmemory, args.maxmemoryPolicy)),
        labels,
      },
      this,
    );
    const configPath = `${SECRETS_DIR}/${REDIS_CONFIG_FILE}`;

    this.service = new docker.Service(
      `${name}-redis`,
      {
        name: `${args.namePrefix}-redis`,
        labels: labelList(labels),
        taskSpec: {
          containerSpec: {
            image: args.image,
            args: ['redis-server', configPath],
            secrets: [secretFile(configSecret, REDIS_CONFIG_FILE)],
            mounts: [volumeMount(`${args.namePrefix}-redisdata`, '/data', labels)],
            healthcheck: {
              // The password from the config file, into redis-cli's environment (never argv).
              tests: [
                'CMD-SHELL',
                `REDISCLI_AUTH="$(sed -n 's/^requirepass //p' ${configPath})" redis-cli -h 127.0.0.1 ping | grep -q PONG`,
              ],
              interval: '5s',
              timeout: '3s',
              retries: 12,
              startPeriod: '10s',
            },
            stopGracePeriod: `${args.stopSeconds}s`,
            labels: labelList(labels),
          },
          networksAdvanceds: [{ id: args.networkId, aliases: [CACHE_HOST] }],
          placement: onLabelledNode(args.nodeLabel),
          resources: taskResources(args.limits),
          restartPolicy: RESTART_ALWAYS,
        },
        mode: { replicated: { replicas: 1 } },
        endpointSpec: { mode: DNS_ROUND_ROBIN },
        updateConfig: SINGLE_TASK_UPDATE,
        rollbackConfig: SINGLE_TASK_ROLLBACK,
        convergeConfig: convergeFor(1),
      },
      { parent: this },
    );

    this.url = pulumi.secret(pulumi.interpolate`redis://:${password.result}@${CACHE_HOST}:6379/0`);
    this.registerOutputs({ service: this.service.name });
  }
}
