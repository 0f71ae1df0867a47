// One-command deploys, rollbacks and promotions of a stack with the Pulumi CLI.
//
//   npm run deploy -w infra -- --stack staging [--image <ref>] [--yes]
//   npm run deploy -w infra -- --stack production --commit <sha> [--from-stack staging] [--yes]
//   npm run rollback -w infra -- --stack production [--yes]
//   npm run status -w infra -- --stack staging
//   npm run token -w infra -- --stack dev [--sub ops] [--role platform_admin] [--tenant <id>]
//
// Each reads what the stack last deployed from its outputs (never from the stack file, which
// may be stale in a fresh checkout), sets the deploy keys (deploy-plan.ts) and runs
// `pulumi up`. If the update fails, the keys get their previous values back: the running
// color kept serving, and the stack file says so again.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Color } from '../config.ts';
import {
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

function state(outputs: Record<string, unknown>): DeployedState {
  const str = (k: string) => (typeof outputs[k] === 'string' ? (outputs[k] as string) : undefined);
  const active = str('activeColor');
  return {
    ...(active === 'blue' || active === 'green' ? { activeColor: active } : {}),
    ...(str('blueImage') !== undefined ? { blueImage: str('blueImage') } : {}),
    ...(str('greenImage') !== undefined ? { greenImage: str('greenImage') } : {}),
    ...(str('imageRef') !== undefined ? { imageRef: str('imageRef') } : {}),
    ...(str('commit') !== undefined ? { commit: str('commit') } : {}),
  };
}

function printStatus(stack: string, outputs: Record<string, unknown>): void {
  const s = state(outputs);
  if (s.activeColor === undefined) {
    console.log(`${stack}: not deployed yet`);
    return;
  }
  console.log(`${stack}: ${String(outputs['url'] ?? '')}`);
  for (const color of ['blue', 'green'] as const) {
    const mark = color === s.activeColor ? 'active' : 'idle  ';
    console.log(`  ${mark} ${color.padEnd(5)} ${color === 'blue' ? s.blueImage : s.greenImage}`);
  }
  console.log(`  release      ${s.imageRef} (commit ${s.commit ?? 'unknown'})`);
}

/**
 * A JWT from the image's `token` command, run inside a running app container of the active
 * color (its environment holds the signing key, which never leaves the Docker host).
 */
function printToken(cli: Cli, stack: string, outputs: Record<string, unknown>, args: string[]): void {
  const containers = outputs['activeContainers'];
  const container = Array.isArray(containers) ? (containers[0] as string | undefined) : undefined;
  if (container === undefined) throw new CliError(`${stack}: not deployed yet`);
  const dockerHost = configValue(cli, stack, 'dockerHost') || undefined;
  const env = { ...process.env, ...(dockerHost ? { DOCKER_HOST: dockerHost } : {}) };
  const inspect = spawnSync('docker', ['inspect', '--format', '{{json .Config.Entrypoint}}', container], {
    env,
    encoding: 'utf8',
  });
  if (inspect.status !== 0) throw new CliError(`docker inspect ${container}: ${inspect.stderr.trim()}`);
  const entrypoint = (JSON.parse(inspect.stdout) as string[] | null) ?? [];
  const run = spawnSync('docker', ['exec', container, ...entrypoint, 'token', ...args], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (run.status !== 0) throw new CliError(`the token command failed in ${container}`);
  process.stdout.write(run.stdout);
}

/** The image the registry holds under the tag, pulled onto the stack's Docker host. */
function digestOfTag(tag: string, dockerHost: string | undefined): string | undefined {
  const env = { ...process.env, ...(dockerHost ? { DOCKER_HOST: dockerHost } : {}) };
  const pull = spawnSync('docker', ['pull', '--quiet', tag], { env, encoding: 'utf8' });
  if (pull.status !== 0) return undefined;
  const inspect = spawnSync('docker', ['image', 'inspect', '--format', '{{json .RepoDigests}}', tag], {
    env,
    encoding: 'utf8',
  });
  if (inspect.status !== 0) return undefined;
  const repo = tag.replace(/:[^/:]*$/, '');
  return (JSON.parse(inspect.stdout) as string[]).find((d) => d.startsWith(`${repo}@`));
}

async function applyAndUp(cli: Cli, stack: string, changes: ConfigChanges, yes: boolean): Promise<void> {
  const previous: Record<string, string | undefined> = {};
  for (const key of Object.keys(changes)) previous[key] = configValue(cli, stack, key);
  console.log(
    `${stack}: setting ${Object.entries(changes)
      .map(([k, v]) => `${k}=${v === '' ? '""' : v}`)
      .join(' ')}`,
  );
  for (const [key, value] of Object.entries(changes))
    cli.capture(['config', 'set', key, value, '--stack', stack]);
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
  if (stack === undefined || !['deploy', 'rollback', 'status', 'token'].includes(action ?? ''))
    throw new CliError(USAGE);

  const cli = await pulumiCli(stack);
  if (action === 'deploy' || action === 'rollback') await cli.run(['stack', 'select', '--create', stack]);
  const outputs = stackOutputs(cli, stack);

  if (action === 'status') {
    printStatus(stack, outputs);
    return;
  }
  if (action === 'token') {
    const args = ['--sub', values.sub ?? 'ops', '--role', values.role ?? 'platform_admin'];
    printToken(
      cli,
      stack,
      outputs,
      values.tenant !== undefined ? [...args, '--tenant', values.tenant] : args,
    );
    return;
  }
  await ensurePlugins(cli);

  let changes: ConfigChanges;
  if (action === 'rollback') {
    changes = planRollback(state(outputs));
  } else {
    let release: { image?: string | undefined; commit?: string | undefined } = {
      image: values.image,
      commit: values.commit,
    };
    if (configValue(cli, stack, 'environment') === 'production') {
      const from = values['from-stack'];
      const staging = state(stackOutputs(cli, from));
      const repository = configValue(cli, stack, 'imageRepository') ?? '';
      const promotion = planPromotion(staging, { image: values.image, commit: values.commit }, repository);
      if ('lookupTag' in promotion) {
        const image = digestOfTag(promotion.lookupTag, configValue(cli, stack, 'dockerHost') || undefined);
        if (image === undefined) {
          throw new CliError(
            `refused: commit ${promotion.commit} never reached ${from} (${from} runs ${staging.commit ?? 'nothing'}, ` +
              `and the registry has no ${promotion.lookupTag})`,
          );
        }
        release = { image, commit: promotion.commit };
      } else {
        release = promotion;
      }
    }
    const configured = configValue(cli, stack, 'activeColor');
    changes = planDeploy(state(outputs), release, configured === 'green' ? 'green' : ('blue' as Color));
  }

  await applyAndUp(cli, stack, changes, values.yes === true);
  printStatus(stack, stackOutputs(cli, stack));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof CliError ? err.message : err);
    process.exit(1);
  });
}
