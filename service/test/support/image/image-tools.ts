// Helpers for the image test: docker commands that take secrets from the environment (never
// from argv), BuildKit builds with their plain progress log, layer sizes, a copy of the build
// context, and where a published port is reachable (the local engine or a remote/dind one).
import { cp } from 'node:fs/promises';
import { basename } from 'node:path';
import { docker, publishedPort } from '@chatbot/test-kit/docker';
import { run } from '@chatbot/test-kit/process';

/**
 * Runs `docker ARGS` (BuildKit on) and resolves with its exit code and output, whatever the
 * code. `env` is added to the child's environment: pass `-e NAME` (no value) in `args` and
 * the value here, so secrets never appear on a command line.
 */
export const dockerRun = (
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
) =>
  run('docker', args, {
    env: { DOCKER_BUILDKIT: '1', ...options.env },
    timeoutMs: options.timeoutMs ?? 120_000,
  });

/** Like `dockerRun`, but a non-zero exit is an error that carries the command's output. */
export async function dockerOk(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<string> {
  const result = await dockerRun(args, options);
  if (result.code !== 0) {
    throw new Error(
      `docker ${args[0]} exited with ${result.code}:\n${tail(result.stderr || result.stdout, 40)}`,
    );
  }
  return result.stdout.trim();
}

/** Polls `probe` until it answers true; an error counts as "not yet" unless `stopOn` says otherwise. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
  options: { stopOn?: (error: unknown) => boolean } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (error) {
      if (options.stopOn?.(error) === true) throw error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** `docker build` with BuildKit and plain progress; resolves with the progress log. */
export async function buildImage(options: {
  context: string;
  tag: string;
  buildArgs?: Record<string, string>;
  timeoutMs?: number;
}): Promise<string> {
  const args = ['build', '--progress=plain', '--tag', options.tag];
  for (const [name, value] of Object.entries(options.buildArgs ?? {}))
    args.push('--build-arg', `${name}=${value}`);
  args.push(options.context);
  const result = await dockerRun(args, { timeoutMs: options.timeoutMs ?? 15 * 60_000 });
  const log = result.stderr + result.stdout;
  if (result.code !== 0) throw new Error(`docker build failed (exit ${result.code}):\n${tail(log, 60)}`);
  return log;
}

export interface BuildStep {
  id: string;
  title: string;
  cached: boolean;
}

/** The steps of a plain-progress BuildKit log: `#12 [deps 7/7] RUN ...` then `#12 CACHED`. */
export function buildSteps(log: string): BuildStep[] {
  const steps = new Map<string, BuildStep>();
  for (const line of log.split('\n')) {
    const header = /^#(\d+) (\[.+)$/.exec(line);
    if (header !== null && !steps.has(header[1]!)) {
      steps.set(header[1]!, { id: header[1]!, title: header[2]!, cached: false });
      continue;
    }
    const cached = /^#(\d+) CACHED\s*$/.exec(line);
    const step = cached === null ? undefined : steps.get(cached[1]!);
    if (step !== undefined) step.cached = true;
  }
  return [...steps.values()];
}

/** The one build step whose title contains `text`. */
export function buildStep(log: string, text: string): BuildStep {
  const matches = buildSteps(log).filter((step) => step.title.includes(text));
  if (matches.length !== 1)
    throw new Error(`expected one build step with "${text}", found ${matches.length}`);
  return matches[0]!;
}

export interface HistoryEntry {
  size: number;
  createdBy: string;
}

/** The image's history, newest first, as `docker history` lists it (sizes in bytes). */
export async function history(image: string): Promise<HistoryEntry[]> {
  const out = await docker([
    'history',
    '--no-trunc',
    '--human=false',
    '--format',
    '{{.Size}}\t{{.CreatedBy}}',
    image,
  ]);
  return out.split('\n').map((line) => {
    const [size = '', ...createdBy] = line.split('\t');
    return { size: Number(size.trim()), createdBy: createdBy.join('\t').trim() };
  });
}

/** The image's layer digests (RootFS.Layers), oldest first. */
export async function layerDigests(image: string): Promise<string[]> {
  return JSON.parse(
    await docker(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', image]),
  ) as string[];
}

const NOT_CONTEXT = new Set([
  'node_modules',
  '.git',
  'dist',
  'coverage',
  '.pulumi-state',
  'test-results',
  'artifacts',
]);

/** Copies a build context without what .dockerignore would drop anyway (and is large). */
export async function copyBuildContext(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true, filter: (source) => !NOT_CONTEXT.has(basename(source)) });
}

/**
 * Where the test reaches a container's published port. A local engine publishes on
 * 127.0.0.1; a remote engine (DOCKER_HOST=tcp://name:port, e.g. GitLab's docker:dind
 * service) is reached by its host name, so the port is published on its interfaces there.
 */
export function publishTarget(): { publish: (port: number) => string; host: string } {
  const remote = /^tcp:\/\/([^:/]+)/.exec(process.env.DOCKER_HOST ?? '')?.[1];
  if (remote === undefined || remote === 'localhost' || remote === '127.0.0.1') {
    return { publish: (port) => `127.0.0.1::${port}`, host: '127.0.0.1' };
  }
  return { publish: (port) => String(port), host: remote };
}

/** The host port Docker picked for a container's `port` (on 127.0.0.1 with a local engine). */
export async function hostPort(container: string, port: number): Promise<number> {
  if (publishTarget().host === '127.0.0.1') return publishedPort(container, port);
  const out = await docker(['port', container, `${port}/tcp`]);
  const match = /:(\d+)\s*$/m.exec(out);
  if (match === null) throw new Error(`container ${container} does not publish ${port}: ${out}`);
  return Number(match[1]);
}
