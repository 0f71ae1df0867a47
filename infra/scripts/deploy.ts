// One-command deploys, rollbacks and promotions of a stack with the Pulumi CLI.
//
//   npm run deploy -w infra -- --stack staging [--image <ref>] [--yes]
//   npm run deploy -w infra -- --stack production --commit <sha> [--yes]
//   npm run rollback -w infra -- --stack production [--yes]
//   npm run status -w infra -- --stack staging
//   npm run token -w infra -- --stack dev [--sub ops] [--role platform_admin] [--tenant <id>]
//
// Each reads what the stack runs from the state Pulumi recorded (never from the stack file,
// which may be stale in a fresh checkout), sets the deploy keys (deploy-plan.ts) and runs
// `pulumi up`. If the update fails, the keys get their previous values back: the running
// color kept serving, and the stack file says so again.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Color } from '../config.ts';
import {
  deployedStateFromExport,
  planDeploy,
  planPromotion,
  planRollback,
  type ConfigChanges,
  type DeployedState,
} from './deploy-plan.ts';
import { CliError, configValue, ensurePlugins, pulumiCli, stackOutputs, type Cli } from './pulumi-cli.ts';

const USAGE = `usage:
  deploy.ts deploy   --stack <name> [--image <ref>] [--commit <sha>] [--from-stack <name>] [--yes]
  deploy.ts rollback --stack <name> [--yes]
  deploy.ts status   --stack <name>
  deploy.ts token    --stack <name> [--sub <user>] [--role <role>] [--tenant <id>]`;

/** What the stack runs: colors and images from its resources' state, the commit from its outputs. */
function deployedState(cli: Cli, stack: string): DeployedState {
  const exported = JSON.parse(cli.capture(['stack', 'export', '--stack', stack]) || '{}') as Parameters<
    typeof deployedStateFromExport
  >[0];
  const state = deployedStateFromExport(exported);
  const commit = stackOutputs(cli, stack)['commit'];
  return typeof commit === 'string' && state.activeColor !== undefined ? { ...state, commit } : state;
}

