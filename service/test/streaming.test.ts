// Streamed turns: the events of API.md, each delta written as the provider produces it,
// failures as `event: error` with the reply stored failed, and a client that leaves
// aborting the provider call.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { readEvents } from '@chatbot/test-kit/events';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
let t: Awaited<ReturnType<TestService['createTenant']>>;

beforeAll(async () => {
  svc = await startTestService({ env: { LLM_TIMEOUT_MS: '2500' } });
  t = await svc.createTenant();
});
afterAll(async () => svc?.close());
beforeEach(() => svc.stub.reset());

async function newSession(token = t.userToken) {
  return (await svc.request('POST', '/v1/sessions', { token, body: {} })).body.id as string;
}

function post(
  sessionId: string,
  body: Record<string, unknown>,
  init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
) {
  return fetch(`${svc.url}/v1/sessions/${sessionId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.userToken}`, 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });
}

const messagesOf = async (sessionId: string) =>
  (await svc.request('GET', `/v1/sessions/${sessionId}/messages?limit=100`, { token: t.userToken })).body
    .items;

describe('streaming a reply', () => {
  it('sends message, the deltas as they are produced, then done with the stored reply and usage', async () => {
    // The last piece leaves the stub only once the client holds the first delta: a service
    // that held deltas back would never see it (and the turn would time out).
    let firstDeltaSeen!: () => void;
    const gate = new Promise<void>((resolve) => (firstDeltaSeen = resolve));
    svc.stub.enqueue({
      kind: 'reply',
      chunks: ['Hel', 'lo ', 'there', '!'],
      holds: [undefined, undefined, undefined, gate],
    });
    const sessionId = await newSession();
    const res = await post(sessionId, { content: 'hi', stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toMatch(/^\d+$/);
    const events = await readEvents(res, (e) => {
      if (e.event === 'delta') firstDeltaSeen();
    });
    expect(events.map((e) => e.event)).toEqual(['message', 'delta', 'delta', 'delta', 'delta', 'done']);
    expect(events[0]!.data).toMatchObject({ role: 'user', content: 'hi', status: 'complete' });
    expect(events.slice(1, 5).map((e) => e.data.content)).toEqual(['Hel', 'lo ', 'there', '!']);
    const done = events[5]!.data;
    expect(done).toMatchObject({
      role: 'assistant',
      content: 'Hello there!',
      status: 'complete',
      usage: { completionTokens: 4 },
    });
    const stored = await messagesOf(sessionId);
    expect(stored.at(-1)).toEqual(done);
    expect(svc.stub.requests[0]!.body.stream_options).toEqual({ include_usage: true });
  });

  it('streams when the client asks with Accept: text/event-stream', async () => {
    const sessionId = await newSession();
    const res = await post(
      sessionId,
      { content: 'accept header' },
      { headers: { accept: 'text/event-stream' } },
    );
    const events = await readEvents(res);
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { content: 'Echo: accept header' } });
  });

  it('refuses before the stream with plain HTTP errors', async () => {
    const missing = await post('00000000-0000-4000-8000-000000000000', { content: 'x', stream: true });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
    const invalid = await post(await newSession(), { content: '', stream: true });
    expect(invalid.status).toBe(400);
  });

  it('sends event: error and stores the reply failed when the provider fails before the first byte', async () => {
    svc.stub.setDefault({ kind: 'error', status: 500 });
    const sessionId = await newSession();
    const events = await readEvents(await post(sessionId, { content: 'x', stream: true }));
    expect(events.map((e) => e.event)).toEqual(['message', 'error']);
    expect(events[1]!.data).toEqual({ code: 'upstream_error', message: expect.any(String) });
    const stored = await messagesOf(sessionId);
    expect(stored.map((m: any) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'failed'],
    ]);
  });

  it('keeps what arrived when the provider fails mid-stream', async () => {
    svc.stub.enqueue({ kind: 'drop', chunks: ['partial ', 'answer'], delayMs: 20 });
    const sessionId = await newSession();
    const events = await readEvents(await post(sessionId, { content: 'x', stream: true }));
    expect(events.map((e) => e.event)).toEqual(['message', 'delta', 'delta', 'error']);
    expect(events.at(-1)!.data.code).toBe('upstream_error');
    const stored = await messagesOf(sessionId);
    expect(stored.at(-1)).toMatchObject({ role: 'assistant', status: 'failed', content: 'partial answer' });
  });

  it('answers upstream_timeout when the provider goes quiet for LLM_TIMEOUT_MS', async () => {
    svc.stub.setDefault({ kind: 'hang' });
    const sessionId = await newSession();
    const events = await readEvents(await post(sessionId, { content: 'x', stream: true }));
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'upstream_timeout' } });
  });

  it('answers upstream_timeout when the provider stalls between pieces for LLM_TIMEOUT_MS', async () => {
    // The second piece never comes (until the test is over): only the timeout ends the call.
    let release!: () => void;
    const never = new Promise<void>((resolve) => (release = resolve));
    svc.stub.enqueue({ kind: 'reply', chunks: ['first ', 'never'], holds: [undefined, never] });
    try {
      const sessionId = await newSession();
      const events = await readEvents(await post(sessionId, { content: 'x', stream: true }));
      expect(events.map((e) => e.event)).toEqual(['message', 'delta', 'error']);
      expect(events.at(-1)!.data.code).toBe('upstream_timeout');
      expect((await messagesOf(sessionId)).at(-1)).toMatchObject({ status: 'failed', content: 'first ' });
    } finally {
      release();
    }
  });

  it('aborts the provider call when the client disconnects, storing what arrived as failed', async () => {
    // A service whose provider timeout cannot end the call first: only the client's leaving can.
    const patient = await startTestService({
      database: { url: svc.databaseUrl },
      stub: svc.stub,
      env: { LLM_TIMEOUT_MS: '600000' },
    });
    let release!: () => void;
    const never = new Promise<void>((resolve) => (release = resolve));
    try {
      const owner = await patient.createTenant();
      const sessionId = (await patient.request('POST', '/v1/sessions', { token: owner.userToken, body: {} }))
        .body.id as string;
      // Five pieces, then the provider keeps the call open without sending more.
      svc.stub.enqueue({
        kind: 'reply',
        chunks: Array.from({ length: 50 }, (_, i) => `w${i} `),
        holds: Array.from({ length: 50 }, (_, i) => (i === 5 ? never : undefined)),
      });
      const controller = new AbortController();
      const res = await fetch(`${patient.url}/v1/sessions/${sessionId}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.userToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'long one', stream: true }),
        signal: controller.signal,
      });
      let deltas = 0;
      await readEvents(res, (e) => {
        if (e.event === 'delta' && ++deltas === 3) controller.abort();
      }).catch(() => undefined);
      // The provider's connection closes only if the service aborted the call.
      await vi.waitFor(() => expect(svc.stub.openResponses()).toBe(0), { timeout: 20_000, interval: 50 });
      let last: any;
      await vi.waitFor(
        async () => {
          const items = (
            await patient.request('GET', `/v1/sessions/${sessionId}/messages`, { token: owner.userToken })
          ).body.items;
          last = items.at(-1);
          expect(last.status).not.toBe('streaming');
        },
        { timeout: 20_000, interval: 100 },
      );
      expect(last).toMatchObject({ role: 'assistant', status: 'failed' });
      expect(last.content).toMatch(/^w0 w1 w2 (w3 (w4 )?)?$/);
    } finally {
      release();
      await patient.close();
    }
  });
});
