// What the swarm mode's services share (orchestrator swarm): secrets and configs named by a
// hash of their content, placement on labelled nodes, volumes, limits, and how services are
// updated and waited for.
//
// Swarm secrets and configs are immutable. Each one here is named <prefix>-<what>-<hash of
// its value>, so a new value (a rotated key, a new nginx.conf) is a new object: Pulumi creates
// it, updates the services that use it (a rolling update like any other), and deletes the old
// one once nothing uses it. The hash is of the value, never the value: names stay readable in
// `docker secret ls` and in diffs without telling anything.
import { createHash } from 'node:crypto';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { SWARM_UPDATE_PARALLELISM, type ResourceLimits } from './config.ts';
import { labelList, type Labels } from './docker-defaults.ts';

import type { input as Input } from '@pulumi/docker/types/index.js';

/** Where Swarm mounts a task's secrets by name. */
export const SECRETS_DIR = '/run/secrets';

/** Docker's longest secret or config name. */
export const SWARM_OBJECT_NAME_MAX = 64;
/** The hex digits of the content hash in a secret's or config's name. */
const HASH_LENGTH = 10;

/** <prefix>-<what>-<the first hex digits of the value's SHA-256>. */
export function versionedName(namePrefix: string, what: string, value: string): string {
  const hash = createHash('sha256').update(value).digest('hex').slice(0, HASH_LENGTH);
  const name = `${namePrefix}-${what}-${hash}`;
  if (name.length > SWARM_OBJECT_NAME_MAX) {
    throw new Error(`the swarm object name ${name} is longer than ${SWARM_OBJECT_NAME_MAX} characters`);
  }
  return name;
}

export interface VersionedArgs {
  namePrefix: string;
  /** What it holds, in its name (at most 11 characters: names have 64). */
  what: string;
  value: pulumi.Input<string>;
  labels: Labels;
}

/** A Swarm secret named after its value's hash; the value stays secret in state and diffs. */
export function versionedSecret(name: string, args: VersionedArgs, parent: pulumi.Resource): docker.Secret {
  const value = pulumi.secret(pulumi.output(args.value));
  return new docker.Secret(
    name,
    {
      name: pulumi.unsecret(value.apply((v) => versionedName(args.namePrefix, args.what, v))),
      // The provider decodes standard base64.
      data: value.apply((v) => Buffer.from(v).toString('base64')),
      labels: labelList(args.labels),
    },
    { parent },
  );
}

/** A Swarm config (not secret: nginx.conf, a certificate) named after its content's hash. */
export function versionedConfig(
  name: string,
  args: VersionedArgs,
  parent: pulumi.Resource,
): docker.ServiceConfig {
  const value = pulumi.output(args.value);
  return new docker.ServiceConfig(
    name,
    {
      name: value.apply((v) => versionedName(args.namePrefix, args.what, v)),
      data: value.apply((v) => Buffer.from(v).toString('base64')),
      labels: labelList(args.labels),
    },
    { parent },
  );
}

/** The secret as a file in the task's containers (absolute, or under /run/secrets/). */
export function secretFile(
  secret: docker.Secret,
  fileName: string,
  owner?: { uid: string; gid: string },
): Input.ServiceTaskSpecContainerSpecSecret {
  return {
    secretId: secret.id,
    secretName: secret.name,
    fileName,
    ...(owner !== undefined ? { fileUid: owner.uid, fileGid: owner.gid, fileMode: 0o400 } : {}),
  };
}

export function configFile(
  config: docker.ServiceConfig,
  fileName: string,
): Input.ServiceTaskSpecContainerSpecConfig {
  return { configId: config.id, configName: config.name, fileName };
}

/** Tasks run only on nodes with the label (`docker node update --label-add <label>=true`). */
export function onLabelledNode(label: string): Input.ServiceTaskSpecPlacement {
  return { constraints: [`node.labels.${label}==true`] };
}

/** A named volume, created by Docker on the node a task starts on (labelled, with options). */
export function volumeMount(
  source: string,
  target: string,
  labels: Labels,
  more: { readOnly?: boolean; driverOptions?: Record<string, string> } = {},
): Input.ServiceTaskSpecContainerSpecMount {
  return {
    type: 'volume',
    source,
    target,
    ...(more.readOnly === true ? { readOnly: true } : {}),
    volumeOptions: {
      labels: labelList(labels),
      ...(more.driverOptions !== undefined ? { driverName: 'local', driverOptions: more.driverOptions } : {}),
    },
  };
}

/** Memory (MB) and CPU limits; zero or empty means none. */
export function taskResources(limits: ResourceLimits): Input.ServiceTaskSpecResources | undefined {
  const memory = limits.memoryMb > 0 ? { memoryBytes: limits.memoryMb * 1024 * 1024 } : {};
  const cpus = limits.cpus !== undefined ? { nanoCpus: Math.round(Number(limits.cpus) * 1e9) } : {};
  return limits.memoryMb > 0 || limits.cpus !== undefined ? { limits: { ...memory, ...cpus } } : undefined;
}

/** A task that stops for any reason is started again (what restart: unless-stopped is for containers). */
export const RESTART_ALWAYS: Input.ServiceTaskSpecRestartPolicy = { condition: 'any', delay: '5s' };