/** `docker` against the stack's Docker host. */
function docker(cli: Cli, stack: string, args: string[], stdio: 'pipe' | 'inherit' = 'pipe') {
  const dockerHost = configValue(cli, stack, 'dockerHost') || undefined;
  const env = { ...process.env, ...(dockerHost !== undefined ? { DOCKER_HOST: dockerHost } : {}) };
  return spawnSync('docker', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', stdio] });
}

function printStatus(cli: Cli, stack: string): void {
  const s = deployedState(cli, stack);
  if (s.activeColor === undefined) {
    console.log(`${stack}: not deployed yet`);
    return;
  }
  console.log(`${stack}: ${String(stackOutputs(cli, stack)['url'] ?? '')}`);
  for (const color of ['blue', 'green'] as const) {
    const image = (color === 'blue' ? s.blueImage : s.greenImage) ?? '(not one image: a deploy failed?)';
    console.log(`  ${color === s.activeColor ? 'active' : 'idle  '} ${color.padEnd(5)} ${image}`);
  }
  console.log(`  release      ${s.imageRef ?? 'unknown'} (commit ${s.commit ?? 'unknown'})`);
}

/** Every container of the color is running and healthy (a rollback switches to them as they are). */
function assertHealthy(cli: Cli, stack: string, color: Color, names: string[]): void {
  const r = docker(cli, stack, ['inspect', '--format', '{{.State.Health.Status}}', ...names]);
  const statuses = r.stdout.trim().split('\n');
  if (r.status !== 0 || names.length === 0 || statuses.some((s) => s !== 'healthy')) {
    throw new CliError(
      `refused: the ${color} containers (${names.join(', ')}) are not all healthy; deploy instead`,
    );
  }
}

/**
 * A JWT from the image's `token` command, run inside a running app container of the active
 * color (its environment holds the signing key, which never leaves the Docker host).
 */
function printToken(cli: Cli, stack: string, args: string[]): void {
  const s = deployedState(cli, stack);
  const container = s.activeColor !== undefined ? s.containers?.[s.activeColor][0] : undefined;
  if (container === undefined) throw new CliError(`${stack}: not deployed yet`);
  const inspect = docker(cli, stack, ['inspect', '--format', '{{json .Config.Entrypoint}}', container]);
  if (inspect.status !== 0) throw new CliError(`docker inspect ${container}: ${inspect.stderr.trim()}`);
  const entrypoint = (JSON.parse(inspect.stdout) as string[] | null) ?? [];
  const run = docker(cli, stack, ['exec', container, ...entrypoint, 'token', ...args], 'inherit');
  if (run.status !== 0) throw new CliError(`the token command failed in ${container}`);
  process.stdout.write(run.stdout);
}

/** The image the registry holds under the tag, pulled onto the stack's Docker host. */
function digestOfTag(cli: Cli, stack: string, tag: string): string | undefined {
  if (docker(cli, stack, ['pull', '--quiet', tag]).status !== 0) return undefined;
  const inspect = docker(cli, stack, ['image', 'inspect', '--format', '{{json .RepoDigests}}', tag]);
  if (inspect.status !== 0) return undefined;
  const repository = tag.replace(/:[^/:]*$/, '');
  return (JSON.parse(inspect.stdout) as string[]).find((d) => d.startsWith(`${repository}@`));
}

async function applyAndUp(cli: Cli, stack: string, changes: ConfigChanges, yes: boolean): Promise<void> {
  const previous: Record<string, string | undefined> = {};
  for (const key of Object.keys(changes)) previous[key] = configValue(cli, stack, key);
  console.log(
    `${stack}: setting ${Object.entries(changes)
      .map(([k, v]) => `${k}=${v === '' ? '""' : v}`)
      .join(' ')}`,
  );
  // An empty value means the declared default (the release / build this checkout): unset the key.
  for (const [key, value] of Object.entries(changes)) {
    cli.capture(
      value === ''
        ? ['config', 'rm', key, '--stack', stack]
        : ['config', 'set', key, value, '--stack', stack],
    );
  }
  try {
    await cli.run(['up', '--stack', stack, ...(yes ? ['--yes'] : [])]);
  } catch (err) {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) cli.capture(['config', 'rm', key, '--stack', stack]);
      else cli.capture(['config', 'set', key, value, '--stack', stack]);
    }
    throw new CliError(
      `${err instanceof Error ? err.message : String(err)}; the stack's deploy settings are back to what runs`,
    );
  }
}

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stack: { type: 'string' },
      image: { type: 'string' },
      commit: { type: 'string' },
      'from-stack': { type: 'string', default: 'staging' },
      yes: { type: 'boolean', default: false },
      sub: { type: 'string', default: 'ops' },
      role: { type: 'string', default: 'platform_admin' },
      tenant: { type: 'string' },
    },
  });
  const action = positionals[0];
  const stack = values.stack;
  if (stack === undefined || !['deploy', 'rollback', 'status', 'token'].includes(action ?? '')) {
    throw new CliError(USAGE);
  }

  const cli = await pulumiCli(stack);
  if (action === 'status') {
    printStatus(cli, stack);
    return;
  }
  if (action === 'token') {
    const args = ['--sub', values.sub ?? 'ops', '--role', values.role ?? 'platform_admin'];
    printToken(cli, stack, values.tenant !== undefined ? [...args, '--tenant', values.tenant] : args);
    return;
  }

  await cli.run(['stack', 'select', '--create', stack]);
  await ensurePlugins(cli);
  const state = deployedState(cli, stack);

  let changes: ConfigChanges;
  if (action === 'rollback') {
    changes = planRollback(state);
    const back = changes['activeColor'] as Color;
    assertHealthy(cli, stack, back, state.containers?.[back] ?? []);
  } else {
    let release: { image?: string | undefined; commit?: string | undefined } = {
      image: values.image,
      commit: values.commit,
    };
    if (configValue(cli, stack, 'environment') === 'production') {
      const from = values['from-stack'] ?? 'staging';
      const staging = values.image !== undefined ? deployedState(cli, from) : {};
      const repository = configValue(cli, stack, 'imageRepository') ?? '';
      const promotion = planPromotion(staging, { image: values.image, commit: values.commit }, repository);
      if ('lookupTag' in promotion) {
        const image = digestOfTag(cli, stack, promotion.lookupTag);
        if (image === undefined) {
          throw new CliError(
            `refused: commit ${promotion.commit} never reached ${from}: the registry has no ${promotion.lookupTag} ` +
              `(only ${from} builds and pushes; is docker logged in to the registry?)`,
          );
        }
        release = { image, commit: promotion.commit };
      } else {
        release = promotion;
      }
    }
    const configured = configValue(cli, stack, 'activeColor');
    changes = planDeploy(state, release, configured === 'green' ? 'green' : 'blue');
  }

  await applyAndUp(cli, stack, changes, values.yes === true);
  printStatus(cli, stack);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
