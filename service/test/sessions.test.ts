// Sessions, messages and chat turns.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
type Tenant = Awaited<ReturnType<TestService['createTenant']>>;
let t: Tenant;
let bobToken: string;

beforeAll(async () => {
  svc = await startTestService({ env: { LLM_TIMEOUT_MS: '2000' } });
  t = await svc.createTenant();
  bobToken = await t.tokenFor('bob');
});
afterAll(async () => svc?.close());
beforeEach(() => svc.stub.reset());

const newSession = async (token = t.userToken, title?: string) =>
  (await svc.request('POST', '/v1/sessions', { token, body: title === undefined ? {} : { title } })).body;
const send = (sessionId: string, body: Record<string, unknown>, token = t.userToken) =>
  svc.request('POST', `/v1/sessions/${sessionId}/messages`, { token, body });
const messagesOf = async (sessionId: string, token = t.userToken) =>
  (await svc.request('GET', `/v1/sessions/${sessionId}/messages?limit=100`, { token })).body.items;

describe('sessions', () => {
  it('creates, reads, lists newest first and deletes a session', async () => {
    const first = await newSession(t.userToken, 'First');
    const second = await newSession(t.userToken, 'Second');
    expect(first).toEqual({
      id: expect.any(String),
      title: 'First',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const got = await svc.request('GET', `/v1/sessions/${first.id}`, { token: t.userToken });
    expect(got.body).toEqual(first);
    const list = await svc.request('GET', '/v1/sessions', { token: t.userToken });
    const ids = list.body.items.map((s: { id: string }) => s.id);
    expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id));
    expect((await svc.request('DELETE', `/v1/sessions/${first.id}`, { token: t.userToken })).status).toBe(
      204,
    );
    expect((await svc.request('GET', `/v1/sessions/${first.id}`, { token: t.userToken })).status).toBe(404);
  });

  it('pages sessions with a cursor, without repeats or gaps', async () => {
    const owner = await t.tokenFor(`pager-${Date.now()}`);
    const created = [];
    for (let i = 0; i < 5; i++) created.push((await newSession(owner, `s${i}`)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await svc.request('GET', `/v1/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
        token: owner,
      });
      seen.push(...res.body.items.map((s: { id: string }) => s.id));
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual([...created].reverse());
  });

  it("answers 404 for another user's session and lets a tenant admin read or delete it", async () => {
    const bobs = await newSession(bobToken, 'Bob');
    expect((await svc.request('GET', `/v1/sessions/${bobs.id}`, { token: t.userToken })).status).toBe(404);
    expect(
      (await svc.request('GET', `/v1/sessions/${bobs.id}/messages`, { token: t.userToken })).status,
    ).toBe(404);
    expect((await svc.request('DELETE', `/v1/sessions/${bobs.id}`, { token: t.userToken })).status).toBe(404);
    const aliceList = await svc.request('GET', '/v1/sessions?limit=100', { token: t.userToken });
    expect(aliceList.body.items.map((s: { id: string }) => s.id)).not.toContain(bobs.id);

    expect((await svc.request('GET', `/v1/sessions/${bobs.id}`, { token: t.adminToken })).status).toBe(200);
    expect(
      (await svc.request('GET', `/v1/sessions/${bobs.id}/messages`, { token: t.adminToken })).status,
    ).toBe(200);
    const all = await svc.request('GET', '/v1/sessions?all=true&limit=100', { token: t.adminToken });
    expect(all.body.items.map((s: { id: string }) => s.id)).toContain(bobs.id);
    expect((await svc.request('GET', '/v1/sessions?all=true', { token: t.userToken })).status).toBe(403);
    expect((await svc.request('DELETE', `/v1/sessions/${bobs.id}`, { token: t.adminToken })).status).toBe(
      204,
    );
  });

  it("answers 404 for another tenant's session, even to its admin", async () => {
    const other = await svc.createTenant();
    const theirs = await newSession(other.userToken);
    for (const token of [t.userToken, t.adminToken]) {
      expect((await svc.request('GET', `/v1/sessions/${theirs.id}`, { token })).status).toBe(404);
      expect((await send(theirs.id, { content: 'hi' }, token)).status).toBe(404);
    }
  });
});

describe('a chat turn', () => {
  it('sends the system prompt and the history, and stores both messages', async () => {
    const tenant = await svc.createTenant({ settings: { systemPrompt: 'You are terse.' } });
    const s = await newSession(tenant.userToken);
    const first = await send(s.id, { content: 'hello' }, tenant.userToken);
    expect(first.status).toBe(201);
    expect(first.body.message).toMatchObject({ role: 'user', content: 'hello', status: 'complete' });
    expect(first.body.reply).toMatchObject({
      role: 'assistant',
      content: 'Echo: hello',
      status: 'complete',
      model: 'test/model',
      usage: { promptTokens: expect.any(Number), completionTokens: 2 },
    });
    await send(s.id, { content: 'and again' }, tenant.userToken);
    expect(svc.stub.requests.at(-1)!.body.messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: 'Echo: hello' },
      { role: 'user', content: 'and again' },
    ]);
    expect(svc.stub.requests.at(-1)!.body.max_tokens).toBe(1024);
    const stored = await messagesOf(s.id, tenant.userToken);
    expect(stored.map((m: { role: string; content: string }) => [m.role, m.content])).toEqual([
      ['user', 'hello'],
      ['assistant', 'Echo: hello'],
      ['user', 'and again'],
      ['assistant', 'Echo: and again'],
    ]);
    const session = await svc.request('GET', `/v1/sessions/${s.id}`, { token: tenant.userToken });
    expect(session.body.title).toBe('hello');
  });

  it('pages messages oldest first', async () => {
    const s = await newSession();
    for (const content of ['a', 'b', 'c']) await send(s.id, { content });
    const page1 = await svc.request('GET', `/v1/sessions/${s.id}/messages?limit=4`, { token: t.userToken });
    const page2 = await svc.request(
      'GET',
      `/v1/sessions/${s.id}/messages?limit=4&cursor=${page1.body.nextCursor}`,
      {
        token: t.userToken,
      },
    );
    expect([...page1.body.items, ...page2.body.items].map((m: { content: string }) => m.content)).toEqual([
      'a',
      'Echo: a',
      'b',
      'Echo: b',
      'c',
      'Echo: c',
    ]);
    expect(page2.body.nextCursor).toBeNull();
  });

  it('uses the model from the body, and refuses one outside allowedModels', async () => {
    const tenant = await svc.createTenant({ settings: { allowedModels: ['m/a', 'm/b'], model: 'm/a' } });
    const s = await newSession(tenant.userToken);
    const ok = await send(s.id, { content: 'hi', model: 'm/b' }, tenant.userToken);
    expect(ok.status).toBe(201);
    expect(svc.stub.requests.at(-1)!.body.model).toBe('m/b');
    const refused = await send(s.id, { content: 'hi', model: 'm/c' }, tenant.userToken);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('invalid_request');
  });

  it('lets only the owner send: a tenant admin gets 403 in a user session', async () => {
    const s = await newSession();
    const res = await send(s.id, { content: 'hi' }, t.adminToken);
    expect(res.status).toBe(403);
  });

  it('retries a 429 and a 503 from the provider before any output', async () => {
    svc.stub.enqueue({ kind: 'error', status: 429 }, { kind: 'error', status: 503 });
    const s = await newSession();
    const res = await send(s.id, { content: 'retry me' });
    expect(res.status).toBe(201);
    expect(res.body.reply.content).toBe('Echo: retry me');
    expect(svc.stub.requests).toHaveLength(3);
  });

  it('asks the fallback models when the first fails', async () => {
    const tenant = await svc.createTenant({
      settings: { model: 'stub/error', fallbackModels: ['m/backup'] },
    });
    const s = await newSession(tenant.userToken);
    const res = await send(s.id, { content: 'hi' }, tenant.userToken);
    expect(res.status).toBe(201);
    expect(res.body.reply.model).toBe('m/backup');
    expect(svc.stub.requests.map((r) => r.body.model)).toEqual([
      'stub/error',
      'stub/error',
      'stub/error',
      'm/backup',
    ]);
  });

  it('answers 502 upstream_error when the provider fails, keeping the user message and a failed reply', async () => {
    svc.stub.setDefault({ kind: 'error', status: 500 });
    const s = await newSession();
    const res = await send(s.id, { content: 'doomed' });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('upstream_error');
    const stored = await messagesOf(s.id);
    expect(stored.map((m: { role: string; status: string }) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'failed'],
    ]);
    // A failed reply is not sent to the model as history.
    svc.stub.reset();
    await send(s.id, { content: 'second try' });
    expect(svc.stub.requests[0]!.body.messages).toEqual([
      { role: 'user', content: 'doomed' },
      { role: 'user', content: 'second try' },
    ]);
  });

  it('answers 504 upstream_timeout when the provider does not answer in LLM_TIMEOUT_MS', async () => {
    svc.stub.setDefault({ kind: 'hang' });
    const s = await newSession();
    const res = await send(s.id, { content: 'anyone?' });
    expect(res.status).toBe(504);
    expect(res.body.error.code).toBe('upstream_timeout');
    const stored = await messagesOf(s.id);
    expect(stored.map((m: { status: string }) => m.status)).toEqual(['complete', 'failed']);
  });

  it('answers 503 not_configured when no provider key exists', async () => {
    const noKey = await startTestService({
      database: { url: svc.databaseUrl },
      stub: svc.stub,
      env: { OPENROUTER_API_KEY: '' },
    });
    try {
      const s = await newSession();
      const res = await noKey.request('POST', `/v1/sessions/${s.id}/messages`, {
        token: t.userToken,
        body: { content: 'x' },
      });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('not_configured');
    } finally {
      await noKey.close();
    }
  });
});
