import { beforeAll, describe, expect, it } from 'vitest';
import { LETSENCRYPT_MOUNT } from '../proxy.ts';
import {
  appContainers,
  isSecret,
  named,
  ofType,
  reveal,
  runStack,
  T,
  TEST_SECRETS,
  type RunResult,
} from './support/stack.ts';

let staging: RunResult;
beforeAll(async () => {
  staging = await runStack('staging');
  expect(staging.error).toBeUndefined();
});

describe('the staging stack', () => {
  it('builds the commit and pushes it to the registry with the secret password', () => {
    const [image] = ofType(staging, T.image);
    expect(image?.inputs['skipPush']).toBe(false);
    expect(image?.inputs['imageName']).toBe(
      'registry.example.com/chatbot/app:c0ffee0000000000000000000000000000000001',
    );
    expect(isSecret(image?.inputs['registry'])).toBe(true);
    expect(reveal(image?.inputs['registry'])).toEqual({
      server: 'registry.example.com',
      username: 'chatbot-deploy',
      password: TEST_SECRETS.registryPassword,
    });
  });

  it('runs two app containers per color on the pushed digest', () => {
    expect(appContainers(staging, 'blue')).toHaveLength(2);
    expect(appContainers(staging, 'green')).toHaveLength(2);
    expect(staging.outputs['imageRef']).toMatch(/^registry\.example\.com\/chatbot\/app@sha256:[0-9a-f]{64}$/);
    for (const c of appContainers(staging)) expect(c.inputs['image']).toBe(staging.outputs['imageRef']);
  });

  it('drives the remote Docker host over ssh, from the provider and from every command', () => {
    const [provider] = ofType(staging, T.provider);
    expect(provider?.inputs['host']).toBe('ssh://deploy@staging.chat.example.com');
    const commands = ofType(staging, T.command);
    expect(commands.length).toBeGreaterThanOrEqual(4);
    for (const cmd of commands) {
      expect((reveal(cmd.inputs['environment']) as Record<string, string>)['DOCKER_HOST']).toBe(
        'ssh://deploy@staging.chat.example.com',
      );
    }
  });

  it('serves its domain on 80/443 with the host’s Let’s Encrypt certificate and HSTS', () => {
    const nginx = named(staging, 'proxy-nginx');
    expect(nginx.inputs['ports']).toEqual([
      { internal: 80, external: 80, ip: '0.0.0.0' },
      { internal: 443, external: 443, ip: '0.0.0.0' },
    ]);
    expect(nginx.inputs['volumes']).toContainEqual({
      hostPath: '/etc/letsencrypt',
      containerPath: LETSENCRYPT_MOUNT,
      readOnly: true,
    });
    const conf = (reveal(nginx.inputs['uploads']) as { content: string }[])[0]?.content ?? '';
    expect(conf).toContain('ssl_certificate /etc/letsencrypt/live/staging.chat.example.com/fullchain.pem;');
    expect(conf).toContain('Strict-Transport-Security');
    expect(conf).toContain('acme-challenge');
    expect(ofType(staging, 'tls:index/selfSignedCert:SelfSignedCert')).toEqual([]);
    expect(staging.outputs['url']).toBe('https://staging.chat.example.com');
  });
});
