// The Pulumi toolchain without internet access: builds the Pulumi CLI, the Node.js language
// host and the provider plugins from Go modules (any Go module proxy: GOPROXY), at exactly the
// versions the installed npm packages name, and installs them for this checkout.
//
//   npm run toolchain -w infra               build what is missing, install, check versions
//   npm run toolchain -w infra -- --rebuild  build every component again (ignores the cache)
//
// Each component is a small Go module of ours under infra/toolchain/<dir>/ (go.mod, go.sum,
// sometimes a main.go) that requires the upstream module. Binaries are cached outside the
// repository, in ${XDG_CACHE_HOME:-~/.cache}/chatbot-platform/pulumi-toolchain/, keyed by
// component, version and a hash of the wrapper module, so another clone on the same machine
// reuses them. The CLI and the language host go into .pulumi-state/cli/bin/ (the CLI finds the
// language host next to itself); the plugins are installed with `pulumi plugin install --file`
// under PULUMI_HOME=.pulumi-state/home. A run with nothing to build only checks (seconds).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../repo.ts';

export const TOOLCHAIN_DIR = join(REPO_ROOT, 'infra', 'toolchain');
export const CLI_BIN_DIR = join(REPO_ROOT, '.pulumi-state', 'cli', 'bin');
export const TOOLCHAIN_PULUMI_HOME = join(REPO_ROOT, '.pulumi-state', 'home');
/** Written after an install; its presence says this checkout's CLI comes from the toolchain. */
export const TOOLCHAIN_STAMP = join(REPO_ROOT, '.pulumi-state', 'cli', 'toolchain.json');

/** The environment of every run of a CLI the toolchain installed. */
export function toolchainEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    PULUMI_HOME: TOOLCHAIN_PULUMI_HOME,
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
  };
}

export class ToolchainError extends Error {}

type Kind = 'cli' | 'language' | 'resource';

interface Component {
  /** Plugin or binary name: pulumi, nodejs (language host), docker, ... */
  name: string;
  kind: Kind;
  /** The npm package whose version (its package.json `pulumi.version`, else `version`) is built. */
  npmPackage: string;
  /**
   * Whether the built version must be the npm package's (the CLI matches plugin versions
   * exactly). The language host need not match: its wrapper module says what it builds.
   */
  matchesNpm: boolean;
  /** The upstream Go module, for messages. */
  module: string;
  /** The wrapper module's directory under infra/toolchain/. */
  dir: string;
  /** The main package `go build` builds, from inside the wrapper module. */
  goPackage: string;
  /** The -X linker flags that stamp the version (v-less semver given). */
  stamp: (version: string) => string[];
  tags?: string[];
}

const COMPONENTS: Component[] = [
  {
    name: 'pulumi',
    kind: 'cli',
    npmPackage: '@pulumi/pulumi',
    matchesNpm: true,
    module: 'github.com/pulumi/pulumi/pkg/v3',
    dir: 'pulumi',
    goPackage: 'github.com/pulumi/pulumi/pkg/v3/cmd/pulumi',
    stamp: (v) => [`github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${v}`],
  },
  {
    name: 'nodejs',
    kind: 'language',
    npmPackage: '@pulumi/pulumi',
    matchesNpm: false,
    module: 'github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3',
    dir: 'pulumi-language-nodejs',
    goPackage: 'github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3',
    stamp: (v) => [`github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${v}`],
  },
  {
    name: 'docker',
    kind: 'resource',
    npmPackage: '@pulumi/docker',
    matchesNpm: true,
    module: 'github.com/pulumi/pulumi-docker/provider/v5',
    dir: 'pulumi-resource-docker',
    goPackage: '.',
    stamp: (v) => [`github.com/pulumi/pulumi-docker/provider/v5/pkg/version.Version=${v}`],
    tags: ['no_compose'],
  },
  {
    name: 'command',
    kind: 'resource',
    npmPackage: '@pulumi/command',
    matchesNpm: true,
    module: 'github.com/pulumi/pulumi-command/provider',
    dir: 'pulumi-resource-command',
    goPackage: '.',
    stamp: (v) => [`github.com/pulumi/pulumi-command/provider/pkg/version.Version=${v}`],
  },
  {
    name: 'random',
    kind: 'resource',
    npmPackage: '@pulumi/random',
    matchesNpm: true,
    module: 'github.com/pulumi/pulumi-random/provider/v4',
    dir: 'pulumi-resource-random',
    goPackage: '.',
    stamp: (v) => [`github.com/pulumi/pulumi-random/provider/v4/pkg/version.Version=${v}`],
  },
  {
    name: 'tls',
    kind: 'resource',
    npmPackage: '@pulumi/tls',
    matchesNpm: true,
    module: 'github.com/pulumi/pulumi-tls/provider/v5',
    dir: 'pulumi-resource-tls',
    goPackage: '.',
    stamp: (v) => [`github.com/pulumi/pulumi-tls/provider/v5/pkg/version.Version=${v}`],
  },
];

function binaryName(c: Component): string {
  if (c.kind === 'cli') return 'pulumi';
  return c.kind === 'language' ? `pulumi-language-${c.name}` : `pulumi-resource-${c.name}`;
}

