// Running the Pulumi CLI from the npm scripts: find it (or install it once into
// .pulumi-state/cli), give the dev stack a local state backend, install the provider plugins
// the program's packages name, and run commands in the repository root (where Pulumi.yaml is).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { PulumiCommand } from '@pulumi/pulumi/automation/index.js';
import { REPO_ROOT } from '../repo.ts';

export const STATE_DIR = join(REPO_ROOT, '.pulumi-state');
const CLI_ROOT = join(STATE_DIR, 'cli');
const PROVIDER_PACKAGES = ['@pulumi/docker', '@pulumi/command', '@pulumi/random', '@pulumi/tls'];

export class CliError extends Error {}

export interface Cli {
  /** Runs pulumi with the terminal attached; rejects on a non-zero exit. */
  run(args: string[]): Promise<void>;
  /** Runs pulumi and returns its stdout; rejects with its stderr on a non-zero exit. */
  capture(args: string[]): string;
}

function onPath(command: string): boolean {
  return spawnSync(command, ['version'], { stdio: 'ignore' }).status === 0;
}

async function pulumiBinary(): Promise<string> {
  if (onPath('pulumi')) return 'pulumi';
  const local = join(CLI_ROOT, 'bin', 'pulumi');
  if (existsSync(local)) return local;
  process.stderr.write(`The Pulumi CLI is not on PATH: installing it into ${CLI_ROOT} (get.pulumi.com)...\n`);
  mkdirSync(CLI_ROOT, { recursive: true });
  try {
    await PulumiCommand.install({ root: CLI_ROOT });
  } catch (err) {
    throw new CliError(
      `could not install the Pulumi CLI (${err instanceof Error ? err.message : String(err)}). ` +
        'Install it yourself (https://www.pulumi.com/docs/install/) and run this again.',
    );
  }
  return local;
}

/**
 * The environment for a stack. The dev stack keeps its state in .pulumi-state/ (no account
 * anywhere) and, unless you chose a passphrase, encrypts its secrets with an empty one;
 * other stacks use whatever backend `pulumi login` chose and your secrets provider.
 */
export function stackEnv(stack: string, cliDir: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (cliDir !== undefined) env['PATH'] = `${cliDir}${delimiter}${process.env['PATH'] ?? ''}`;
  if (stack === 'dev') {
    if (env['PULUMI_BACKEND_URL'] === undefined) {
      mkdirSync(STATE_DIR, { recursive: true });
      env['PULUMI_BACKEND_URL'] = `file://${STATE_DIR}`;
    }
    if (env['PULUMI_CONFIG_PASSPHRASE'] === undefined && env['PULUMI_CONFIG_PASSPHRASE_FILE'] === undefined) {
      env['PULUMI_CONFIG_PASSPHRASE'] = '';
    }
  }
  env['PULUMI_SKIP_UPDATE_CHECK'] ??= 'true';
  return env;
}

export async function pulumiCli(stack: string): Promise<Cli> {
  const bin = await pulumiBinary();
  const env = stackEnv(stack, bin === 'pulumi' ? undefined : dirname(bin));
  return {
    run(args) {
      return new Promise((resolve, reject) => {
        const child = spawn(bin, args, { cwd: REPO_ROOT, env, stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (code) =>
          code === 0 ? resolve() : reject(new CliError(`pulumi ${args[0] ?? ''} failed (exit ${code})`)),
        );
      });
    },
    capture(args) {
      const r = spawnSync(bin, args, { cwd: REPO_ROOT, env, encoding: 'utf8' });
      if (r.status !== 0)
        throw new CliError(`pulumi ${args.join(' ')}: ${(r.stderr || r.stdout || '').trim()}`);
      return r.stdout;
    },
  };
}

/**
 * Installs the resource plugins of the program's Pulumi packages. The language host looks
 * for them only under infra/ (npm workspaces keep node_modules at the root), so say which.
 */
export async function ensurePlugins(cli: Cli): Promise<void> {
  const require = createRequire(join(REPO_ROOT, 'infra', 'package.json'));
  for (const pkg of PROVIDER_PACKAGES) {
    const manifest = JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as {
      version: string;
      pulumi?: { name?: string; version?: string };
    };
    const name = manifest.pulumi?.name ?? pkg.replace('@pulumi/', '');
    const version = manifest.pulumi?.version ?? manifest.version;
    await cli.run(['plugin', 'install', 'resource', name, `v${version.replace(/^v/, '')}`]);
  }
}

/** The stack's outputs as JSON ({} before its first deploy). */
export function stackOutputs(cli: Cli, stack: string): Record<string, unknown> {
  return JSON.parse(cli.capture(['stack', 'output', '--json', '--stack', stack]) || '{}') as Record<
    string,
    unknown
  >;
}

/** A project config value of the stack, or undefined when it is not set. */
export function configValue(cli: Cli, stack: string, key: string): string | undefined {
  try {
    return cli.capture(['config', 'get', key, '--stack', stack]).trim();
  } catch {
    return undefined;
  }
}
