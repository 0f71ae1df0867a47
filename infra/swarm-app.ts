// orchestrator swarm: the chat service as one replicated Swarm service. A new release (or any
// change of its spec) is a rolling update: one task at a time, each new task started and
// healthy before the task it replaces is stopped (SIGTERM, then the drain time), and a task
// that fails within the monitor window rolls the service back to the previous spec; `pulumi
// up` waits for all of it and fails on a rollback (swarm.ts). Endpoint mode dnsrr: nginx
// resolves tasks.<service> to the tasks' addresses (no virtual IP, no IPVS needed).
//
// Secret variables reach the tasks as Swarm secrets, mounted as files the service reads
// through <NAME>_FILE (service/src/env.ts), so no secret is in the service's spec or `docker
// inspect`. The component registers as the host mode's AppService (same type and name), so the
// generated JWT and Fernet keys stay when a stack moves between orchestrators.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { appVariables } from './app-env.ts';
import { APP_HEALTHCHECK, appKeys, programVariables, UPLOADS_PATH } from './app-service.ts';
import type { AppSettings, ResourceLimits, StackConfig, SwarmConfig } from './config.ts';
import { labelList, type Labels } from './docker-defaults.ts';
import {
  APP_ROLLBACK,
  APP_UPDATE,
  convergeFor,
  DNS_ROUND_ROBIN,
  RESTART_ALWAYS,
  secretFile,
  taskResources,
  versionedSecret,
  volumeMount,
} from './swarm.ts';

/** The app image's user (the Dockerfile's USER): the secret files are its own, mode 0400. */
export const APP_USER = { uid: '1000', gid: '1000' };

/** Each secret variable's file under /run/secrets/ (and part of its secret's name). */
export const APP_SECRET_FILES: Record<string, string> = {
  DATABASE_URL: 'db-url',
  REDIS_URL: 'redis-url',
  JWT_PRIVATE_KEY: 'jwt-key',
  FERNET_KEY: 'fernet-key',
  OPENROUTER_API_KEY: 'llm-key',
};

export interface SwarmAppServiceArgs {
  namePrefix: string;
  networkId: pulumi.Input<string>;
  replicas: number;
  /** The release. */
  image: pulumi.Input<string>;
  settings: AppSettings;
  jwtKeys: StackConfig['jwtKeys'];
  /** Secret. */
  databaseUrl: pulumi.Input<string>;
  /** Secret. */
  redisUrl: pulumi.Input<string>;
  limits: ResourceLimits;
  stopSeconds: number;
  swarm: SwarmConfig;
  /** Credentials the nodes pull the image with. */
  registry: StackConfig['release']['registry'];
  labels: Labels;
  /** What must be done before the service is created or updated (migrations). */
  after: pulumi.Input<pulumi.Resource>[];
}

/** The uploads volume's name and mount: on the NFS export when there is one, else local to each node. */
export function uploadsMount(
  namePrefix: string,
  swarm: SwarmConfig,
  labels: Labels,
): docker.types.input.ServiceTaskSpecContainerSpecMount {
  const nfs = swarm.uploadsNfs;
  if (nfs === undefined) return volumeMount(`${namePrefix}-uploads`, UPLOADS_PATH, labels);
  // A name of its own: a node that has a local volume named <prefix>-uploads (from the host
  // mode) would otherwise mount that one and ignore the options.
  return volumeMount(`${namePrefix}-uploads-nfs`, UPLOADS_PATH, labels, {
    driverOptions: { type: 'nfs', o: `addr=${nfs.address},nfsvers=4,rw`, device: `:${nfs.path}` },
  });
}

export class SwarmAppService extends pulumi.ComponentResource {
  public readonly service: docker.Service;
  public readonly jwtPublicKey: pulumi.Output<string>;
  /** Docker's name of the service (its tasks are tasks.<name> in DNS). */
  public readonly serviceName: string;

  constructor(name: string, args: SwarmAppServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    // The type of the host mode's AppService, so the keys below are the same resources.
    super('chatbot:infra:AppService', name, {}, opts);

    const keys = appKeys(name, args.jwtKeys, this);
    this.jwtPublicKey = keys.jwtPublicKey;
    const labels = { ...args.labels, 'com.chatbot.component': 'app' };

    const env: Record<string, pulumi.Input<string>> = {};
    const secrets: docker.types.input.ServiceTaskSpecContainerSpecSecret[] = [];
    const variables = appVariables(
      args.settings,
      programVariables(keys, { databaseUrl: args.databaseUrl, redisUrl: args.redisUrl }),
    );
    for (const variable of variables) {
      if (!variable.secret) {
        env[variable.name] = variable.value;
        continue;
      }
      const file = APP_SECRET_FILES[variable.name];
      if (file === undefined)
        throw new Error(`${variable.name} is secret: give it a file in APP_SECRET_FILES`);
      const secret = versionedSecret(
        `${name}-${file}-secret`,
        { namePrefix: args.namePrefix, what: file, value: variable.value, labels },
        this,
      );
      secrets.push(secretFile(secret, file, APP_USER));
      env[`${variable.name}_FILE`] = `/run/secrets/${file}`;
    }

    this.serviceName = `${args.namePrefix}-app`;
    const registry = args.registry;
    this.service = new docker.Service(
      `${name}-service`,
      {
        name: this.serviceName,
        labels: labelList(labels),
        ...(registry !== undefined
          ? {
              auth: {
                serverAddress: registry.server,
                username: registry.username,
                password: registry.password,
              },
            }
          : {}),
        taskSpec: {
          containerSpec: {
            image: args.image,
            env,
            secrets,
            mounts: [uploadsMount(args.namePrefix, args.swarm, labels)],
            healthcheck: APP_HEALTHCHECK,
            // SIGTERM drains in-flight requests and streams within SHUTDOWN_GRACE_MS.
            stopSignal: 'SIGTERM',
            stopGracePeriod: `${args.stopSeconds}s`,
            labels: labelList(labels),
          },
          networksAdvanceds: [{ id: args.networkId }],
          resources: taskResources(args.limits),
          restartPolicy: RESTART_ALWAYS,
        },
        mode: { replicated: { replicas: args.replicas } },
        endpointSpec: { mode: DNS_ROUND_ROBIN },
        updateConfig: APP_UPDATE,
        rollbackConfig: APP_ROLLBACK,
        convergeConfig: convergeFor(args.replicas),
      },
      { parent: this, dependsOn: args.after },
    );
    this.registerOutputs({ jwtPublicKey: this.jwtPublicKey });
  }
}
