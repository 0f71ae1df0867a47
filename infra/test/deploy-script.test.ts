// The deploy script against stand-ins for the Pulumi CLI and docker: which keys it sets from
// what the stack runs, what it runs, what it refuses, and what it puts back when the update
// fails.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../scripts/deploy.ts';
import type { FakeState } from './support/fake-pulumi.ts';

const FAKE = fileURLToPath(new URL('./support/fake-pulumi.ts', import.meta.url));
const digest = (c: string) => `registry.example.com/chatbot/app@sha256:${c.repeat(64)}`;

let dir = '';
let statePath = '';
const savedPath = process.env['PATH'];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chatbot-fake-pulumi-'));
  statePath = join(dir, 'state.json');
  for (const tool of ['pulumi', 'docker']) {
    writeFileSync(join(dir, tool), `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" ${tool} "$@"\n`);
    chmodSync(join(dir, tool), 0o755);
  }
  process.env['PATH'] = `${dir}${delimiter}${savedPath ?? ''}`;
  process.env['FAKE_PULUMI_STATE'] = statePath;
});
afterAll(() => {
  process.env['PATH'] = savedPath;
  rmSync(dir, { recursive: true, force: true });
});

function given(state: Omit<FakeState, 'calls'>): void {
  writeFileSync(statePath, JSON.stringify({ ...state, calls: [] }));
}
const now = () => JSON.parse(readFileSync(statePath, 'utf8')) as FakeState;
/** A stack's config as the program sees it: unset deploy keys take their declared default, "". */
const effective = (stack: string) => ({
  image: '',
  commit: '',
  blueImage: '',
  greenImage: '',
  ...now().config[stack],
});
const pulumiCalls = () =>
  now()
    .calls.filter((c) => c[0] === 'pulumi')
    .map((c) => c.slice(1));

describe('npm run deploy / rollback', () => {
  beforeEach(() => {
    given({
      // A stale stack file: it says green, but blue serves.
      config: {
        staging: { environment: 'staging', activeColor: 'green', image: 'stale', blueImage: 'stale' },
      },
      deployed: {
        staging: {
          activeColor: 'blue',
          blueImage: digest('1'),
          greenImage: digest('1'),
          imageRef: digest('1'),
          commit: 'c1',
        },
      },
    });
  });

  it('deploys this checkout to the idle color, from what the stack runs, then runs pulumi up', async () => {
    await main(['deploy', '--stack', 'staging', '--yes']);
    const s = now();
    expect(effective('staging')).toMatchObject({
      image: '',
      commit: '',
      blueImage: digest('1'),
      greenImage: '',
      activeColor: 'green',
    });
    const calls = pulumiCalls();
    expect(calls).toContainEqual(['up', '--stack', 'staging', '--yes']);
    const lastChange = calls.findLastIndex((c) => c[0] === 'config' && c[1] !== 'get');
    expect(calls.findIndex((c) => c[0] === 'up')).toBeGreaterThan(lastChange);
    expect(s.deployed['staging']).toMatchObject({
      activeColor: 'green',
      blueImage: digest('1'),
      greenImage: 'built:head',
    });
  });

  it('puts the deploy keys back when the update fails', async () => {
    const before = structuredClone(now().config['staging']);
    writeFileSync(statePath, JSON.stringify({ ...now(), failUp: true }));
    await expect(main(['deploy', '--stack', 'staging', '--image', digest('2'), '--yes'])).rejects.toThrow(
      /back to what runs/,
    );
    expect(now().config['staging']).toEqual(before);
  });

  it('rolls back by pinning what runs and flipping the color', async () => {
    await main(['deploy', '--stack', 'staging', '--image', digest('2'), '--yes']);
    await main(['rollback', '--stack', 'staging', '--yes']);
    expect(effective('staging')).toMatchObject({
      image: digest('2'),
      blueImage: digest('1'),
      greenImage: digest('2'),
      activeColor: 'blue',
    });
    expect(now().deployed['staging']?.activeColor).toBe('blue');
  });

  it('refuses to roll back to containers that are not healthy', async () => {
    writeFileSync(statePath, JSON.stringify({ ...now(), unhealthy: ['chatbot-staging-app-green-2'] }));
    await expect(main(['rollback', '--stack', 'staging', '--yes'])).rejects.toThrow(
      /the green containers .* are not all healthy/,
    );
    expect(pulumiCalls().some((c) => c[0] === 'up' || c[1] === 'set' || c[1] === 'rm')).toBe(false);
  });

  it('asks before changing anything unless told --yes', async () => {
    await main(['deploy', '--stack', 'staging']);
    expect(pulumiCalls()).toContainEqual(['up', '--stack', 'staging']);
  });
});

describe('promotion to production', () => {
  beforeEach(() => {
    given({
      config: {
        production: {
          environment: 'production',
          activeColor: 'blue',
          imageRepository: 'registry.example.com/chatbot/app',
          dockerHost: 'ssh://deploy@chat.example.com',
        },
      },
      deployed: {
        staging: {
          activeColor: 'green',
          blueImage: digest('1'),
          greenImage: digest('2'),
          imageRef: digest('2'),
          commit: 'c2',
        },
      },
      registry: { 'registry.example.com/chatbot/app:c1': digest('1') },
    });
  });

  it('deploys the digest staging pushed for the commit, pulled onto the production host', async () => {
    await main(['deploy', '--stack', 'production', '--commit', 'c1', '--yes']);
    expect(effective('production')).toMatchObject({
      image: digest('1'),
      commit: 'c1',
      activeColor: 'blue',
    });
    expect(now().calls).toContainEqual(['docker', 'pull', '--quiet', 'registry.example.com/chatbot/app:c1']);
    expect(pulumiCalls()).toContainEqual(['up', '--stack', 'production', '--yes']);
  });

  it('refuses a commit that never reached staging', async () => {
    await expect(main(['deploy', '--stack', 'production', '--commit', 'c9', '--yes'])).rejects.toThrow(
      /refused: commit c9 never reached staging/,
    );
    expect(pulumiCalls().some((c) => c[0] === 'up' || c[1] === 'set' || c[1] === 'rm')).toBe(false);
  });

  it('deploys an explicit digest only if staging runs it', async () => {
    await main(['deploy', '--stack', 'production', '--image', digest('2'), '--yes']);
    expect(effective('production')).toMatchObject({ image: digest('2') });
    await expect(main(['deploy', '--stack', 'production', '--image', digest('9'), '--yes'])).rejects.toThrow(
      /refused: .* is not an image staging runs/,
    );
  });
});
