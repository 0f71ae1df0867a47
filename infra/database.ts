// Postgres 17 with pgvector: a data volume that outlives the container, a generated password,
// and a healthcheck that passes only once the server accepts TCP connections. What Postgres is
// (its settings, command line, environment, healthcheck, credentials) is defined here for both
// orchestrators; swarm-data.ts runs the same as a Swarm service.
import type * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { dataVolume, generatedPassword, stackContainer, type ComponentArgs } from './docker-defaults.ts';

/** The owner: migrations run as it. */
export const DATABASE_USER = 'chatbot';
/** The service's login role, which `migrate` provisions (API.md, "Database roles"). */
export const SERVICE_USER = 'chatbot_service';
export const DATABASE_NAME = 'chatbot';
/** The database's name on the stack network. */
export const DATABASE_HOST = 'postgres';
/** Where the image keeps its data directory (the data volume's mount). */
export const POSTGRES_DATA_PATH = '/var/lib/postgresql/data';
/** The size of /dev/shm (MB), which Postgres's shared memory lives in. */
export const POSTGRES_SHM_MB = 256;
/** How long a new Postgres may take to be healthy (a first start runs initdb). */
export const POSTGRES_START_SECONDS = 180;

/** Postgres's settings, whichever the orchestrator. */
export interface PostgresSettings extends ComponentArgs {
  image: string;
  maxConnections: number;
}

export interface DatabaseArgs extends PostgresSettings {
  network: pulumi.Input<string>;
  data: { retain: boolean; protect: boolean };
}

/** The server's command line (the image's entrypoint stays: it runs initdb on a first start). */
export function postgresCommand(s: PostgresSettings): string[] {
  return ['postgres', '-c', `max_connections=${s.maxConnections}`];
}

/** The entrypoint's environment but for the password (a variable, or a file under swarm). */
export const POSTGRES_ENV = { POSTGRES_USER: DATABASE_USER, POSTGRES_DB: DATABASE_NAME };

/** Postgres gets the stack's stop time, and at least 60 s, to shut down. */
export function postgresStopSeconds(s: PostgresSettings): number {
  return Math.max(s.stopSeconds, 60);
}

export const POSTGRES_HEALTHCHECK = {
  // Over TCP: during initdb the server listens on its socket only.
  tests: ['CMD-SHELL', `pg_isready -h 127.0.0.1 -U ${DATABASE_USER} -d ${DATABASE_NAME}`],
  interval: '5s',
  timeout: '5s',
  retries: 12,
  startPeriod: '30s',
};

export interface DatabaseCredentials {
  /** The owner's password. Secret. */
  password: pulumi.Output<string>;
  /** postgres://chatbot:<password>@postgres:5432/chatbot, the owner (migrations need it). Secret. */
  url: pulumi.Output<string>;
  /** postgres://chatbot_service:<password>@postgres:5432/chatbot, the service's login role. Secret. */
  appUrl: pulumi.Output<string>;
}

/**
 * The owner's and the service role's generated passwords and their URLs. Both orchestrators'
 * components create them under the same names and component type, so a stack moving between
 * orchestrators keeps its passwords.
 */
export function databaseCredentials(name: string, parent: pulumi.Resource): DatabaseCredentials {
  const password = generatedPassword(`${name}-password`, parent).result;
  const appPassword = generatedPassword(`${name}-app-password`, parent).result;
  const url = (user: string, pw: pulumi.Output<string>) =>
    pulumi.secret(pulumi.interpolate`postgres://${user}:${pw}@${DATABASE_HOST}:5432/${DATABASE_NAME}`);
  return { password, url: url(DATABASE_USER, password), appUrl: url(SERVICE_USER, appPassword) };
}

export class Database extends pulumi.ComponentResource {
  /** The owner's URL (migrations need it). Secret. */
  public readonly url: pulumi.Output<string>;
  /** The service's login role's URL. Secret. */
  public readonly appUrl: pulumi.Output<string>;
  public readonly container: docker.Container;
  public readonly volume: docker.Volume;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chatbot:infra:Database', name, {}, opts);

    const credentials = databaseCredentials(name, this);

    this.volume = dataVolume(`${name}-data`, `${args.namePrefix}-pgdata`, args.labels, args.data, this);

    this.container = stackContainer(
      `${name}-postgres`,
      {
        name: `${args.namePrefix}-postgres`,
        image: args.image,
        envs: [
          ...Object.entries(POSTGRES_ENV).map(([key, value]) => `${key}=${value}`),
          pulumi.interpolate`POSTGRES_PASSWORD=${credentials.password}`,
        ],
        command: postgresCommand(args),
        volumes: [{ volumeName: this.volume.name, containerPath: POSTGRES_DATA_PATH }],
        networksAdvanced: [{ name: args.network, aliases: [DATABASE_HOST] }],
        healthcheck: POSTGRES_HEALTHCHECK,
        shmSize: POSTGRES_SHM_MB,
      },
      {
        component: 'postgres',
        labels: args.labels,
        waitSeconds: POSTGRES_START_SECONDS,
        stopSeconds: postgresStopSeconds(args),
        limits: args.limits,
      },
      this,
    );

    this.url = credentials.url;
    this.appUrl = credentials.appUrl;
    this.registerOutputs({ container: this.container.name });
  }
}
