import { describe, expect, it } from 'vitest';
import { planDeploy, planPromotion, planRollback, type DeployedState } from '../scripts/deploy-plan.ts';

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

  it('a rollback pins everything to what runs and only flips the color', () => {
    expect(planRollback(deployed)).toEqual({
      image: digest('2'),
      commit: 'c2',
      blueImage: digest('1'),
      greenImage: digest('2'),
      activeColor: 'blue',
    });
  });

  it('refuses to roll back a stack that was never deployed', () => {
    expect(() => planRollback({})).toThrow(/not been deployed yet/);
  });
});

describe('promotion to production', () => {
  const staging: DeployedState = { ...deployed, commit: 'c2' };

  it('takes the digest staging runs for the commit', () => {
    expect(planPromotion(staging, { commit: 'c2' }, 'registry.example.com/chatbot/app')).toEqual({
      image: digest('2'),
      commit: 'c2',
    });
  });

  it('looks a commit staging ran earlier up by its tag in the registry', () => {
    expect(planPromotion(staging, { commit: 'c1' }, 'registry.example.com/chatbot/app')).toEqual({
      lookupTag: 'registry.example.com/chatbot/app:c1',
      commit: 'c1',
    });
  });

  it('accepts an explicit digest only if staging runs it', () => {
    expect(planPromotion(staging, { image: digest('1') }, '')).toEqual({ image: digest('1'), commit: '' });
    expect(() => planPromotion(staging, { image: digest('9') }, '')).toThrow(
      /refused: .* is not an image staging runs/,
    );
  });

  it('refuses images not pinned by digest, and a promotion without a commit or image', () => {
    expect(() => planPromotion(staging, { image: 'registry.example.com/chatbot/app:v1.2.3' }, '')).toThrow(
      /pinned by digest/,
    );
    expect(() => planPromotion(staging, {}, 'registry.example.com/chatbot/app')).toThrow(/needs --commit/);
  });
});
