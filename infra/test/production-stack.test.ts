import { beforeAll, describe, expect, it } from 'vitest';
import {
  appContainers,
  envOf,
  isSecret,
  named,
  ofType,
  PROMOTED_IMAGE,
  reveal,
  runStack,
  T,
  TEST_SECRETS,
  type RunResult,
} from './support/stack.ts';

let production: RunResult;
beforeAll(async () => {
  production = await runStack('production');
  expect(production.error).toBeUndefined();
});

describe('the production stack', () => {
  it('declares no image build', () => {
    expect(ofType(production, T.image)).toEqual([]);
  });

  it('pulls the promoted digest and runs it in every app container and command', () => {
    const [pull, ...more] = ofType(production, T.remoteImage);
    expect(more).toEqual([]);
    expect(pull?.inputs['name']).toBe(PROMOTED_IMAGE);
    expect(production.outputs['imageRef']).toBe(PROMOTED_IMAGE);
    expect(appContainers(production)).toHaveLength(4);
    for (const c of appContainers(production)) expect(c.inputs['image']).toBe(PROMOTED_IMAGE);
    for (const cmd of ofType(production, T.command).filter((c) => c.name !== 'proxy-switch')) {
      expect((reveal(cmd.inputs['environment']) as Record<string, string>)['IMAGE']).toBe(PROMOTED_IMAGE);
    }
  });

  it('logs the provider in to the registry for the pull', () => {
    const [provider] = ofType(production, T.provider);
    // Provider inputs travel JSON-encoded; the password keeps the whole value secret.
    expect(isSecret(provider?.inputs['registryAuth'])).toBe(true);
    expect(JSON.parse(reveal(provider?.inputs['registryAuth']) as string)).toEqual([
      {
        address: 'registry.example.com',
        username: 'chatbot-deploy',
        password: TEST_SECRETS.registryPassword,
      },
    ]);
  });

  it('sets resource limits on every container', () => {
    for (const c of appContainers(production)) expect(c.inputs).toMatchObject({ memory: 2048, cpus: '2' });
    expect(named(production, 'database-postgres').inputs).toMatchObject({ memory: 4096, cpus: '2' });
    expect(named(production, 'cache-redis').inputs).toMatchObject({ memory: 2560 });
    expect(named(production, 'proxy-nginx').inputs).toMatchObject({ memory: 256 });
  });

  it('caps Redis at 2gb without evicting anything (the limiter’s counters and the job queue live there)', () => {
    const conf = (reveal(named(production, 'cache-redis').inputs['uploads']) as { content: string }[])[0]
      ?.content;
    expect(conf).toContain('maxmemory 2gb');
    expect(conf).toContain('maxmemory-policy noeviction');
    expect(conf).toContain('appendonly yes');
  });

  it('protects the data volumes and keeps them if the stack is destroyed', () => {
    const data = ['database-data', 'cache-data', 'app-uploads'];
    for (const name of data) {
      expect(named(production, name).opts, name).toMatchObject({ protect: true, retainOnDelete: true });
    }
    for (const v of ofType(production, T.volume).filter((v) => !data.includes(v.name))) {
      expect(v.opts.protect, v.name).toBe(false);
    }
  });

  it('runs as production with the pools the connection limit was sized for', () => {
    const env = envOf(appContainers(production)[0]!);
    expect(env).toMatchObject({
      ENVIRONMENT: 'production',
      DB_POOL_SIZE: '20',
      DB_MAX_OVERFLOW: '40',
      DISABLE_AUTH: 'false',
    });
    expect(named(production, 'database-postgres').inputs['command']).toEqual([
      'postgres',
      '-c',
      'max_connections=300',
    ]);
  });
});
