// Small pieces every component uses the same way.
import * as docker from '@pulumi/docker';
import type * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { ResourceLimits } from './config.ts';

export type Labels = Record<string, string>;

/** What each component is given whichever the orchestrator (host containers or Swarm services). */
export interface ComponentArgs {
  namePrefix: string;
  limits: ResourceLimits;
  /** How long it has to stop (the stack's stop time, stopSeconds in config.ts). */
  stopSeconds: number;
  /** The stack's labels. */
  labels: Labels;
}

/** The stack's labels and the component's own (com.chatbot.component, then any more). */
export function componentLabels(labels: Labels, component: string, more: Labels = {}): Labels {
  return { ...labels, 'com.chatbot.component': component, ...more };
}

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

/** How a container of a host-mode stack runs, see stackContainer. */
export interface ContainerRun {
  /** com.chatbot.component: its labels are the stack's, this one and `moreLabels`. */
  component: string;
  labels: Labels;
  moreLabels?: Labels;
  /** How long Pulumi waits for its healthcheck to pass. */
  waitSeconds: number;
  stopSeconds: number;
  limits: ResourceLimits;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * A container of a host-mode stack, run as all of them are: created once its healthcheck
 * passes, started again unless stopped, given stopSeconds to stop (and the provider waits as
 * long before it removes it), labelled, limited; its Docker name is fixed, so a replacement
 * deletes it first.
 */
export function stackContainer(
  name: string,
  inputs: docker.ContainerArgs,
  run: ContainerRun,
  parent: pulumi.Resource,
): docker.Container {
  return new docker.Container(
    name,
    {
      ...inputs,
      wait: true,
      waitTimeout: run.waitSeconds,
      restart: 'unless-stopped',
      stopTimeout: run.stopSeconds,
      destroyGraceSeconds: run.stopSeconds,
      labels: labelList(componentLabels(run.labels, run.component, run.moreLabels)),
      ...limitArgs(run.limits),
    },
    {
      parent,
      deleteBeforeReplace: true,
      ...(run.dependsOn !== undefined ? { dependsOn: run.dependsOn } : {}),
    },
  );
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
