// Idempotency-Key on POST message: replays without a second provider call, 409 for another
// body, one provider call for concurrent duplicates, and no replay of a failed attempt.
import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readEvents } from '@chatbot/test-kit/events';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
let t: Awaited<ReturnType<TestService['createTenant']>>;

beforeAll(async () => {
  svc = await startTestService();
  t = await svc.createTenant();
});
afterAll(async () => svc?.close());
beforeEach(() => svc.stub.reset());

const newSession = async () =>
  (await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} })).body.id;
const send = (sessionId: string, key: string, content: string, token = t.userToken) =>
  svc.request('POST', `/v1/sessions/${sessionId}/messages`, {
    token,
    body: { content },
    headers: { 'idempotency-key': key },
  });

describe('Idempotency-Key', () => {
  it('returns the first completed result to a retry without a second provider call', async () => {
    const sessionId = await newSession();
    const first = await send(sessionId, 'key-1', 'hello');
    const retry = await send(sessionId, 'key-1', 'hello');
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(svc.stub.requests).toHaveLength(1);
    const messages = await svc.request('GET', `/v1/sessions/${sessionId}/messages`, { token: t.userToken });
    expect(messages.body.items).toHaveLength(2);
  });

  it('answers 409 to the same key with another body', async () => {
    const sessionId = await newSession();
    await send(sessionId, 'key-2', 'hello');
    const other = await send(sessionId, 'key-2', 'something else');
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('conflict');
  });

  it('makes one provider call for two concurrent requests with one key, and both get its answer', async () => {
    svc.stub.setDefault({ kind: 'reply', firstByteDelayMs: 500 });
    const sessionId = await newSession();
    const [a, b] = await Promise.all([send(sessionId, 'key-3', 'same'), send(sessionId, 'key-3', 'same')]);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(a.body).toEqual(b.body);
    expect(svc.stub.requests).toHaveLength(1);
  });

  it('does not replay a first attempt that failed: the retry runs', async () => {
    svc.stub.setDefault({ kind: 'error', status: 500 });
    const sessionId = await newSession();
    const failed = await send(sessionId, 'key-4', 'try');
    expect(failed.status).toBe(502);
    svc.stub.reset();
    const retry = await send(sessionId, 'key-4', 'try');
    expect(retry.status).toBe(201);
    expect(retry.body.reply.content).toBe('Echo: try');
  });

  it('keeps keys apart per user', async () => {
    const sessionId = await newSession();
    const bob = await t.tokenFor('bob');
    const bobSession = (await svc.request('POST', '/v1/sessions', { token: bob, body: {} })).body.id;
    await send(sessionId, 'shared-key', 'alice says');
    const bobs = await send(bobSession, 'shared-key', 'bob says', bob);
    expect(bobs.status).toBe(201);
    expect(bobs.body.reply.content).toBe('Echo: bob says');
  });

  it('keeps its records in Postgres', async () => {
    const sessionId = await newSession();
    await send(sessionId, 'key-stored', 'persist me');
    const sql = postgres(svc.databaseUrl, { max: 1 });
    try {
      const rows = await sql`select state, response from idempotency_keys where key = 'key-stored'`;
      expect(rows).toHaveLength(1);
      expect(rows[0]!.state).toBe('complete');
      expect(rows[0]!.response.reply.content).toBe('Echo: persist me');
    } finally {
      await sql.end();
    }
  });

  it('replays a streamed turn as a stream', async () => {
    const sessionId = await newSession();
    const post = () =>
      fetch(`${svc.url}/v1/sessions/${sessionId}/messages`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${t.userToken}`,
          'content-type': 'application/json',
          'idempotency-key': 'k-stream',
        },
        body: JSON.stringify({ content: 'stream me', stream: true }),
      });
    const first = await readEvents(await post());
    const again = await readEvents(await post());
    expect(svc.stub.requests).toHaveLength(1);
    expect(again.at(-1)).toMatchObject({ event: 'done', data: first.at(-1)!.data });
    expect(
      again
        .filter((e) => e.event === 'delta')
        .map((e) => e.data.content)
        .join(''),
    ).toBe('Echo: stream me');
  });

  it('refuses a key longer than 200 characters', async () => {
    const res = await send(await newSession(), 'k'.repeat(201), 'x');
    expect(res.status).toBe(400);
  });
});
