// Deploys and rollbacks as the deploy script runs them: read what the stack runs from the
// state Pulumi records (`pulumi stack export`), set the deploy keys (deploy-plan.ts), run the
// program again. What the Docker provider would replace is what changed in a resource's
// inputs between two runs.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  deployedStateFromExport,
  planDeploy,
  planRollback,
  type DeployedState,
  type Release,
} from '../scripts/deploy-plan.ts';
import {
  appContainers,
  exportOf,
  named,
  ofType,
  reveal,
  runStack,
  STACKS,
  T,
  type RunResult,
  type StackName,
} from './support/stack.ts';

function release(stack: StackName, n: number): Release {
  const commit = `${n}`.repeat(40).slice(0, 40);
  if (stack !== 'production') return { commit };
  return { image: `registry.example.com/chatbot/app@sha256:${`${n}f`.repeat(32)}`, commit };
}

/** Names of containers and commands whose inputs differ between two runs (or that are new). */
function changed(before: RunResult, after: RunResult): string[] {
  const kinds: string[] = [T.container, T.command];
  return after.resources
    .filter((r) => kinds.includes(r.type))
    .filter((r) => {
      const old = before.resources.find((b) => b.name === r.name);
      return old === undefined || JSON.stringify(reveal(old.inputs)) !== JSON.stringify(reveal(r.inputs));
    })
    .map((r) => r.name)
    .sort();
}

const imagesOf = (r: RunResult, color: 'blue' | 'green') => [
  ...new Set(appContainers(r, color).map((c) => c.inputs['image'])),
];
const upstreamOf = (r: RunResult) => String(named(r, 'proxy-switch').inputs['stdin']);

describe.each(STACKS)('blue/green on the %s stack', (stack) => {
  const deployedState = (r: RunResult): DeployedState => ({
    ...deployedStateFromExport(exportOf(r, stack)),
    commit: String(r.outputs['commit']),
  });
  const config: Record<string, string> = {};
  const runs: RunResult[] = [];
  async function apply(changes: Record<string, string>): Promise<RunResult> {
    Object.assign(config, changes);
    const result = await runStack(stack, { config: { ...config } });
    expect(result.error).toBeUndefined();
    runs.push(result);
    return result;
  }

  beforeAll(async () => {
    await apply(planDeploy({}, release(stack, 1), 'blue')); // 0: first deploy
    await apply(planDeploy(deployedState(runs[0]!), release(stack, 2), 'blue')); // 1: deploy
    await apply(planRollback(deployedState(runs[1]!))); // 2: rollback
    await apply(planDeploy(deployedState(runs[2]!), release(stack, 3), 'blue')); // 3: deploy again
  });

  it('reads from the recorded state what runs: the switched color, each color’s image, the release', () => {
    const [, deploy] = runs;
    expect(deployedState(deploy!)).toEqual({
      activeColor: 'green',
      blueImage: deploy!.outputs['blueImage'],
      greenImage: deploy!.outputs['greenImage'],
      imageRef: deploy!.outputs['imageRef'],
      commit: deploy!.outputs['commit'],
      containers: {
        blue: appContainers(deploy!, 'blue').map((c) => c.inputs['name']),
        green: appContainers(deploy!, 'green').map((c) => c.inputs['name']),
      },
    });
  });

  it('first deploy runs the release in both colors and sends traffic to blue', () => {
    const [first] = runs;
    expect(imagesOf(first!, 'blue')).toEqual([first!.outputs['imageRef']]);
    expect(imagesOf(first!, 'green')).toEqual([first!.outputs['imageRef']]);
    expect(upstreamOf(first!)).toContain('default blue;');
  });

  it('a deploy replaces only the idle color, migrates the new release and switches to it', () => {
    const [first, deploy] = runs;
    expect(deploy!.outputs['imageRef']).not.toBe(first!.outputs['imageRef']);
    expect(deploy!.outputs['activeColor']).toBe('green');
    expect(imagesOf(deploy!, 'green')).toEqual([deploy!.outputs['imageRef']]);
    expect(imagesOf(deploy!, 'blue')).toEqual([first!.outputs['imageRef']]);
    const greenContainers = appContainers(deploy!, 'green').map((c) => c.name);
    expect(changed(first!, deploy!)).toEqual(
      [...greenContainers, 'app-green-web-fill', 'migrations-migrate', 'proxy-switch'].sort(),
    );
    expect(upstreamOf(deploy!)).toContain('default green;');
    expect(upstreamOf(deploy!)).not.toContain('-app-blue-');
  });

  it('a rollback replaces nothing and runs no migration: only the switch runs', () => {
    const [, deploy, rollback] = runs;
    expect(rollback!.outputs['activeColor']).toBe('blue');
    expect(changed(deploy!, rollback!)).toEqual(['proxy-switch']);
    expect(upstreamOf(rollback!)).toContain('default blue;');
    expect(upstreamOf(rollback!)).not.toContain('-app-green-');
    // Nothing is built for a rollback, whatever the checkout holds now.
    expect(ofType(rollback!, T.image)).toEqual([]);
    expect(imagesOf(rollback!, 'green')).toEqual(imagesOf(deploy!, 'green'));
  });

  it('the next deploy after a rollback goes to the idle color again, keeping the active one', () => {
    const [, , rollback, next] = runs;
    expect(next!.outputs['activeColor']).toBe('green');
    expect(imagesOf(next!, 'green')).toEqual([next!.outputs['imageRef']]);
    expect(imagesOf(next!, 'blue')).toEqual(imagesOf(rollback!, 'blue'));
    expect(changed(rollback!, next!).filter((n) => n.includes('blue'))).toEqual([]);
  });

  it('never replaces the nginx container', () => {
    for (let i = 1; i < runs.length; i++)
      expect(changed(runs[i - 1]!, runs[i]!)).not.toContain('proxy-nginx');
  });
});
