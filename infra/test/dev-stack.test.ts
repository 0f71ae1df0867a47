import { beforeAll, describe, expect, it } from 'vitest';
import { NGINX_PATHS } from '../nginx-config.ts';
import { gitCommit } from '../repo.ts';
import { appContainers, named, ofType, reveal, runStack, T, type RunResult } from './support/stack.ts';

let dev: RunResult;
beforeAll(async () => {
  dev = await runStack('dev');
  expect(dev.error).toBeUndefined();
});

describe('the dev stack', () => {
  it('builds the root Dockerfile with BuildKit, tagged with the commit, and pushes nothing', () => {
    const [image, ...more] = ofType(dev, T.image);
    expect(more).toEqual([]);
    const inputs = reveal(image?.inputs) as Record<string, unknown>;
    expect(inputs['skipPush']).toBe(true);
    expect(inputs['registry']).toBeUndefined();
    expect(inputs['imageName']).toBe(`chatbot-dev-app:${String(dev.outputs['commit'])}`);
    expect(dev.outputs['commit']).toBe(gitCommit()); // the checkout's HEAD (or "unknown" outside git)
    const build = inputs['build'] as {
      context: string;
      builderVersion: string;
      args: Record<string, string>;
    };
    expect(build.context).toBe('..'); // the repository root, seen from infra/ where Pulumi runs
    expect(build.builderVersion).toBe('BuilderBuildKit');
    expect(build.args).toMatchObject({
      NODE_IMAGE: 'node:24-bookworm-slim',
      REVISION: dev.outputs['commit'],
    });
    expect(ofType(dev, T.remoteImage)).toEqual([]);
  });

  it('runs one app container per color, both on the fresh build', () => {
    expect(appContainers(dev, 'blue')).toHaveLength(1);
    expect(appContainers(dev, 'green')).toHaveLength(1);
    for (const c of appContainers(dev)) expect(c.inputs['image']).toBe(dev.outputs['imageRef']);
    expect(dev.outputs['imageRef']).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('uses the local Docker engine', () => {
    const [provider] = ofType(dev, T.provider);
    expect(provider?.inputs['host']).toBeUndefined();
    for (const cmd of ofType(dev, T.command)) {
      expect(Object.keys(reveal(cmd.inputs['environment']) as object)).not.toContain('DOCKER_HOST');
    }
  });

  it('publishes nginx on unprivileged loopback ports only, and says where', () => {
    const nginx = named(dev, 'proxy-nginx');
    expect(nginx.inputs['ports']).toEqual([
      { internal: 80, external: 8080, ip: '127.0.0.1' },
      { internal: 443, external: 8443, ip: '127.0.0.1' },
    ]);
    expect(dev.outputs['url']).toBe('https://localhost:8443');
  });

  it('serves a self-signed certificate made by @pulumi/tls, without HSTS', () => {
    const cert = named(dev, 'proxy-tls-cert');
    expect(cert.type).toBe('tls:index/selfSignedCert:SelfSignedCert');
    expect(cert.inputs['dnsNames']).toEqual(['localhost']);
    const uploads = reveal(named(dev, 'proxy-nginx').inputs['uploads']) as {
      file: string;
      content: string;
    }[];
    expect(uploads.map((u) => u.file)).toEqual([
      NGINX_PATHS.config,
      NGINX_PATHS.upstream,
      NGINX_PATHS.tlsCertificate,
      NGINX_PATHS.tlsKey,
    ]);
    expect(uploads[0]?.content).not.toContain('Strict-Transport-Security');
  });

  it('lets Docker pick the ports when asked, and reports the one it picked', async () => {
    const picked = await runStack('dev', { config: { httpPort: '0', httpsPort: '0' } });
    const ports = named(picked, 'proxy-nginx').inputs['ports'] as { external?: number }[];
    expect(ports.map((p) => p.external)).toEqual([undefined, undefined]);
    expect(picked.outputs['url']).toBe('https://localhost:40001'); // the mock engine's pick for 443
  });
});
