// The e2e harness's own parts that need no Docker engine (stack.docker.test.ts uses them on
// a real one): it refuses resource types and inputs it does not carry out, its certificates
// are ones a TLS client verifies, and its upload archives are archives tar reads.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { tarOf } from './e2e/docker-engine.ts';
import { providerFor, PROVIDERS, type ProviderContext } from './e2e/providers.ts';
import { ecdsaKey, selfSignedCert } from './e2e/x509.ts';

const ctx: ProviderContext = { runId: 'unit', log: () => undefined };
const container = PROVIDERS['docker:index/container:Container']!;
const command = PROVIDERS['command:local:Command']!;
const base = {
  name: 'x',
  image: 'nginx:1.28-bookworm',
  healthcheck: { tests: ['CMD', 'true'], interval: '5s' },
  wait: true,
};

describe('the e2e harness refuses what it does not carry out', () => {
  it('an unknown resource type', () => {
    expect(() => providerFor('docker:index/service:Service', 'swarm')).toThrow(
      /does not know how to carry out a docker:index\/service:Service \(swarm\); refusing it/,
    );
  });

  it('an unknown container input, also inside a nested input', async () => {
    await expect(container.create('c', { ...base, privileged: true }, ctx)).rejects.toThrow(
      /docker.Container c: the e2e harness does not carry out "privileged"/,
    );
    await expect(
      container.create('c', { ...base, healthcheck: { tests: ['CMD', 'true'], startInterval: '1s' } }, ctx),
    ).rejects.toThrow(/healthcheck: the e2e harness does not carry out "startInterval"/);
    await expect(
      container.create('c', { ...base, ports: [{ internal: 80, ip: '10.1.2.3' }] }, ctx),
    ).rejects.toThrow(/publishes ports on [\d.]+ only \(got 10.1.2.3\)/);
    await expect(container.create('c', { ...base, healthcheck: undefined }, ctx)).rejects.toThrow(
      /wait needs a healthcheck/,
    );
  });

  it('a command input it would otherwise ignore (a delete script, a trigger of replacement only)', async () => {
    await expect(command.create('m', { create: 'true', delete: 'rm -rf /x' }, ctx)).rejects.toThrow(
      /does not carry out "delete"/,
    );
  });

  it('runs a command with its environment and stdin, and fails with its exit status', async () => {
    const ran = await command.create(
      'echo',
      { create: 'printf "%s/" "$GREETING"; cat', environment: { GREETING: 'hello' }, stdin: 'world' },
      ctx,
    );
    expect(ran.outputs['stdout']).toBe('hello/world');
    await expect(
      command.create('f', { create: 'echo secret-ish >&2; exit 3', logging: 'none' }, ctx),
    ).rejects.toThrow(/^command.local.Command f: exit status 3 \(logging: none, output not shown\)$/);
  });
});

describe('the harness’s tls and archive parts', () => {
  it('makes a self-signed certificate a TLS client verifies for localhost and 127.0.0.1', async () => {
    const key = ecdsaKey('P256');
    const { certPem } = await selfSignedCert({
      privateKeyPem: key.privateKeyPem,
      subject: { commonName: 'localhost', organization: 'chatbot dev' },
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      validityPeriodHours: 24,
      allowedUses: ['digital_signature', 'key_encipherment', 'server_auth'],
    });
    const x509 = new X509Certificate(certPem);
    expect(x509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(x509.checkPrivateKey(createPrivateKey(key.privateKeyPem))).toBe(true);

    const server = createServer({ key: key.privateKeyPem, cert: certPem }, (socket) => socket.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      for (const servername of ['localhost', undefined]) {
        const socket = connect({
          host: '127.0.0.1',
          port,
          ca: certPem,
          ...(servername ? { servername } : {}),
        });
        await once(socket, 'secureConnect');
        expect(socket.authorized).toBe(true);
        socket.destroy();
      }
      // Without the certificate as a trust anchor the handshake is refused.
      const untrusted = connect({ host: '127.0.0.1', port, servername: 'localhost' });
      const [err] = (await once(untrusted, 'error')) as [Error & { code?: string }];
      expect(err.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    } finally {
      server.close();
    }
  });

  it('writes upload archives that tar reads back, long paths included', () => {
    const long = `etc/${'d'.repeat(120)}/file.conf`;
    const archive = tarOf([
      { path: '/etc/nginx/nginx.conf', content: 'events {}\n' },
      { path: long, content: 'x'.repeat(600), mode: 0o744 },
    ]);
    const listing = execFileSync('tar', ['-tvf', '-'], { input: archive, encoding: 'utf8' });
    expect(listing).toMatch(/-rw-r--r-- .* etc\/nginx\/nginx.conf/);
    expect(listing).toMatch(/-rwxr--r-- .* 600 .*file.conf/);
    expect(execFileSync('tar', ['-xOf', '-', long], { input: archive, encoding: 'utf8' })).toBe(
      'x'.repeat(600),
    );
  });
});
