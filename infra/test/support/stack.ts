// Test helpers: a stack's configuration as the Pulumi CLI would hand it to the program
// (Pulumi.yaml defaults, then Pulumi.<stack>.yaml, then what `pulumi config set` added),
// and one run of the program under the mock runtime in a child process.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type { ExportedResource } from '../../scripts/deploy-plan.ts';
import type { RecordedResource, RunRequest, RunResult } from './run-program.ts';
import { encrypted, isSecret, reveal } from './secrets.ts';

export type { RecordedResource, RunResult };
export { isSecret, reveal };

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RUNNER = fileURLToPath(new URL('./run-program.ts', import.meta.url));

export type StackName = 'dev' | 'staging' | 'production';
export const STACKS: StackName[] = ['dev', 'staging', 'production'];

export interface ProjectFile {
  name: string;
  main: string;
  runtime: { name: string; options?: Record<string, unknown> };
  config: Record<string, { type: string; description: string; default: unknown }>;
}

export function projectFile(): ProjectFile {
  return parse(readFileSync(join(ROOT, 'Pulumi.yaml'), 'utf8')) as ProjectFile;
}

export function stackFile(stack: string): { config: Record<string, unknown> } {
  return parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as {
    config: Record<string, unknown>;
  };
}

/** Secrets a deployer sets with `pulumi config set --secret` (distinctive, to be searched for). */
export const TEST_SECRETS = {
  openrouterApiKey: 'sk-or-v1-test-0123456789abcdef0123456789abcdef',
  registryPassword: 'registry-token-test-fedcba9876543210',
};

/** The digest staging ran, handed to production. */
export const PROMOTED_IMAGE = `registry.example.com/chatbot/app@sha256:${'ab12'.repeat(16)}`;

/** What a deployer adds to each stack before its first deploy (README.md, "Configuring staging and production"). */
export function deployerSettings(stack: StackName): {
  config: Record<string, string>;
  secrets: Record<string, string>;
} {
  switch (stack) {
    case 'dev':
      return { config: {}, secrets: {} };
    case 'staging':
      return { config: { commit: 'c0ffee0000000000000000000000000000000001' }, secrets: TEST_SECRETS };
    case 'production':
      return { config: { image: PROMOTED_IMAGE }, secrets: TEST_SECRETS };
  }
}

export interface RunOptions {
  /** Project keys (without "chatbot:") set on top of the stack file. */
  config?: Record<string, string>;
  /** Project keys set with --secret. */
  secrets?: Record<string, string>;
  /** Leave out what deployerSettings() would add. */
  bare?: boolean;
  delays?: Record<string, number>;
}

/** The configuration Pulumi would pass: declared defaults, the stack file, then overrides. */
export function stackConfig(
  stack: StackName,
  opts: RunOptions = {},
): { config: Record<string, string>; secretKeys: string[] } {
  const project = projectFile();
  const config: Record<string, string> = {};
  for (const [key, decl] of Object.entries(project.config))
    config[`${project.name}:${key}`] = String(decl.default);
  for (const [key, value] of Object.entries(stackFile(stack).config ?? {})) config[key] = String(value);
  const extra = opts.bare === true ? { config: {}, secrets: {} } : deployerSettings(stack);
  const set = { ...extra.config, ...opts.config };
  const secrets = { ...extra.secrets, ...opts.secrets };
  for (const [key, value] of Object.entries(set)) config[`${project.name}:${key}`] = value;
  for (const [key, value] of Object.entries(secrets)) config[`${project.name}:${key}`] = value;
  return { config, secretKeys: Object.keys(secrets).map((k) => `${project.name}:${k}`) };
}

