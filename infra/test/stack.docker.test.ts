// The dev stack carried out on the local Docker engine (issue 7): the real program, with the
// dev stack's config, under Pulumi's mock runtime whose resources are created for real
// (test/e2e/). Through nginx over HTTPS: health, the web, tenants, a streamed chat turn, a
// document uploaded, ingested by an app container's worker and cited by a chat turn; an
// app container replacement that keeps the data; a blue/green deploy and a rollback under
// load without a failed request; a failing migration that leaves the running color serving.
import { run } from '@chatbot/test-kit/process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  deployedStateFromExport,
  planDeploy,
  planRollback,
  type DeployedState,
} from '../scripts/deploy-plan.ts';
import { startLoad, StackClient, type LoadReport } from './e2e/client.ts';
import { containerLogs, inspectContainer, publishedPortsAt } from './e2e/docker-engine.ts';
import { buildBrokenMigrationImage, startLlmStub, STUB_ALIAS, STUB_PORT, tokenFrom } from './e2e/fixtures.ts';
import { E2eStack, type ApplyResult } from './e2e/harness.ts';

const STUB_SLOW_DELAY_MS = 150;
const SECRETS = { openrouterApiKey: `sk-e2e-${Math.random().toString(36).slice(2)}` };

let stack: E2eStack;
let client: StackClient;
let user: { token: string };
let tenantId: string;
/** The first chat session (its messages must survive a replacement). */
let firstSession: string;
const versions: Record<string, string> = {};

/** The release's commit; the version label (its first 12 characters) differs per release. */
const commitOf = (n: number | string) => `r${n}-${stack.runId}`;

function deployedState(): DeployedState {
  return { ...deployedStateFromExport(stack.exported()), commit: stack.config['commit'] ?? '' };
}

function opsOf(result: ApplyResult, ...ops: string[]): string[] {
  return result.operations
    .filter((o) => ops.includes(o.op))
    .map((o) => o.name)
    .sort();
}

async function healthVersion(): Promise<string> {
  return (await client.json<{ version: string }>('GET', '/health', 200)).version;
}

function printLoad(what: string, report: LoadReport): void {
  const streams = report.streams.length;
  console.log(
    `[e2e] ${what}: requests sent ${report.sent}, failed ${report.failed} ` +
      `(streams ${streams}, completed ${report.streams.filter((s) => s.ok).length})` +
      (report.failures.length > 0 ? `\n  ${report.failures.join('\n  ')}` : ''),
  );
}

/** The load is flowing: its health loops have seen `version` answer five times more. */
async function loadSees(load: ReturnType<typeof startLoad>, version: string): Promise<void> {
  const seen = () => load.progress().versions.filter((v) => v.version === version).length;
  const target = seen() + 5;
  await vi.waitFor(() => expect(seen()).toBeGreaterThanOrEqual(target), { timeout: 120_000, interval: 50 });
}

/**
 * A stream held open across a switch: the stub (`stub/held:NAME`) sends its first piece and the
 * rest only when released, which the test does after the switch. Resolves once the first delta
 * arrived; `finish()` releases it and returns how the stream ended.
 */
async function heldStream(name: string) {
  const session = await client.json<{ id: string }>('POST', '/v1/sessions', 201, { ...user, body: {} });
  let firstDelta!: () => void;
  const opened = new Promise<void>((resolve) => (firstDelta = resolve));
  const result = client.stream(
    `/v1/sessions/${session.id}/messages`,
    user.token,
    { content: 'held across the switch', model: `stub/held:${name}` },
    { idleMs: 600_000, onEvent: (e) => e.event === 'delta' && firstDelta() },
  );
  await Promise.race([opened, result.then((r) => Promise.reject(new Error(`ended early: ${r.status}`)))]);
  return {
    async finish() {
      await releaseHeld(name);
      return result;
    },
  };
}

/** Lets the stub send the rest of the `stub/held:NAME` replies (it listens inside its container). */
async function releaseHeld(name: string): Promise<void> {
  const release = await run('docker', [
    'exec',
    `${stack.namePrefix}-llm-stub`,
    'node',
    '-e',
    `fetch('http://127.0.0.1:${STUB_PORT}/control/release/${name}', { method: 'POST' })` +
      '.then((r) => process.exit(r.status === 204 ? 0 : 1))',
  ]);
  expect(release.code, release.stderr).toBe(0);
}