/** The version the installed npm package asks for, without a leading v. */
function npmVersion(pkg: string): string {
  const file = join(REPO_ROOT, 'node_modules', ...pkg.split('/'), 'package.json');
  if (!existsSync(file)) throw new ToolchainError(`${pkg} is not installed (run npm ci first)`);
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as {
    version: string;
    pulumi?: { version?: string };
  };
  return (manifest.pulumi?.version ?? manifest.version).replace(/^v/, '');
}

/**
 * The version a wrapper module was made for: its go.mod says `// toolchain-version: X.Y.Z`
 * (the upstream module may be required at a pseudo-version of that release's commit).
 */
function wrapperVersion(dir: string): string | undefined {
  const gomod = readFileSync(join(dir, 'go.mod'), 'utf8');
  return /^\/\/ toolchain-version: v?(\S+)/m.exec(gomod)?.[1];
}

/** sha256 over the wrapper module's files (path and content), the Go version and the platform. */
function wrapperHash(dir: string, goVersion: string): string {
  const hash = createHash('sha256').update(`${goVersion}\0${process.platform}\0${process.arch}\0`);
  const files = (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .map((f) => f.split('\\').join('/'))
    .sort();
  for (const file of files) {
    const path = join(dir, file);
    if (statSync(path).isFile()) hash.update(file).update('\0').update(readFileSync(path)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function cacheRoot(): string {
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'chatbot-platform', 'pulumi-toolchain');
}

function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function log(message: string): void {
  process.stderr.write(`toolchain: ${message}\n`);
}

function goEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The machine's own Go unless you chose another (GOTOOLCHAIN=go1.27.3 fetches that one).
  env['GOTOOLCHAIN'] ??= 'local';
  // The committed go.sum decides what gets built; no VCS stamping of the wrapper module.
  env['GOFLAGS'] = `${env['GOFLAGS'] ?? ''} -mod=readonly -buildvcs=false`.trim();
  return env;
}

function goVersion(): string {
  const r = spawnSync('go', ['env', 'GOVERSION'], { env: goEnv(), encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new ToolchainError(
      'Go is needed to build the Pulumi toolchain (Go >= 1.26 and a Go module proxy, GOPROXY): ' +
        (r.error?.message ?? r.stderr.trim()),
    );
  }
  return r.stdout.trim();
}

/** Runs `go build` for a component into `out`, printing a line every minute while it runs. */
function goBuild(c: Component, dir: string, version: string, out: string): Promise<void> {
  const ldflags = ['-s', '-w', ...c.stamp(version).map((x) => `-X ${x}`)].join(' ');
  const args = ['build', '-trimpath', `-ldflags=${ldflags}`, '-o', out];
  if (c.tags !== undefined) args.push(`-tags=${c.tags.join(',')}`);
  args.push(c.goPackage);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, { cwd: dir, env: goEnv(), stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    const ticker = setInterval(
      () => log(`  ${c.name}: still building (${elapsed(Date.now() - started)})`),
      60_000,
    );
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(err);
    });
    child.on('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else
        reject(
          new ToolchainError(`go build ${c.goPackage} failed (exit ${code}): ${stderr.trim().slice(-2000)}`),
        );
    });
  });
}

interface Built {
  component: Component;
  version: string;
  binary: string;
  key: string;
}

