// Running the Pulumi CLI from the npm scripts: find it (or install it once into
// .pulumi-state/cli, from get.pulumi.com or, without internet access, built from Go modules by
// toolchain.ts), give the dev stack a local state backend, install the provider plugins the
// program's packages name, and run commands in the repository root (where Pulumi.yaml is).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { PulumiCommand } from '@pulumi/pulumi/automation/index.js';
import { REPO_ROOT } from '../repo.ts';
import { buildToolchain, TOOLCHAIN_STAMP, toolchainEnv, ToolchainError } from './toolchain.ts';

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

/**
 * The CLI to run, and whether it is the toolchain's (built from Go modules, see toolchain.ts;
 * then every run first checks that its components match the npm packages, in seconds).
 */
async function pulumiBinary(): Promise<{ bin: string; toolchain: boolean }> {
  if (onPath('pulumi')) return { bin: 'pulumi', toolchain: false };
  const local = join(CLI_ROOT, 'bin', 'pulumi');
  const toolchain = existsSync(TOOLCHAIN_STAMP);
  if (existsSync(local) && !toolchain) return { bin: local, toolchain: false };
  if (!existsSync(local)) {
    process.stderr.write(
      `The Pulumi CLI is not on PATH: installing it into ${CLI_ROOT} (get.pulumi.com)...\n`,
    );
    mkdirSync(CLI_ROOT, { recursive: true });
    try {
      await PulumiCommand.install({ root: CLI_ROOT });
      return { bin: local, toolchain: false };
    } catch (err) {
      process.stderr.write(
        `Could not install it (${err instanceof Error ? err.message : String(err)}): ` +
          'building it from Go modules instead (npm run toolchain -w infra).\n',
      );
    }
  }
  try {
    await buildToolchain({ onlyIfComplete: true });
  } catch (err) {
    throw new CliError(
      `${err instanceof ToolchainError ? err.message : String(err)}\n` +
        'Install the Pulumi CLI yourself (https://www.pulumi.com/docs/install/), or see README.md, ' +
        '"Installing without internet access", and run this again.',
    );
  }
  return { bin: local, toolchain: true };
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
  const { bin, toolchain } = await pulumiBinary();
  const base = stackEnv(stack, bin === 'pulumi' ? undefined : dirname(bin));
  const env = toolchain ? toolchainEnv(base) : base;
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
  const installed = JSON.parse(cli.capture(['plugin', 'ls', '--json']) || '[]') as Array<{
    name: string;
    kind: string;
    version: string;
  }> | null;
  for (const pkg of PROVIDER_PACKAGES) {
    const manifest = JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as {
      version: string;
      pulumi?: { name?: string; version?: string };
    };
    const name = manifest.pulumi?.name ?? pkg.replace('@pulumi/', '');
    const version = (manifest.pulumi?.version ?? manifest.version).replace(/^v/, '');
    const present = (installed ?? []).some(
      (p) => p.kind === 'resource' && p.name === name && p.version.replace(/^v/, '') === version,
    );
    if (!present) await cli.run(['plugin', 'install', 'resource', name, `v${version}`]);
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
