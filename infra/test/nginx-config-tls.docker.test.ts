// TLS of the dev stack audited (issue 16, item 13): testssl.sh (Debian's package) against a
// real nginx (the image the stacks run) with the dev stack's rendered configuration, on
// loopback. The certificate is the dev stack's kind (ECDSA P-256 for localhost, a year), issued
// by a test CA that testssl.sh is told to trust (--add-ca), so the audit judges the server's
// TLS configuration rather than a self-signed certificate. Nothing may be rated HIGH or
// CRITICAL; the summary is printed.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniqueName } from '@chatbot/test-kit/docker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NGINX_PATHS } from '../nginx-config.ts';
import { declared, engineHost, nginxContainers, startNginx } from './support/nginx-container.ts';
import { runStack } from './support/stack.ts';
import { makeIssuedCertificate } from './support/test-cert.ts';

const exec = promisify(execFile);
const TESTSSL = process.env['TESTSSL'] ?? 'testssl';

const containers = nginxContainers(uniqueName('chatbot-infra-tls'));
const { prefix } = containers;
let workDir = '';

/** testssl.sh from Debian's package: installed here with apt-get when missing (as root). */
async function ensureTestssl(): Promise<void> {
  const found = await exec(TESTSSL, ['--version'], { timeout: 60_000 }).then(
    () => true,
    () => false,
  );
  if (found) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      'testssl.sh is not installed: apt-get install testssl.sh (Debian package), or set TESTSSL',
    );
  }
  const install = () =>
    exec('apt-get', ['install', '-y', '--no-install-recommends', 'testssl.sh'], {
      timeout: 600_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  await install().catch(async () => {
    await exec('apt-get', ['update'], { timeout: 600_000 });
    await install();
  });
}

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'chatbot-testssl-'));
  await ensureTestssl();
}, 900_000);
afterAll(async () => {
  await containers.cleanup();
  if (workDir !== '') await rm(workDir, { recursive: true, force: true });
});

describe('TLS of the dev stack', () => {
  it('TLS of the dev stack audited with testssl.sh: no finding rated HIGH or CRITICAL', async () => {
    const run = await runStack('dev', { config: { namePrefix: prefix } });
    expect(run.error).toBeUndefined();
    const d = declared(run);
    const cert = await makeIssuedCertificate(d.domain, [d.domain, 'localhost']);
    const network = await containers.network(`${prefix}-net`);
    const { base } = await startNginx(containers, d, {
      name: `${prefix}-nginx`,
      network,
      upstream: d.bootstrap,
      cert,
      files: { [`${NGINX_PATHS.webRoot}/blue/index.html`]: '<!doctype html><title>chat</title>' },
    });
    const port = new URL(base).port;
    const caFile = join(workDir, 'ca.pem');
    const jsonFile = join(workDir, 'testssl.json');
    await writeFile(caFile, cert.caPem);

    const started = performance.now();
    // testssl.sh exits with the number of failed checks; its JSON says what it found.
    const { stdout } = await exec(
      TESTSSL,
      [
        '--quiet',
        '--color',
        '0',
        '--warnings',
        'off',
        '--nodns',
        'none',
        '--ip',
        engineHost(),
        '--add-ca',
        caFile,
        '--jsonfile',
        jsonFile,
        `https://${d.domain}:${port}/`,
      ],
      { timeout: 900_000, maxBuffer: 64 * 1024 * 1024 },
    ).catch((error: { stdout?: string; code?: unknown }) => {
      if (typeof error.code === 'number' && error.stdout !== undefined) return { stdout: error.stdout };
      throw error;
    });
    const seconds = Math.round((performance.now() - started) / 1000);
    const findings = JSON.parse(await readFile(jsonFile, 'utf8')) as Finding[];

    const bySeverity = new Map<string, number>();
    for (const f of findings) bySeverity.set(f.severity, (bySeverity.get(f.severity) ?? 0) + 1);
    const notable = findings.filter((f) => !['OK', 'INFO', 'DEBUG'].includes(f.severity));
    process.stdout.write(
      [
        `testssl.sh on ${d.domain}:${port} (dev stack's nginx) in ${seconds} s: ` +
          [...bySeverity].map(([severity, n]) => `${severity} ${n}`).join(', '),
        ...notable.map((f) => `  ${f.severity.padEnd(8)} ${f.id}: ${f.finding}`),
        '',
      ].join('\n'),
    );
    expect(findings.length, stdout).toBeGreaterThan(20);
    // The handshake worked: protocols were judged, and the chain verified against the test CA.
    expect(findings.find((f) => f.id === 'TLS1_3')?.finding).toMatch(/^offered/);
    expect(findings.find((f) => f.id === 'TLS1')?.finding).toMatch(/^not offered/);
    expect(findings.find((f) => f.id === 'cert_chain_of_trust')?.severity).toBe('OK');
    expect(findings.filter((f) => f.severity === 'HIGH' || f.severity === 'CRITICAL')).toEqual([]);
  }, 900_000);
});