beforeAll(async () => {
  stack = new E2eStack(
    {
      // Docker picks the ports; on 127.0.0.1 (a remote engine's interfaces in CI's dind).
      httpPort: '0',
      httpsPort: '0',
      publicBindAddress: publishedPortsAt().bindAddress,
      openrouterBaseUrl: `http://${STUB_ALIAS}:${STUB_PORT}/v1`,
      defaultModel: 'stub/echo',
      // A stream held across a deploy waits at the stub for as long as the deploy takes.
      llmTimeoutMs: '600000',
    },
    SECRETS,
  );
  // The first deploy, as the deploy script plans it for a stack that has run nothing yet.
  const first = await stack.apply(planDeploy({}, { commit: commitOf(1) }, 'blue'));
  if (first.error !== undefined) throw new Error(`the first apply failed: ${first.error}`);
  versions['1'] = commitOf(1).slice(0, 12);

  await startLlmStub({
    name: `${stack.namePrefix}-llm-stub`,
    network: `${stack.namePrefix}-net`,
    runId: stack.runId,
    slowDelayMs: STUB_SLOW_DELAY_MS,
  });

  const ports = stack.outputsOf('proxy-nginx')['ports'] as { internal: number; external: number }[];
  const cert = stack.outputsOf('proxy-tls-cert')['certPem'] as string;
  client = new StackClient({
    host: publishedPortsAt().host,
    domain: 'localhost',
    httpsPort: ports.find((p) => p.internal === 443)!.external,
    httpPort: ports.find((p) => p.internal === 80)!.external,
    ca: cert,
  });
  expect(first.outputs['url']).toBe(`https://localhost:${client.httpsPort}`);
}, 420_000);

afterAll(async () => {
  if (stack === undefined) return;
  const removed = await stack.destroy();
  console.log(`[e2e] removed ${removed.length} Docker objects of run ${stack.runId}`);
}, 180_000);