/** Endpoint mode dnsrr: the service's name (and tasks.<name>) resolves to its tasks' addresses.
 * No virtual IP, so no IPVS needed; published ports must be in host mode. */
export const DNS_ROUND_ROBIN = 'dnsrr';

/** How long Swarm watches each updated app task for failure before it moves on. */
export const APP_UPDATE_MONITOR_SECONDS = 30;

/**
 * The app: one task at a time, its replacement started first and running (its healthcheck
 * passed: a task with one is running only once healthy) before the old task gets SIGTERM; a
 * task that fails within the monitor window rolls the whole service back.
 */
export const APP_UPDATE: Input.ServiceUpdateConfig = {
  parallelism: SWARM_UPDATE_PARALLELISM,
  order: 'start-first',
  failureAction: 'rollback',
  monitor: `${APP_UPDATE_MONITOR_SECONDS}s`,
  maxFailureRatio: '0',
  delay: '0s',
};

/** Back to the previous spec the same way, one task at a time, started first. */
export const APP_ROLLBACK: Input.ServiceRollbackConfig = {
  parallelism: 1,
  order: 'start-first',
  failureAction: 'pause',
  monitor: '10s',
  maxFailureRatio: '0',
  delay: '0s',
};

/**
 * Postgres, Redis and nginx: one task, stopped before its replacement starts (one data
 * directory may have one server; a port published in host mode one listener); rolled back on
 * failure.
 */
export const SINGLE_TASK_UPDATE: Input.ServiceUpdateConfig = {
  parallelism: 1,
  order: 'stop-first',
  failureAction: 'rollback',
  monitor: '15s',
  maxFailureRatio: '0',
  delay: '0s',
};

export const SINGLE_TASK_ROLLBACK: Input.ServiceRollbackConfig = {
  parallelism: 1,
  order: 'stop-first',
  failureAction: 'pause',
  monitor: '10s',
  maxFailureRatio: '0',
  delay: '0s',
};

/**
 * `pulumi up` waits until every task of the service runs the new spec, and fails when Swarm
 * rolled the update back (or paused it). The time allows each task to start (up to its
 * healthcheck's start period and retries) and be watched, twice over (an update and its
 * rollback), and more.
 */
export function convergeFor(tasks: number, secondsPerTask = 90): Input.ServiceConvergeConfig {
  return { delay: '5s', timeout: `${Math.ceil((2 * tasks * secondsPerTask) / 60) + 2}m` };
}

/** A service of the stack: what differs between Postgres, Redis, nginx and the app. */
export interface StackServiceArgs {
  /** Docker's name of the service. */
  name: string;
  /** On the service and on its containers. */
  labels: Labels;
  /** The containers, but for their labels and stop time. */
  containerSpec: Omit<Input.ServiceTaskSpecContainerSpec, 'labels' | 'stopGracePeriod'>;
  stopSeconds: number;
  network: Input.ServiceTaskSpecNetworksAdvanced;
  /** Only on nodes with this label (onLabelledNode); undefined: any node. */
  nodeLabel?: string;
  limits: ResourceLimits;
  replicas: number;
  updateConfig: Input.ServiceUpdateConfig;
  rollbackConfig: Input.ServiceRollbackConfig;
  /** convergeFor's time per task. */
  secondsPerTask?: number;
  /** Published ports (in host mode: DNS_ROUND_ROBIN has no virtual IP). */
  ports?: Input.ServiceEndpointSpecPort[];
  /** Registry credentials the nodes pull the image with. */
  auth?: Input.ServiceAuth;
}

/**
 * A service's arguments as every service of the stack has them: labelled, replicated, its
 * tasks always restarted, endpoint mode dnsrr, `pulumi up` waiting until it converged.
 */
export function stackServiceArgs(a: StackServiceArgs): docker.ServiceArgs {
  return {
    name: a.name,
    labels: labelList(a.labels),
    ...(a.auth !== undefined ? { auth: a.auth } : {}),
    taskSpec: {
      containerSpec: {
        ...a.containerSpec,
        stopGracePeriod: `${a.stopSeconds}s`,
        labels: labelList(a.labels),
      },
      networksAdvanceds: [a.network],
      ...(a.nodeLabel !== undefined ? { placement: onLabelledNode(a.nodeLabel) } : {}),
      resources: taskResources(a.limits),
      restartPolicy: RESTART_ALWAYS,
    },
    mode: { replicated: { replicas: a.replicas } },
    endpointSpec: { mode: DNS_ROUND_ROBIN, ...(a.ports !== undefined ? { ports: a.ports } : {}) },
    updateConfig: a.updateConfig,
    rollbackConfig: a.rollbackConfig,
    convergeConfig: convergeFor(a.replicas, a.secondsPerTask),
  };
}

/** Postgres, Redis and nginx: one task on the node with the label, replaced stop-first. */
export function singleTaskServiceArgs(
  a: Omit<StackServiceArgs, 'replicas' | 'updateConfig' | 'rollbackConfig' | 'auth'> & { nodeLabel: string },
): docker.ServiceArgs {
  return stackServiceArgs({
    ...a,
    replicas: 1,
    updateConfig: SINGLE_TASK_UPDATE,
    rollbackConfig: SINGLE_TASK_ROLLBACK,
  });
}
