// Issue 16, item 11: a non-streamed call that outlives nginx's read timeout. nginx then closes
// its connection to the app (and answers 504 to its client, who retries): the app must abort
// the provider call (the signal reaches it) and leave nothing of the turn, so the retry with
// the same Idempotency-Key stores one turn. The test closes the connection as nginx does,
// once the call is held at the stub; no clock decides anything.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { postOnOwnConnection, startTestService, type TestService } from './support/harness.ts';

let svc: TestService;

beforeAll(async () => {
  // The provider's own timeout far away: only an abort ends a held call here.
  svc = await startTestService({ env: { LLM_TIMEOUT_MS: '600000' } });
});
afterAll(async () => svc?.close());

/** A POST on a connection of its own, which the test can close the way nginx does. */
const post = (path: string, token: string, body: unknown, headers: Record<string, string> = {}) =>
  postOnOwnConnection(`${svc.url}${path}`, { authorization: `Bearer ${token}`, ...headers }, body);

/** Holds every model call at the stub until `release`. */
function holdCalls() {
  let release!: () => void;
  svc.stub.setDefault({ kind: 'reply', hold: new Promise<void>((resolve) => (release = resolve)) });
  return () => {
    release();
    svc.stub.setDefault({ kind: 'reply' });
  };
}

describe('a non-streamed call that outlives nginx’s read timeout', () => {
  it('a non-streamed call that outlives nginx’s read timeout is aborted, and its retry with the same Idempotency-Key stores one turn', async () => {
    const t = await svc.createTenant();
    const session = (await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} })).body.id;
    const path = `/v1/sessions/${session}/messages`;
    const headers = { 'idempotency-key': 'retried-after-504' };
    const body = { content: 'a question that takes long' };
    svc.stub.reset();
    const release = holdCalls();
    try {
      const first = post(path, t.userToken, body, headers);
      await vi.waitFor(() => expect(svc.stub.openResponses()).toBe(1), { timeout: 30_000 });
      // nginx's proxy_read_timeout passes: it closes the connection to the app.
      first.request.destroy();
      expect(await first.answered).toBe(0);
      // The app aborts the provider call: the stub sees its request go while still holding it.
      await vi.waitFor(() => expect(svc.stub.openResponses()).toBe(0), { timeout: 30_000 });
      // The aborted turn left nothing (it was withdrawn before the key was released).
      await vi.waitFor(
        async () => {
          const listed = await svc.request('GET', `${path}?limit=100`, { token: t.userToken });
          expect(listed.body.items).toEqual([]);
        },
        { timeout: 30_000 },
      );
    } finally {
      release();
    }

    // The client retries with the same key: the model answers this time.
    const retry = await svc.request('POST', path, { token: t.userToken, body, headers });
    expect(retry.status).toBe(201);
    expect(retry.body.reply.content).toBe(`Echo: ${body.content}`);
    // Once more: the completed result, without another provider call.
    const again = await svc.request('POST', path, { token: t.userToken, body, headers });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(retry.body);
    expect(svc.stub.requests).toHaveLength(2);

    const listed = await svc.request('GET', `${path}?limit=100`, { token: t.userToken });
    expect(listed.body.items.map((m: { role: string; status: string }) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
    // The aborted call still counted as a request in the day's usage.
    const usage = await svc.request('GET', '/v1/usage', { token: t.adminToken });
    expect(usage.body.items.reduce((n: number, d: { requests: number }) => n + d.requests, 0)).toBe(2);
  });

  it('a non-streamed call that outlives nginx’s read timeout is aborted on /v1/chat/completions too', async () => {
    const t = await svc.createTenant();
    svc.stub.reset();
    const release = holdCalls();
    try {
      const first = post('/v1/chat/completions', t.userToken, {
        model: 'test/model',
        messages: [{ role: 'user', content: 'a stateless question that takes long' }],
      });
      await vi.waitFor(() => expect(svc.stub.openResponses()).toBe(1), { timeout: 30_000 });
      first.request.destroy();
      await vi.waitFor(() => expect(svc.stub.openResponses()).toBe(0), { timeout: 30_000 });
    } finally {
      release();
    }
  });
});
