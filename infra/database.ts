// Postgres 17 with pgvector: a data volume that outlives the container, a generated password,
// and a healthcheck that passes only once the server accepts TCP connections.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { ResourceLimits } from './config.ts';
import { dataVolume, generatedPassword, labelList, limitArgs, type Labels } from './docker-defaults.ts';

/** The owner: migrations run as it. */
export const DATABASE_USER = 'chatbot';
/** The service's login role, which `migrate` provisions (API.md, "Database roles"). */
export const SERVICE_USER = 'chatbot_service';
export const DATABASE_NAME = 'chatbot';
/** The database's name on the stack network. */
export const DATABASE_HOST = 'postgres';

export interface DatabaseArgs {
  namePrefix: string;
  network: pulumi.Input<string>;
  image: string;
  limits: ResourceLimits;
  maxConnections: number;
  data: { retain: boolean; protect: boolean };
  stopSeconds: number;
  labels: Labels;
}

export class Database extends pulumi.ComponentResource {
  /** postgres://chatbot:<password>@postgres:5432/chatbot, the owner (migrations need it). Secret. */
  public readonly url: pulumi.Output<string>;
  /** postgres://chatbot_service:<password>@postgres:5432/chatbot, the service's login role. Secret. */
  public readonly appUrl: pulumi.Output<string>;
  public readonly container: docker.Container;
  public readonly volume: docker.Volume;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chatbot:infra:Database', name, {}, opts);

    const password = generatedPassword(`${name}-password`, this);
    const appPassword = generatedPassword(`${name}-app-password`, this);

    this.volume = dataVolume(`${name}-data`, `${args.namePrefix}-pgdata`, args.labels, args.data, this);

    this.container = new docker.Container(
      `${name}-postgres`,
      {
        name: `${args.namePrefix}-postgres`,
        image: args.image,
        envs: [
          `POSTGRES_USER=${DATABASE_USER}`,
          `POSTGRES_DB=${DATABASE_NAME}`,
          pulumi.interpolate`POSTGRES_PASSWORD=${password.result}`,
        ],
        command: ['postgres', '-c', `max_connections=${args.maxConnections}`],
        volumes: [{ volumeName: this.volume.name, containerPath: '/var/lib/postgresql/data' }],
        networksAdvanced: [{ name: args.network, aliases: [DATABASE_HOST] }],
        healthcheck: {
          // Over TCP: during initdb the server listens on its socket only.
          tests: ['CMD-SHELL', `pg_isready -h 127.0.0.1 -U ${DATABASE_USER} -d ${DATABASE_NAME}`],
          interval: '5s',
          timeout: '5s',
          retries: 12,
          startPeriod: '30s',
        },
        wait: true,
        waitTimeout: 180,
        restart: 'unless-stopped',
        shmSize: 256,
        stopTimeout: Math.max(args.stopSeconds, 60),
        destroyGraceSeconds: Math.max(args.stopSeconds, 60),
        labels: labelList({ ...args.labels, 'com.chatbot.component': 'postgres' }),
        ...limitArgs(args.limits),
      },
      { parent: this, deleteBeforeReplace: true },
    );

    this.url = pulumi.secret(
      pulumi.interpolate`postgres://${DATABASE_USER}:${password.result}@${DATABASE_HOST}:5432/${DATABASE_NAME}`,
    );
    this.appUrl = pulumi.secret(
      pulumi.interpolate`postgres://${SERVICE_USER}:${appPassword.result}@${DATABASE_HOST}:5432/${DATABASE_NAME}`,
    );
    this.registerOutputs({ container: this.container.name });
  }
}