describe('the dev stack on a real Docker engine', () => {
  it('serves /health, the web page and its script over HTTPS; HTTP redirects; /metrics stays private', async () => {
    const health = await client.json<{ status: string; checks: Record<string, string>; version: string }>(
      'GET',
      '/health',
      200,
    );
    expect(health).toMatchObject({ status: 'healthy', checks: { database: 'ok', redis: 'ok' } });
    expect(health.version).toBe(versions['1']);

    const page = await client.request('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const script = /<script[^>]+src="([^"]+\.js)"/.exec(page.body)?.[1];
    expect(script, page.body).toMatch(/^\/assets\//);
    const js = await client.request('GET', script!);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.body.length).toBeGreaterThan(1000);

    const metrics = await client.request('GET', '/metrics');
    expect(metrics.status).toBe(404);
    expect(metrics.body).not.toMatch(/# (HELP|TYPE)/);

    const redirect = await client.plain('/health?x=1');
    expect(redirect.status).toBe(301);
    expect(redirect.headers['location']).toMatch(/^https:\/\/localhost(:\d+)?\/health\?x=1$/);
  });

  it('an operator token creates a tenant; a user gets a streamed reply, delta by delta', async () => {
    const app = `${stack.namePrefix}-app-blue-1`;
    const operator = await tokenFrom(app, ['--sub', 'ops', '--role', 'platform_admin']);
    const tenant = await client.json<{ id: string; slug: string }>('POST', '/v1/tenants', 201, {
      token: operator,
      body: {
        name: `E2E ${stack.runId}`,
        settings: { rateLimit: { rpm: 1_000_000, tpm: 1_000_000_000 } },
      },
    });
    tenantId = tenant.id;
    user = { token: await tokenFrom(app, ['--sub', 'alice', '--tenant', tenantId, '--role', 'user']) };
    const me = await client.json<{ sub: string; tenant: { id: string } }>('GET', '/v1/me', 200, user);
    expect(me).toMatchObject({ sub: 'alice', tenant: { id: tenantId } });

    const session = await client.json<{ id: string }>('POST', '/v1/sessions', 201, {
      ...user,
      body: { title: 'first' },
    });
    firstSession = session.id;
    const words = Array.from({ length: 20 }, (_, i) => `word${i}`).join(' ');
    // The stub sends the first piece and holds the rest until the client has it: through a
    // buffering proxy the first delta would never arrive, and the turn would never end.
    const name = `first-${stack.runId}`;
    let released: Promise<void> | undefined;
    const res = await client.stream(
      `/v1/sessions/${session.id}/messages`,
      user.token,
      { content: words, model: `stub/held:${name}` },
      {
        onEvent: (e) => {
          if (e.event === 'delta') released ??= releaseHeld(name);
        },
      },
    );
    await released;
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    const deltas = res.events.filter((e) => e.event === 'delta');
    const done = res.events.find((e) => e.event === 'done');
    expect(res.events[0]?.event).toBe('message');
    expect(done).toBeDefined();
    expect(deltas.map((d) => (JSON.parse(d.data) as { content: string }).content).join('')).toBe(
      `Echo: ${words}`,
    );
    expect(deltas.length).toBe(21);
    console.log(`[e2e] stream: first delta after ${deltas[0]!.at} ms, done after ${done!.at} ms`);
  }, 60_000);

  it('a tenant admin uploads a document to a knowledge base; once ready, a chat turn cites it', async () => {
    const app = `${stack.namePrefix}-app-blue-1`;
    const admin = {
      token: await tokenFrom(app, ['--sub', 'admin', '--tenant', tenantId, '--role', 'tenant_admin']),
    };
    const base = await client.json<{ id: string }>('POST', '/v1/knowledge-bases', 201, {
      ...admin,
      body: { name: 'Handbook' },
    });
    // Through nginx to the uploads volume; ingested by a worker of an app container, embedded
    // by the stub's /v1/embeddings.
    const form = new FormData();
    const text = '# Warranty\n\nThe zebra-42 kettle carries a warranty of seven years.\n';
    form.append('file', new Blob([text], { type: 'text/markdown' }), 'handbook.md');
    const document = await client.json<{ id: string; status: string }>(
      'POST',
      `/v1/knowledge-bases/${base.id}/documents`,
      202,
      { ...admin, form },
    );
    expect(document.status).toBe('queued');
    await vi.waitFor(
      async () => {
        const now = await client.json<{ status: string; error: string | null }>(
          'GET',
          `/v1/knowledge-bases/${base.id}/documents/${document.id}`,
          200,
          admin,
        );
        expect(now.error).toBeNull();
        expect(now.status).toBe('ready');
      },
      { timeout: 120_000, interval: 500 },
    );
    await client.json('PATCH', `/v1/tenants/${tenantId}`, 200, {
      ...admin,
      body: { settings: { knowledgeBases: [base.id] } },
    });

    const session = await client.json<{ id: string }>('POST', '/v1/sessions', 201, { ...user, body: {} });
    const res = await client.stream(`/v1/sessions/${session.id}/messages`, user.token, {
      content: 'How long is the zebra-42 warranty?',
    });
    expect(res.status).toBe(200);
    const names = res.events.map((e) => e.event);
    expect(names.indexOf('sources')).toBeGreaterThan(-1);
    expect(names.indexOf('sources')).toBeLessThan(names.indexOf('delta'));
    const { sources } = JSON.parse(res.events.find((e) => e.event === 'sources')!.data) as {
      sources: { documentId: string; documentName: string; content: string }[];
    };
    expect(sources[0]).toMatchObject({ documentId: document.id, documentName: 'handbook.md' });
    expect(sources[0]!.content).toContain('seven years');
    // The stored reply keeps its citations.
    const stored = await client.json<{ items: { role: string; sources?: { documentId: string }[] }[] }>(
      'GET',
      `/v1/sessions/${session.id}/messages`,
      200,
      user,
    );
    const reply = stored.items.find((m) => m.role === 'assistant');
    expect(reply?.sources?.map((s) => s.documentId)).toContain(document.id);
    // Later tests' turns go without retrieval, as before.
    await client.json('PATCH', `/v1/tenants/${tenantId}`, 200, {
      ...admin,
      body: { settings: { knowledgeBases: null } },
    });
  }, 180_000);

  it('keeps the data when the app containers are replaced (a new app setting)', async () => {
    const before = { blue: stack.idOf('app-blue-1'), green: stack.idOf('app-green-1') };
    const result = await stack.apply({ logLevel: 'info' });
    expect(result.error).toBeUndefined();
    // An environment change replaces both colors (README.md, "Deploys, switches and rollbacks"); data and nginx stay.
    expect(opsOf(result, 'replace')).toEqual(['app-blue-1', 'app-green-1', 'proxy-switch']);
    expect(opsOf(result, 'create', 'delete')).toEqual([]);
    expect(stack.idOf('app-blue-1')).not.toBe(before.blue);
    expect(stack.idOf('app-green-1')).not.toBe(before.green);

    const messages = await client.json<{ items: { role: string; content: string; status: string }[] }>(
      'GET',
      `/v1/sessions/${firstSession}/messages`,
      200,
      user,
    );
    expect(messages.items.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    expect(messages.items[1]!.content).toMatch(/^Echo: word0 /);
  }, 300_000);

  it('deploys a new release blue/green under load: the idle color comes up, nginx switches, nothing fails', async () => {
    const state = deployedState();
    expect(state.activeColor).toBe('blue');
    const changes = planDeploy(state, { commit: commitOf(2) }, 'blue');
    expect(changes).toMatchObject({ activeColor: 'green', blueImage: state.blueImage, greenImage: '' });
    versions['2'] = commitOf(2).slice(0, 12);
    const blueBefore = stack.idOf('app-blue-1');

    const load = startLoad(client, user, { maxMs: 300_000, streamWords: 12 });
    await loadSees(load, versions['1']!);
    const held = await heldStream(`deploy-${stack.runId}`);
    const result = await stack.apply(changes);
    await loadSees(load, versions['2']!);
    const across = await held.finish();
    const report = await load.stop();
    printLoad('deploy (blue -> green)', report);

    expect(result.error).toBeUndefined();
    expect(opsOf(result, 'replace')).toEqual([
      'app-green-1',
      'app-green-web-fill',
      'app-image-build',
      'migrations-migrate',
      'proxy-switch',
    ]);
    expect(stack.idOf('app-blue-1')).toBe(blueBefore);
    // The idle color came up healthy with the new image; the old one still runs (the rollback).
    const green = await inspectContainer(stack.idOf('app-green-1')!);
    expect(green.State.Health?.Status).toBe('healthy');
    expect(green.Image).toBe(result.outputs['imageRef']);
    expect((await inspectContainer(blueBefore!)).State.Running).toBe(true);
    expect(await healthVersion()).toBe(versions['2']);
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    // A stream that was open when the switch happened (answered by the old color) finished.
    expect(across.status).toBe(200);
    expect(across.events.map((e) => e.event).at(-1)).toBe('done');
  }, 420_000);

  it('rolls back under load: only the switch runs, nothing fails', async () => {
    const state = deployedState();
    expect(state.activeColor).toBe('green');
    const changes = planRollback(state);
    expect(changes.activeColor).toBe('blue');

    const load = startLoad(client, user, { maxMs: 180_000, streamWords: 12 });
    await loadSees(load, versions['2']!);
    const held = await heldStream(`rollback-${stack.runId}`);
    const result = await stack.apply(changes);
    await loadSees(load, versions['1']!);
    const across = await held.finish();
    const report = await load.stop();
    printLoad('rollback (green -> blue)', report);

    expect(result.error).toBeUndefined();
    // No container and no migration: the local build is no longer declared (the release is
    // the pinned image), and the switch reruns.
    expect(opsOf(result, 'replace', 'create')).toEqual(['proxy-switch']);
    expect(await healthVersion()).toBe(versions['1']);
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    expect(across.status).toBe(200);
    expect(across.events.map((e) => e.event).at(-1)).toBe('done');
  }, 300_000);

  it('a failing migration fails the apply and the running color keeps serving', async () => {
    const broken = `${stack.namePrefix}-app:broken-migration`;
    await buildBrokenMigrationImage(`${stack.namePrefix}-app:${commitOf(2)}`, broken, stack.runId);
    const state = deployedState();
    expect(state.activeColor).toBe('blue');
    const greenBefore = stack.idOf('app-green-1');

    const load = startLoad(client, user, { maxMs: 180_000, streamWords: 6 });
    await loadSees(load, versions['1']!);
    const result = await stack.apply(
      planDeploy(state, { image: broken, commit: commitOf('broken') }, 'blue'),
    );
    await loadSees(load, versions['1']!);
    const report = await load.stop();
    printLoad('failed deploy (broken migration)', report);

    expect(result.error).toMatch(/migrations-migrate: exit status [1-9]/);
    // It failed for the reason built in: the one-off container is kept for `docker logs`.
    expect(await containerLogs(`${stack.namePrefix}-migrate`, 200)).toMatch(/e2e_table_that_does_not_exist/);
    expect(opsOf(result, 'replace', 'create', 'delete')).toEqual([]);
    expect(stack.idOf('app-green-1')).toBe(greenBefore);
    expect(await healthVersion()).toBe(versions['1']);
    expect(report.failed).toBe(0);
    const session = await client.json<{ id: string }>('POST', '/v1/sessions', 201, { ...user, body: {} });
    const turn = await client.json<{ reply: { content: string; status: string } }>(
      'POST',
      `/v1/sessions/${session.id}/messages`,
      201,
      { ...user, body: { content: 'still there?' } },
    );
    expect(turn.reply).toMatchObject({ status: 'complete', content: 'Echo: still there?' });
  }, 300_000);
});