/** Runs the program once for the stack in a child process and returns what it declared. */
export async function runStack(stack: StackName, opts: RunOptions = {}): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'chatbot-infra-test-'));
  try {
    const { config, secretKeys } = stackConfig(stack, opts);
    const request: RunRequest = {
      stack,
      config,
      secretKeys,
      root: ROOT,
      out: join(dir, 'result.json'),
      ...(opts.delays !== undefined ? { delays: opts.delays } : {}),
    };
    writeFileSync(join(dir, 'request.json'), JSON.stringify(request));
    try {
      await promisify(execFile)(process.execPath, [RUNNER, join(dir, 'request.json')], {
        cwd: ROOT,
        timeout: 90_000,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      // A program that stopped with an error leaves Pulumi's promises pending, and Pulumi
      // then exits non-zero: the result written before says what happened.
      if (!existsSync(request.out)) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`the program runner failed: ${e.stderr ?? e.message}`, { cause: err });
      }
    }
    return JSON.parse(readFileSync(request.out, 'utf8')) as RunResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const T = {
  container: 'docker:index/container:Container',
  volume: 'docker:index/volume:Volume',
  network: 'docker:index/network:Network',
  image: 'docker:index/image:Image',
  remoteImage: 'docker:index/remoteImage:RemoteImage',
  provider: 'pulumi:providers:docker',
  command: 'command:local:Command',
} as const;

export function ofType(result: RunResult, type: string): RecordedResource[] {
  return result.resources.filter((r) => r.type === type);
}

export function named(result: RunResult, name: string): RecordedResource {
  const found = result.resources.find((r) => r.name === name);
  if (found === undefined) {
    throw new Error(`no resource named ${name}; declared: ${result.resources.map((r) => r.name).join(', ')}`);
  }
  return found;
}

/** Every string in the value that is not inside a secret marker. */
export function plainStrings(value: unknown): string[] {
  if (isSecret(value)) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(plainStrings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(plainStrings);
  return [];
}

/** The app containers' environment as a map (secrets revealed). */
export function envOf(container: RecordedResource): Record<string, string> {
  const envs = reveal(container.inputs['envs']) as string[];
  return Object.fromEntries(envs.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

export function appContainers(result: RunResult, color?: 'blue' | 'green'): RecordedResource[] {
  return ofType(result, T.container).filter((c) => {
    const name = String(c.inputs['name']);
    return color === undefined ? /-app-(blue|green)-\d+$/.test(name) : name.includes(`-app-${color}-`);
  });
}

/** What `pulumi stack export` would show for the run (secrets as ciphertext, as Pulumi stores them). */
export function exportOf(
  result: RunResult,
  stack: string,
): { deployment: { resources: ExportedResource[] } } {
  return {
    deployment: {
      resources: result.resources.map((r) => ({
        urn: `urn:pulumi:${stack}::chatbot::${r.opts.parent !== undefined ? 'chatbot:infra:Parent$' : ''}${r.type}::${r.name}`,
        type: r.type,
        custom: r.custom,
        inputs: encrypted(r.inputs) as Record<string, unknown>,
      })),
    },
  };
}

/** What the secret generators produced (in every form the program may carry it). */
export function generatedSecrets(result: RunResult): { resource: string; values: string[] }[] {
  const generators = result.resources.filter(
    (r) => r.type.startsWith('random:') || r.type === 'tls:index/privateKey:PrivateKey',
  );
  return generators.map((r) => {
    const values: string[] = [];
    for (const value of Object.values(r.outputs)) {
      if (value === null || typeof value !== 'object' || !('__secret' in value)) continue;
      const plain = String((value as { __secret: unknown }).__secret);
      if (plain.includes('-----BEGIN')) {
        // The key material, whatever line breaks or escapes carry it.
        values.push(...plain.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')));
      } else {
        values.push(plain, plain.replace(/\+/g, '-').replace(/\//g, '_'));
      }
    }
    return { resource: r.name, values: [...new Set(values)] };
  });
}

/** The commented swarm lines of Pulumi.production.yaml ("# chatbot:key: value"), uncommented. */
export function commentedSwarmSettings(): Record<string, string> {
  const lines = readFileSync(join(ROOT, 'Pulumi.production.yaml'), 'utf8')
    .split('\n')
    .filter((l) => /^\s*#\s*chatbot:\w+:/.test(l))
    .map((l) => l.replace(/^\s*#\s*/, ''));
  const parsed = parse(lines.join('\n')) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k.replace(/^chatbot:/, ''), String(v)]));
}

/** Each stack with orchestrator swarm: production as its stack file's comments say. */
export function swarmSettings(stack: StackName): Record<string, string> {
  if (stack === 'production') return commentedSwarmSettings();
  return {
    orchestrator: 'swarm',
    ...(stack === 'staging' ? { swarmUploadsNfs: '10.0.0.5:/srv/chatbot-staging-uploads' } : {}),
  };
}
