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
import { APP_HEALTHCHECK, APP_STOP_SIGNAL, appSetup, UPLOADS_PATH, type AppArgs } from './app-service.ts';
import type { StackConfig, SwarmConfig } from './config.ts';
import { componentLabels, type Labels } from './docker-defaults.ts';
import {
  APP_ROLLBACK,
  APP_UPDATE,
  SECRETS_DIR,
  secretFile,
  stackServiceArgs,
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

export interface SwarmAppServiceArgs extends AppArgs {
  networkId: pulumi.Input<string>;
  /** The release. */
  image: pulumi.Input<string>;
  swarm: SwarmConfig;
  /** Credentials the nodes pull the image with. */
  registry: StackConfig['release']['registry'];
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

    const app = appSetup(name, args, this);
    this.jwtPublicKey = app.jwtPublicKey;
    const labels = componentLabels(args.labels, 'app');

    const env: Record<string, pulumi.Input<string>> = {};
    const secrets: docker.types.input.ServiceTaskSpecContainerSpecSecret[] = [];
    for (const variable of app.variables) {
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
      env[`${variable.name}_FILE`] = `${SECRETS_DIR}/${file}`;
    }

    this.serviceName = `${args.namePrefix}-app`;
    const registry = args.registry;
    this.service = new docker.Service(
      `${name}-service`,
      stackServiceArgs({
        name: this.serviceName,
        labels,
        ...(registry !== undefined
          ? {
              auth: {
                serverAddress: registry.server,
                username: registry.username,
                password: registry.password,
              },
            }
          : {}),
        containerSpec: {
          image: args.image,
          env,
          secrets,
          mounts: [uploadsMount(args.namePrefix, args.swarm, labels)],
          healthcheck: APP_HEALTHCHECK,
          stopSignal: APP_STOP_SIGNAL,
        },
        stopSeconds: args.stopSeconds,
        network: { id: args.networkId },
        limits: args.limits,
        replicas: args.replicas,
        updateConfig: APP_UPDATE,
        rollbackConfig: APP_ROLLBACK,
      }),
      { parent: this, dependsOn: args.after },
    );
    this.registerOutputs({ jwtPublicKey: this.jwtPublicKey });
  }
}
