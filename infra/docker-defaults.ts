// Small pieces every component uses the same way.
import type * as pulumi from '@pulumi/pulumi';
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
