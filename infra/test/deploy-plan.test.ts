import { describe, expect, it } from 'vitest';
import {
  deployedStateFromExport,
  planDeploy,
  planPromotion,
  planRollback,
  type DeployedState,
  type ExportedResource,
} from '../scripts/deploy-plan.ts';

const digest = (c: string) => `registry.example.com/chatbot/app@sha256:${c.repeat(64)}`;

const deployed: DeployedState = {
  activeColor: 'green',
  blueImage: digest('1'),
  greenImage: digest('2'),
  imageRef: digest('2'),
  commit: 'c2',
};

describe('deploy plans', () => {
  it('a first deploy puts the release on both colors and keeps the configured active color', () => {
    expect(planDeploy({}, { commit: 'c1' }, 'green')).toEqual({
      image: '',
      commit: 'c1',
      blueImage: '',
      greenImage: '',
      activeColor: 'green',
    });
  });

  it('a deploy pins the active color to what it runs, gives the idle one the release and flips', () => {
    expect(planDeploy(deployed, { image: digest('3'), commit: 'c3' }, 'blue')).toEqual({
      image: digest('3'),
      commit: 'c3',
      greenImage: digest('2'),
      blueImage: '',
      activeColor: 'blue',
    });
  });

  it('refuses a deploy when the serving color does not run one image', () => {
    const { greenImage: _, ...mixed } = deployed;
    expect(() => planDeploy(mixed, {}, 'blue')).toThrow(/green color serves traffic but its containers/);
  });

  it('a rollback pins everything to what runs and only flips the color', () => {
    expect(planRollback(deployed)).toEqual({
      image: digest('2'),
      commit: 'c2',
      blueImage: digest('1'),
      greenImage: digest('2'),
      activeColor: 'blue',
    });
  });

  it('refuses to roll back a stack never deployed, or to a color a failed deploy left half-done', () => {
    expect(() => planRollback({})).toThrow(/not been deployed yet/);
    const { blueImage: _, ...half } = deployed;
    expect(() => planRollback(half)).toThrow(/blue color does not run one complete release/);
  });
});

describe('what the stack runs, from its recorded state', () => {
  const urn = (type: string, name: string) => `urn:pulumi:staging::chatbot::chatbot:infra:X$${type}::${name}`;
  const container = (name: string, image: string): ExportedResource => ({
    urn: urn('docker:index/container:Container', name),
    type: 'docker:index/container:Container',
    inputs: { name: `chatbot-staging-${name.replace('app-', 'app-')}`, image },
  });
  const resources: ExportedResource[] = [
    {
      urn: urn('command:local:Command', 'proxy-switch'),
      type: 'command:local:Command',
      inputs: { stdin: 'upstream chatbot_app {}\nmap $host $chatbot_color { default green; }\n' },
    },
    {
      urn: urn('command:local:Command', 'migrations-migrate'),
      type: 'command:local:Command',
      inputs: { triggers: [digest('2'), 'abc'] },
    },
    container('app-blue-1', digest('1')),
    container('app-blue-2', digest('1')),
    container('app-green-1', digest('2')),
    container('app-green-2', digest('2')),
  ];

  it('takes the color from the switch, the images from the containers, the release from the migrations', () => {
    expect(deployedStateFromExport({ deployment: { resources } })).toEqual({
      activeColor: 'green',
      blueImage: digest('1'),
      greenImage: digest('2'),
      imageRef: digest('2'),
      containers: {
        blue: ['chatbot-staging-app-blue-1', 'chatbot-staging-app-blue-2'],
        green: ['chatbot-staging-app-green-1', 'chatbot-staging-app-green-2'],
      },
    });
  });

  it('reports no image for a color whose containers disagree, and nothing before the first switch', () => {
    const mixed = [
      ...resources.filter((r) => !r.urn.endsWith('app-blue-2')),
      container('app-blue-2', digest('3')),
    ];
    expect(deployedStateFromExport({ deployment: { resources: mixed } }).blueImage).toBeUndefined();
    expect(deployedStateFromExport({ deployment: { resources: resources.slice(1) } })).toEqual({});
    expect(deployedStateFromExport({})).toEqual({});
  });

  it('ignores resources pending deletion', () => {
    const pending = [...resources, { ...container('app-blue-3', digest('9')), delete: true }];
    expect(deployedStateFromExport({ deployment: { resources: pending } }).blueImage).toBe(digest('1'));
  });
});

describe('promotion to production', () => {
  it('looks the commit up by its tag in the registry (only staging pushes)', () => {
    expect(planPromotion(deployed, { commit: 'c1' }, 'registry.example.com/chatbot/app')).toEqual({
      lookupTag: 'registry.example.com/chatbot/app:c1',
      commit: 'c1',
    });
  });

  it('accepts an explicit digest only if a color of staging runs it', () => {
    expect(planPromotion(deployed, { image: digest('1') }, '')).toEqual({ image: digest('1'), commit: '' });
    expect(() => planPromotion(deployed, { image: digest('9') }, '')).toThrow(
      /refused: .* is not an image staging runs/,
    );
  });

  it('refuses images not pinned by digest, and a promotion without a commit or image', () => {
    expect(() => planPromotion(deployed, { image: 'registry.example.com/chatbot/app:v1.2.3' }, '')).toThrow(
      /pinned by digest/,
    );
    expect(() => planPromotion(deployed, {}, 'registry.example.com/chatbot/app')).toThrow(/needs --commit/);
    expect(() => planPromotion(deployed, { commit: 'c1' }, '')).toThrow(/needs imageRepository/);
  });
});
