// Small pieces every component uses the same way.
import * as docker from '@pulumi/docker';
import type * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { ResourceLimits } from './config.ts';

export type Labels = Record<string, string>;

/** Docker labels in the provider's list form. */
export function labelList(labels: Labels): { label: string; value: string }[] {
  return Object.entries(labels).map(([label, value]) => ({ label, value }));
}

/** Memory (MB) and CPU limits; zero or empty means none. */
export function limitArgs(limits: ResourceLimits): { memory?: number; cpus?: string } {
  return {
    ...(limits.memoryMb > 0 ? { memory: limits.memoryMb } : {}),
    ...(limits.cpus !== undefined ? { cpus: limits.cpus } : {}),
  };
}

/**
 * The environment of a `docker` command run by `command.local.Command`: the stack's Docker
 * host (so commands reach the same engine as the provider) and the given variables.
 */
export function dockerCommandEnv(
  dockerHost: string | undefined,
  vars: Record<string, pulumi.Input<string>>,
): Record<string, pulumi.Input<string>> {
  return { ...(dockerHost !== undefined ? { DOCKER_HOST: dockerHost } : {}), ...vars };
}

/** A volume holding data (Postgres, Redis, uploads): kept and protected as the stack says. */
export function dataVolume(
  name: string,
  dockerName: string,
  labels: Labels,
  data: { retain: boolean; protect: boolean },
  parent: pulumi.Resource,
): docker.Volume {
  return new docker.Volume(
    name,
    { name: dockerName, labels: labelList(labels) },
    { parent, retainOnDelete: data.retain, protect: data.protect },
  );
}

/** A generated password safe in URLs (letters and digits); secret in state. */
export function generatedPassword(name: string, parent: pulumi.Resource): random.RandomPassword {
  return new random.RandomPassword(name, { length: 32, special: false }, { parent });
}