/** The cached binary of the component, built first when the cache has none. */
async function buildComponent(c: Component, goVer: string, rebuild: boolean): Promise<Built> {
  const wanted = npmVersion(c.npmPackage);
  const dir = join(TOOLCHAIN_DIR, c.dir);
  const where = relative(REPO_ROOT, dir);
  if (!existsSync(join(dir, 'go.mod'))) {
    throw new ToolchainError(
      `${c.name} ${wanted}: no wrapper module ${where}/ for ${c.module} (see README.md, "Installing without internet access")`,
    );
  }
  const made = wrapperVersion(dir);
  const version = c.matchesNpm ? wanted : made;
  if (version === undefined || made !== version) {
    throw new ToolchainError(
      `${c.name}: ${c.npmPackage} asks for ${wanted}, but ${where}/go.mod is for ${made ?? 'no version'} ` +
        `("// toolchain-version:" line): update the wrapper module to ${c.module} at ${wanted}`,
    );
  }
  const key = `${c.name}-${version}-${wrapperHash(dir, goVer)}`;
  const cacheDir = join(cacheRoot(), key);
  const binary = join(cacheDir, binaryName(c));
  if (existsSync(binary) && !rebuild) {
    log(`${c.name} ${version}: cached (${cacheDir})`);
    return { component: c, version, binary, key };
  }
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${binary}.partial-${process.pid}`;
  const started = Date.now();
  log(`${c.name} ${version}: building ${c.module} (go build in ${where}; a cold build takes minutes)...`);
  try {
    await goBuild(c, dir, version, tmp);
    renameSync(tmp, binary);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err instanceof ToolchainError ? err : new ToolchainError(`${c.name}: ${String(err)}`);
  }
  log(`${c.name} ${version}: built in ${elapsed(Date.now() - started)}`);
  return { component: c, version, binary, key };
}

type Stamp = Record<string, string>;

function readStamp(): Stamp {
  try {
    return JSON.parse(readFileSync(TOOLCHAIN_STAMP, 'utf8')) as Stamp;
  } catch {
    return {};
  }
}

/** Copies the CLI or language host into .pulumi-state/cli/bin/ unless the stamp says it is there. */
function installBinary(b: Built, stamp: Stamp): void {
  const target = join(CLI_BIN_DIR, binaryName(b.component));
  if (stamp[binaryName(b.component)] === b.key && existsSync(target)) return;
  mkdirSync(CLI_BIN_DIR, { recursive: true });
  const tmp = `${target}.partial-${process.pid}`;
  copyFileSync(b.binary, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
  stamp[binaryName(b.component)] = b.key;
  log(`${b.component.name} ${b.version}: installed ${relative(REPO_ROOT, target)}`);
}

interface PluginEntry {
  name: string;
  kind: string;
  version: string;
}

function installedPlugins(cli: string): PluginEntry[] {
  const r = spawnSync(cli, ['plugin', 'ls', '--json'], { env: toolchainEnv(), encoding: 'utf8' });
  if (r.status !== 0) throw new ToolchainError(`pulumi plugin ls failed: ${(r.stderr || r.stdout).trim()}`);
  return (JSON.parse(r.stdout || '[]') as PluginEntry[] | null) ?? [];
}

function installPlugin(cli: string, b: Built, plugins: PluginEntry[]): void {
  const { name } = b.component;
  const present = plugins.some(
    (p) => p.kind === 'resource' && p.name === name && p.version.replace(/^v/, '') === b.version,
  );
  if (present) return;
  const r = spawnSync(cli, ['plugin', 'install', 'resource', name, `v${b.version}`, '--file', b.binary], {
    env: toolchainEnv(),
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new ToolchainError(
      `pulumi plugin install resource ${name} failed: ${(r.stderr || r.stdout).trim()}`,
    );
  }
  log(
    `${name} ${b.version}: installed as a resource plugin under ${relative(REPO_ROOT, TOOLCHAIN_PULUMI_HOME)}`,
  );
}

/**
 * Builds (or takes from the cache) every component, installs them and checks the versions.
 * Goes on past a component that fails, then throws one error naming all that failed.
 */
/**
 * Builds what it can and installs it; fails naming every component that could not be built.
 * `onlyIfComplete`: fail at once, before any long build, when a component has no wrapper
 * module (a caller that needs the whole toolchain gains nothing from the rest).
 */
export async function buildToolchain(
  options: { rebuild?: boolean; onlyIfComplete?: boolean } = {},
): Promise<void> {
  const started = Date.now();
  if (options.onlyIfComplete === true) {
    const missing = COMPONENTS.filter((c) => !existsSync(join(TOOLCHAIN_DIR, c.dir, 'go.mod')));
    if (missing.length > 0) {
      throw new ToolchainError(
        `the Pulumi toolchain cannot be built from Go modules here: no wrapper module for ` +
          missing.map((c) => `${c.name} (${c.module})`).join(', ') +
          ' (see README.md, "Installing without internet access")',
      );
    }
  }
  const goVer = goVersion();
  const failures: string[] = [];
  const built: Built[] = [];
  for (const c of COMPONENTS) {
    try {
      built.push(await buildComponent(c, goVer, options.rebuild ?? false));
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
      log(`${c.name}: FAILED (see the summary at the end)`);
    }
  }
  const stamp = readStamp();
  for (const b of built.filter((x) => x.component.kind !== 'resource')) installBinary(b, stamp);
  if (Object.keys(stamp).length > 0) writeFileSync(TOOLCHAIN_STAMP, `${JSON.stringify(stamp, null, 2)}\n`);

  const cli = join(CLI_BIN_DIR, 'pulumi');
  const plugins = built.filter((x) => x.component.kind === 'resource');
  if (plugins.length > 0) {
    if (!existsSync(cli)) {
      failures.push('the resource plugins need the CLI to install them, and it was not built');
    } else {
      mkdirSync(TOOLCHAIN_PULUMI_HOME, { recursive: true });
      try {
        const present = installedPlugins(cli);
        for (const b of plugins) installPlugin(cli, b, present);
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }
  }
  if (failures.length > 0) {
    throw new ToolchainError(
      `the Pulumi toolchain is incomplete (${failures.length} of ${COMPONENTS.length} components failed):\n` +
        failures.map((f) => `  - ${f}`).join('\n'),
    );
  }
  log(
    `ready in ${elapsed(Date.now() - started)}: ${built.map((b) => `${b.component.name} ${b.version}`).join(', ')}`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--rebuild');
  if (unknown.length > 0) {
    console.error(`usage: toolchain.ts [--rebuild]  (unknown: ${unknown.join(' ')})`);
    process.exit(2);
  }
  buildToolchain({ rebuild: args.includes('--rebuild') }).catch((err: unknown) => {
    console.error(`toolchain: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
