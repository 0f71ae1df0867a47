// The nginx configuration each stack declares, checked by the nginx the stacks run
// (nginx:1.28-bookworm): `nginx -t` for every stack and both colors (and with orchestrator
// swarm, see swarm.docker.test.ts for it running on a swarm), then a running nginx
// with the dev stack's configuration in front of two stand-in app containers, switched
// between them by the switch command's own script.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { docker, uniqueName } from '@chatbot/test-kit/docker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NGINX_PATHS } from '../nginx-config.ts';
import { SWITCH_SCRIPT } from '../proxy.ts';
import {
  DAEMON,
  declared,
  declaredSwarm,
  get,
  nginxContainers,
  startNginx,
  type Declared,
} from './support/nginx-container.ts';
import { runStack, STACKS, swarmSettings, type StackName } from './support/stack.ts';
import { makeTestCertificate, type TestCertificate } from './support/test-cert.ts';

const containers = nginxContainers(uniqueName('chatbot-infra-nginx'));
const { prefix, runWithFiles } = containers;

/** `nginx -t` of the main config with the given upstream file; the upstream's hosts resolve to loopback. */
async function nginxTest(
  d: Declared,
  upstream: string,
  cert: TestCertificate,
  resolve = true,
): Promise<string> {
  const hosts = resolve ? [...upstream.matchAll(/server (\S+):\d+/g)].map((m) => m[1] ?? '') : [];
  const files = {
    [NGINX_PATHS.config]: d.config,
    [NGINX_PATHS.upstream]: upstream,
    [d.certificate]: cert.certificatePem,
    [d.key]: cert.privateKeyPem,
  };
  const name = `${prefix}-t-${randomBytes(3).toString('hex')}`;
  const addHosts = hosts.flatMap((h) => ['--add-host', `${h}:127.0.0.1`]);
  try {
    return await runWithFiles(d.image, name, files, 'nginx -t 2>&1', ['--rm', ...addHosts]);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`nginx -t failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

afterAll(() => containers.cleanup());

describe('nginx -t of each stack’s configuration', () => {
  const runs = {} as Record<`${StackName}-${'blue' | 'green'}`, Declared>;
  beforeAll(async () => {
    await Promise.all(
      STACKS.flatMap((stack) =>
        (['blue', 'green'] as const).map(async (color) => {
          const result = await runStack(stack, { config: { activeColor: color } });
          expect(result.error).toBeUndefined();
          runs[`${stack}-${color}`] = declared(result);
        }),
      ),
    );
  });

  for (const stack of STACKS) {
    for (const color of ['blue', 'green'] as const) {
      it(`accepts the ${stack} stack with ${color} active`, async () => {
        const d = runs[`${stack}-${color}`];
        expect(d.image).toBe('nginx:1.28-bookworm');
        expect(d.upstream).toContain(`-app-${color}-1:8000`);
        const cert = await makeTestCertificate(d.domain, [d.domain, 'localhost']);
        expect(await nginxTest(d, d.upstream, cert)).toContain('test is successful');
      });
    }
  }

  for (const stack of STACKS) {
    it(`accepts the ${stack} stack with orchestrator swarm (the app's tasks through Docker's DNS)`, async () => {
      const result = await runStack(stack, { config: swarmSettings(stack) });
      expect(result.error).toBeUndefined();
      const d = declaredSwarm(result);
      expect(d.image).toBe('nginx:1.28-bookworm');
      expect(d.config).toContain(`map $host $chatbot_app { default tasks.chatbot-${stack}-app:8000; }`);
      const cert = await makeTestCertificate(d.domain, [d.domain, 'localhost']);
      // No upstream file and no name to resolve when nginx starts: the tasks are looked up per request.
      expect(await nginxTest(d, '', cert, false)).toContain('test is successful');
    });
  }

  it('accepts the upstream nginx starts with, before the first switch', async () => {
    const d = runs['dev-blue'];
    const cert = await makeTestCertificate(d.domain, [d.domain]);
    expect(await nginxTest(d, d.bootstrap, cert)).toContain('test is successful');
  });

  it('refuses an upstream whose containers do not exist (why the switch waits for them)', async () => {
    const d = runs['production-green'];
    const cert = await makeTestCertificate(d.domain, [d.domain]);
    await expect(nginxTest(d, d.upstream, cert, false)).rejects.toThrow(/host not found in upstream/);
  });
});

/** The switch command's script, run as the Command resource runs it: sh -c, stdin, environment. */
function runSwitch(nginx: string, upstream: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', SWITCH_SCRIPT], {
      env: { ...process.env, NGINX_CONTAINER: nginx },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stderr }));
    child.stdin.end(upstream);
  });
}

describe('a running nginx with the dev stack’s configuration', () => {
  const network = `${prefix}-net`;
  const nginx = `${prefix}-nginx`;
  let base = '';
  let plain = '';
  let d: Declared;
  let greenUpstream = '';
  let cert: TestCertificate;

  beforeAll(async () => {
    const [blueRun, greenRun] = await Promise.all([
      runStack('dev', { config: { namePrefix: prefix } }),
      runStack('dev', { config: { namePrefix: prefix, activeColor: 'green' } }),
    ]);
    d = declared(blueRun);
    greenUpstream = declared(greenRun).upstream;
    cert = await makeTestCertificate('localhost', ['localhost']);

    await containers.network(network);
    // Stand-ins for the app containers: answer with their color on the app's port.
    for (const color of ['blue', 'green']) {
      const conf = `server { listen 8000; default_type application/json; location / { return 200 '{"color":"${color}","uri":"$request_uri"}'; } }\n`;
      await runWithFiles(
        d.image,
        `${prefix}-app-${color}-1`,
        { '/etc/nginx/conf.d/default.conf': conf },
        DAEMON,
        ['-d', '--network', network],
      );
    }
    ({ base, plain } = await startNginx(containers, d, {
      name: nginx,
      network,
      upstream: d.bootstrap,
      cert,
      files: {
        [`${NGINX_PATHS.webRoot}/blue/index.html`]: '<!doctype html><title>blue build</title>',
        [`${NGINX_PATHS.webRoot}/green/index.html`]: '<!doctype html><title>green build</title>',
        [`${NGINX_PATHS.webRoot}/green/assets/index-0ld.js`]: 'console.log("from the previous build")',
      },
    }));
  });

  it('routes the API nowhere before the first switch', async () => {
    expect((await get(`${base}/health`, cert.certificatePem)).status).toBe(502);
  });

  it('sends /health and /v1 to the active color after the switch, and the web UI from its volume', async () => {
    expect(await runSwitch(nginx, d.upstream)).toEqual({ code: 0, stderr: '' });
    const health = await get(`${base}/health`, cert.certificatePem);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ color: 'blue', uri: '/health' });
    expect(JSON.parse((await get(`${base}/v1/sessions?limit=5`, cert.certificatePem)).body)).toMatchObject({
      color: 'blue',
    });
    const page = await get(`${base}/sessions/42`, cert.certificatePem);
    expect(page.status).toBe(200);
    expect(page.body).toContain('blue build');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['strict-transport-security']).toBeUndefined();
  });

  it('serves content-hashed assets of the previous build from the idle color, cached for a year', async () => {
    const asset = await get(`${base}/assets/index-0ld.js`, cert.certificatePem);
    expect(asset.status).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await get(`${base}/assets/missing-123.js`, cert.certificatePem)).status).toBe(404);
  });

  it('does not expose /metrics', async () => {
    for (const path of ['/metrics', '/metrics/', '/v1/../metrics']) {
      const res = await get(`${base}${path}`, cert.certificatePem);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('color');
    }
  });

  it('redirects plain HTTP to HTTPS on the published port', async () => {
    const res = await get(`${plain}/sessions?x=1`);
    expect(res.status).toBe(301);
    expect(res.headers['location']).toBe('https://localhost:8443/sessions?x=1');
  });

  it('switches to the other color with a reload, in the same nginx container', async () => {
    const id = await docker(['inspect', '--format', '{{.Id}}', nginx]);
    expect(await runSwitch(nginx, greenUpstream)).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse((await get(`${base}/health`, cert.certificatePem)).body)).toMatchObject({
      color: 'green',
    });
    expect((await get(`${base}/`, cert.certificatePem)).body).toContain('green build');
    expect(await docker(['inspect', '--format', '{{.Id}}', nginx])).toBe(id);
  });

  it('keeps the active color when nginx refuses a new upstream', async () => {
    const broken = greenUpstream.replaceAll(`${prefix}-app-green-1`, `${prefix}-app-purple-1`);
    const result = await runSwitch(nginx, broken);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('nginx refused the new upstream; the previous one stays active');
    expect(JSON.parse((await get(`${base}/health`, cert.certificatePem)).body)).toMatchObject({
      color: 'green',
    });
  });
});
