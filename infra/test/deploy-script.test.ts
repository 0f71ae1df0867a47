// The deploy script against a stand-in Pulumi CLI: which keys it sets from the stack's
// outputs, what it runs, and what it puts back when the update fails.
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
  writeFileSync(join(dir, 'pulumi'), `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`);
  chmodSync(join(dir, 'pulumi'), 0o755);
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

describe('npm run deploy / rollback', () => {
  beforeEach(() => {
    given({
      config: {
        // A stale stack file: it says green, but blue runs.
        staging: { environment: 'staging', activeColor: 'green', image: 'stale', blueImage: 'stale' },
      },
      outputs: {
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

  it('deploys this checkout to the idle color from what the stack runs, then runs pulumi up', async () => {
    await main(['deploy', '--stack', 'staging', '--yes']);
    const s = now();
    expect(s.config['staging']).toMatchObject({
      image: '',
      commit: '',
      blueImage: digest('1'),
      greenImage: '',
      activeColor: 'green',
    });
    expect(s.calls).toContainEqual(['up', '--stack', 'staging', '--yes']);
    expect(s.calls.findIndex((c) => c[0] === 'up')).toBeGreaterThan(s.calls.findIndex((c) => c[1] === 'set'));
    expect(s.outputs['staging']).toMatchObject({
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
    expect(now().config['staging']).toMatchObject({
      image: digest('2'),
      blueImage: digest('1'),
      greenImage: digest('2'),
      activeColor: 'blue',
    });
  });

  it('asks before changing anything unless told --yes', async () => {
    await main(['deploy', '--stack', 'staging']);
    expect(now().calls).toContainEqual(['up', '--stack', 'staging']);
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
        },
      },
      outputs: {
        staging: {
          activeColor: 'green',
          blueImage: digest('1'),
          greenImage: digest('2'),
          imageRef: digest('2'),
          commit: 'c2',
        },
      },
    });
  });

  it('deploys the digest staging runs for the commit', async () => {
    await main(['deploy', '--stack', 'production', '--commit', 'c2', '--yes']);
    expect(now().config['production']).toMatchObject({
      image: digest('2'),
      commit: 'c2',
      activeColor: 'blue',
    });
    expect(now().calls).toContainEqual(['up', '--stack', 'production', '--yes']);
  });

  it('refuses an image staging never ran, before changing anything', async () => {
    await expect(main(['deploy', '--stack', 'production', '--image', digest('9'), '--yes'])).rejects.toThrow(
      /refused/,
    );
    expect(now().calls.some((c) => c[0] === 'up' || c[1] === 'set')).toBe(false);
  });
});
