// Edge limits in nginx (issue 16, item 7), on a running nginx with the dev stack's rendered
// configuration (small limits set through the stack config spec): a flooding client address
// gets 429 in the API's error shape beyond its burst (limit_req) and beyond its open requests
// (limit_conn), while another address is still served. Outcomes are decided by what nginx
// answers, never by timing: the count admitted is checked against the rate over the time the
// flood really took.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { docker, uniqueName } from '@chatbot/test-kit/docker';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  containerLogs,
  DAEMON,
  declared,
  get,
  nginxContainers,
  startNginx,
  type Declared,
} from './support/nginx-container.ts';
import { runStack } from './support/stack.ts';
import { makeTestCertificate, type TestCertificate } from './support/test-cert.ts';

const containers = nginxContainers(uniqueName('chatbot-infra-limits'));
const { prefix } = containers;
const network = `${prefix}-net`;
/** Another client address: a container on the stack's network, asking nginx by its name. */
const otherClient = `${prefix}-app-green-1`;

let cert: TestCertificate;

/** Stand-ins for the app: /v1/slow takes minutes (1 byte a second, headers too); the rest answers at once. */
const STAND_IN = [
  'server {',
  '  listen 8000;',
  '  default_type application/json;',
  `  location = /v1/slow { limit_rate 1; return 200 '{"slow":true}'; }`,
  `  location / { return 200 '{"uri":"$request_uri"}'; }`,
  '}',
  '',
].join('\n');

/** The dev stack's nginx with these edge limits, in front of the stand-ins. */
async function nginxWith(
  name: string,
  limits: { edgeRequestsPerSecond: string; edgeRequestBurst: string; edgeConnections: string },
): Promise<{ base: string; d: Declared }> {
  const run = await runStack('dev', { config: { namePrefix: prefix, ...limits } });
  expect(run.error).toBeUndefined();
  const d = declared(run);
  const { base } = await startNginx(containers, d, { name, network, upstream: d.upstream, cert });
  return { base, d };
}

/** GET from the other client address (curl in a container of the network): the status. */
async function statusFromOtherAddress(nginx: string, path: string): Promise<number> {
  const out = await docker([
    'exec',
    otherClient,
    'curl',
    '-sk',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    `https://${nginx}${path}`,
  ]);
  return Number(out);
}

beforeAll(async () => {
  cert = await makeTestCertificate('localhost', ['localhost']);
  await containers.network(network);
  const run = await runStack('dev', { config: { namePrefix: prefix } });
  const image = declared(run).image;
  for (const color of ['blue', 'green']) {
    await containers.runWithFiles(
      image,
      `${prefix}-app-${color}-1`,
      { '/etc/nginx/conf.d/default.conf': STAND_IN },
      DAEMON,
      ['-d', '--network', network],
    );
  }
});
afterAll(() => containers.cleanup());

describe('edge limits in nginx', () => {
  it('edge limits in nginx: beyond its burst the flooding address gets 429 rate_limited with Retry-After, and another address is still served', async () => {
    const nginx = `${prefix}-nginx-rate`;
    const rate = 1;
    const burst = 5;
    const { base } = await nginxWith(nginx, {
      edgeRequestsPerSecond: String(rate),
      edgeRequestBurst: String(burst),
      edgeConnections: '100',
    });
    // One keep-alive connection, one request after the other, until nginx refuses one.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      let admitted = 0;
      let refused: Awaited<ReturnType<typeof get>> | undefined;
      const started = performance.now();
      for (let i = 0; i < 1000 && refused === undefined; i++) {
        const res = await get(`${base}/v1/sessions`, cert.certificatePem, agent);
        if (res.status === 200) admitted++;
        else refused = res;
      }
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(
        `edge rate limit (${rate} r/s, burst ${burst}): ${admitted} admitted in ${seconds.toFixed(2)} s, ${refused === undefined ? 'and no 429' : 'then 429'}\n`,
      );
      expect(refused?.status).toBe(429);
      // The burst goes through at once; beyond it, no more than the rate over the time taken.
      expect(admitted).toBeGreaterThanOrEqual(burst + 1);
      expect(admitted).toBeLessThanOrEqual(burst + 1 + Math.ceil(seconds * rate) + 1);
      expect(refused?.headers['retry-after']).toBe('1');
      expect(refused?.headers['content-type']).toBe('application/json');
      expect(refused?.headers['x-content-type-options']).toBe('nosniff');
      expect(JSON.parse(refused?.body ?? '')).toEqual({
        error: { code: 'rate_limited', message: expect.any(String) },
      });
      // Another address has a budget of its own; health is not limited at all.
      expect(await statusFromOtherAddress(nginx, '/v1/sessions')).toBe(200);
      expect((await get(`${base}/health`, cert.certificatePem, agent)).status).toBe(200);
      expect(await containerLogs(nginx)).toMatch(/limiting requests, excess: .* by zone "chatbot_edge_rate"/);
    } finally {
      agent.destroy();
    }
  });

  it('edge limits in nginx: an address with its open requests at the limit gets 429 for one more, another address does not, and the slots come back', async () => {
    const nginx = `${prefix}-nginx-conn`;
    const connections = 2;
    const { base } = await nginxWith(nginx, {
      edgeRequestsPerSecond: '1000',
      edgeRequestBurst: '1000',
      edgeConnections: String(connections),
    });
    const url = new URL(base);
    // Requests the stand-in answers slowly, each on a connection of its own, held open. One
    // that fails on its way (a loaded machine's TLS handshake, say) is sent again, and said:
    // the limit is tested with `connections` requests open, however long opening them takes.
    const problems: string[] = [];
    const openSlow = () => {
      const req = request({
        host: url.hostname,
        port: url.port,
        path: '/v1/slow',
        headers: { host: 'localhost' },
        ca: cert.certificatePem,
        servername: 'localhost',
        agent: false,
      });
      req.on('error', (error) => problems.push(error.message));
      req.end();
      return req;
    };
    const slow = Array.from({ length: connections }, openSlow);
    const probe = async () =>
      (await get(`${base}/v1/sessions?probe=${randomBytes(2).toString('hex')}`, cert.certificatePem)).status;
    try {
      // Until nginx has both open, a probe is served; then it is one too many.
      await vi.waitFor(
        async () => {
          for (const [i, req] of slow.entries()) if (req.destroyed) slow[i] = openSlow();
          expect(await probe()).toBe(429);
        },
        { timeout: 120_000, interval: 100 },
      );
      if (problems.length > 0)
        process.stdout.write(`slow requests sent again after: ${problems.join('; ')}\n`);
      const logs = await containerLogs(nginx);
      expect(logs).toMatch(/limiting connections by zone "chatbot_edge_conn"/);
      expect(logs).not.toMatch(/limiting requests/);
      expect(await statusFromOtherAddress(nginx, '/v1/sessions')).toBe(200);
    } finally {
      for (const req of slow) req.destroy();
    }
    // Once the client leaves, nginx gives the slots back.
    await vi.waitFor(async () => expect(await probe()).toBe(200), { timeout: 60_000, interval: 100 });
  });
});
