// The merge request pipeline's `pulumi preview --diff` of a stack (run from the repository
// root in the deploy image, after ci/deploy-env.sh):
//
//   node ci/preview.ts staging      what deploying this commit to staging would do: a build
//                                   into the idle color and the switch (deploy-plan's planDeploy)
//   node ci/preview.ts production   this commit's infrastructure changes at the release
//                                   production runs (both colors and the release pinned to
//                                   what they run, the active color kept): production never
//                                   builds, and which release it gets next is decided by a tag
//
// What runs is read the way the deploy script reads it: from the state Pulumi recorded
// (`pulumi stack export`). The deploy keys are changed in this checkout's stack file only.
import { pathToFileURL } from 'node:url';
import {
  deployedStateFromExport,
  planDeploy,
  planRollback,
  type ConfigChanges,
  type DeployedState,
} from '../infra/scripts/deploy-plan.ts';
import { configValue, ensurePlugins, pulumiCli } from '../infra/scripts/pulumi-cli.ts';

export type PreviewPlan = { changes: ConfigChanges } | { skip: string };

export function previewPlan(
  environment: string,
  state: DeployedState,
  commit: string,
  configuredActive: 'blue' | 'green',
): PreviewPlan {
  if (environment !== 'production') {
    return { changes: planDeploy(state, { commit }, configuredActive) };
  }
  if (state.activeColor === undefined) {
    return { skip: 'production has not been deployed yet: nothing runs to compare with' };
  }
  // A rollback's pins (release and both colors as they run), without its switch.
  return { changes: { ...planRollback(state), activeColor: state.activeColor } };
}

async function main(stack: string, commit: string): Promise<void> {
  const cli = await pulumiCli(stack);
  await ensurePlugins(cli);
  const exported = JSON.parse(cli.capture(['stack', 'export', '--stack', stack]) || '{}') as Parameters<
    typeof deployedStateFromExport
  >[0];
  const state = deployedStateFromExport(exported);
  const environment = configValue(cli, stack, 'environment') ?? '';
  const configured = configValue(cli, stack, 'activeColor') === 'green' ? 'green' : 'blue';
  const plan = previewPlan(environment, state, commit, configured);
  if ('skip' in plan) {
    process.stdout.write(`${stack}: ${plan.skip}\n`);
    return;
  }
  for (const [key, value] of Object.entries(plan.changes)) {
    if (value === '') cli.capture(['config', 'rm', key, '--stack', stack]);
    else cli.capture(['config', 'set', key, value, '--stack', stack]);
  }
  process.stdout.write(
    `${stack}: previewing with ${Object.entries(plan.changes)
      .map(([k, v]) => `${k}=${v === '' ? '(unset)' : v}`)
      .join(' ')}\n`,
  );
  await cli.run(['preview', '--diff', '--non-interactive', '--stack', stack]);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const stack = process.argv[2];
  if (stack === undefined) {
    process.stderr.write('usage: node ci/preview.ts <stack>\n');
    process.exit(2);
  }
  main(stack, process.env['CI_COMMIT_SHA'] ?? '').catch((err: unknown) => {
    process.stderr.write(`preview: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
