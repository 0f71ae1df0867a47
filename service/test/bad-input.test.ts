// Issue 16, item 9: bad input gets 4xx, never 500, and leaves nothing sensitive in the logs
// (SQL parameters, message contents, the encrypted provider key, query strings), at any level.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/harness.ts';

const lines: string[] = [];
let svc: TestService;
let tenant: Awaited<ReturnType<TestService['createTenant']>>;
let sessionId: string;

const cursorOf = (values: unknown) => Buffer.from(JSON.stringify(values)).toString('base64url');
/** Text that must never reach the logs. */
const MARKERS = {
  content: 'marker-content-5b1e',
  cursor: 'marker-cursor-9d3c',
  title: 'marker-title-77af',
};

beforeAll(async () => {
  svc = await startTestService({
    env: { LOG_LEVEL: 'trace' },
    logStream: { write: (line: string) => void lines.push(line) },
  });
  tenant = await svc.createTenant();
  sessionId = (await svc.request('POST', '/v1/sessions', { token: tenant.userToken, body: {} })).body.id;
  const put = await svc.request('PUT', `/v1/tenants/${tenant.id}/provider-key`, {
    token: tenant.adminToken,
    body: { apiKey: 'sk-or-v1-bad-input-test' },
  });
  expect(put.status).toBe(204);
});
afterAll(async () => svc?.close());

function expectCode(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error.code).toBe(code);
}

/** Every log line so far, checked for what must never be there. */
function expectCleanLogs() {
  const all = lines.join('\n');
  expect(all.length).toBeGreaterThan(0);
  for (const marker of Object.values(MARKERS)) expect(all).not.toContain(marker);
  expect(all).not.toMatch(/params:|"params"|"parameters"/);
  expect(all).not.toMatch(/gAAAAA[A-Za-z0-9_-]{20,}/); // a Fernet token: the encrypted provider key
  expect(all).not.toContain('?cursor=');
}

describe('bad input gets 4xx, never 500', () => {
  it('answers a text/plain (or any non-JSON) body on a JSON route with 415 unsupported_media_type', async () => {
    for (const [path, type] of [
      ['/v1/sessions', 'text/plain'],
      [`/v1/sessions/${sessionId}/messages`, 'text/plain'],
      [`/v1/sessions/${sessionId}/messages`, 'text/plain; charset=utf-8'],
      ['/v1/chat/completions', 'text/plain'],
      [`/v1/sessions/${sessionId}/messages`, 'application/xml'],
    ] as const) {
      const res = await svc.request('POST', path, {
        token: tenant.userToken,
        rawBody: JSON.stringify({ content: MARKERS.content }),
        headers: { 'content-type': type },
      });
      expectCode(res, 415, 'unsupported_media_type');
    }
  });

  it('answers 404 to an id in urn:uuid form, and 400 to one in a body or query', async () => {
    const urn = `urn:uuid:${sessionId}`;
    for (const [method, path] of [
      ['GET', `/v1/sessions/${urn}`],
      ['DELETE', `/v1/sessions/${urn}`],
      ['GET', `/v1/sessions/${urn}/messages`],
      ['POST', `/v1/sessions/${urn}/messages`],
    ] as const) {
      const res = await svc.request(method, path, {
        token: tenant.userToken,
        ...(method === 'POST' ? { body: { content: MARKERS.content } } : {}),
      });
      expectCode(res, 404, 'not_found');
    }
    const admin = await svc.request('GET', `/v1/tenants/urn:uuid:${tenant.id}`, { token: svc.platformToken });
    expectCode(admin, 404, 'not_found');
    const minted = await svc.request('POST', '/v1/tokens', {
      token: svc.platformToken,
      body: { sub: 'x', tenantId: `urn:uuid:${tenant.id}` },
    });
    expectCode(minted, 400, 'invalid_request');
    // The session is still there under its canonical id.
    expect((await svc.request('GET', `/v1/sessions/${sessionId}`, { token: tenant.userToken })).status).toBe(
      200,
    );
  });

  it('answers 400 to a malformed cursor that is valid base64', async () => {
    const cursors = [
      cursorOf(['not-a-time', MARKERS.cursor]),
      cursorOf([new Date().toISOString(), MARKERS.cursor]),
      cursorOf(['2024-02-30T25:61:00.000Z', sessionId]),
      cursorOf(['-271821-04-20T00:00:00.000Z', sessionId]),
      cursorOf([1.5]),
      cursorOf([-1]),
      cursorOf([1e300]),
      cursorOf({ marker: MARKERS.cursor }),
    ];
    const base = await svc.request('POST', '/v1/knowledge-bases', {
      token: tenant.adminToken,
      body: { name: 'cursor test' },
    });
    expect(base.status).toBe(201);
    for (const cursor of cursors) {
      for (const path of [
        `/v1/knowledge-bases?cursor=${cursor}`,
        `/v1/knowledge-bases/${base.body.id}/documents?cursor=${cursor}`,
      ]) {
        const res = await svc.request('GET', path, { token: tenant.adminToken });
        expectCode(res, 400, 'invalid_request');
      }
      for (const path of [
        `/v1/sessions?cursor=${cursor}`,
        `/v1/sessions/${sessionId}/messages?cursor=${cursor}`,
      ]) {
        const res = await svc.request('GET', path, { token: tenant.userToken });
        expectCode(res, 400, 'invalid_request');
      }
      for (const path of [
        `/v1/tenants?cursor=${cursor}`,
        `/v1/tenants/${tenant.id}/api-keys?cursor=${cursor}`,
      ]) {
        const res = await svc.request('GET', path, { token: svc.platformToken });
        expectCode(res, 400, 'invalid_request');
      }
    }
  });

  it("answers 401 to a deleted tenant's token, on every endpoint", async () => {
    const gone = await svc.createTenant();
    const session = await svc.request('POST', '/v1/sessions', { token: gone.userToken, body: {} });
    expect(session.status).toBe(201);
    expect((await svc.request('DELETE', `/v1/tenants/${gone.id}`, { token: svc.platformToken })).status).toBe(
      204,
    );
    const user = gone.userToken;
    const admin = gone.adminToken;
    for (const [method, path, token, body] of [
      ['GET', '/v1/me', user, undefined],
      ['POST', '/v1/sessions', user, { title: MARKERS.title }],
      ['GET', '/v1/sessions', user, undefined],
      ['GET', `/v1/sessions/${session.body.id}`, user, undefined],
      ['POST', `/v1/sessions/${session.body.id}/messages`, user, { content: MARKERS.content }],
      ['POST', '/v1/chat/completions', user, { messages: [{ role: 'user', content: MARKERS.content }] }],
      ['GET', '/v1/models', user, undefined],
      ['GET', '/v1/usage', admin, undefined],
      ['POST', '/v1/tokens', admin, { sub: 'x' }],
      ['POST', `/v1/tenants/${gone.id}/api-keys`, admin, {}],
      ['PUT', `/v1/tenants/${gone.id}/provider-key`, admin, { apiKey: 'sk-or-v1-gone' }],
      ['GET', '/v1/knowledge-bases', admin, undefined],
    ] as const) {
      const res = await svc.request(method, path, { token, ...(body === undefined ? {} : { body }) });
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(401);
    }
  });

  it('logs none of it: no SQL parameters, message contents, encrypted provider key or query string', () => {
    expect(svc.app.log.level).toBe('trace');
    expectCleanLogs();
  });

  it('logs a failed query with its statement but without its parameters', async () => {
    // A fault in the database (a trigger that fails every write) makes the writes fail with
    // drizzle's error, whose message carries the parameters.
    const sql = postgres(svc.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`create function test_fault() returns trigger language plpgsql as $$
          begin raise exception 'injected fault'; end $$`);
      for (const table of ['tenants', 'sessions']) {
        await sql.unsafe(`create trigger test_fault before insert or update on ${table}
            for each row execute function test_fault()`);
      }
      const before = lines.length;
      const put = await svc.request('PUT', `/v1/tenants/${tenant.id}/provider-key`, {
        token: tenant.adminToken,
        body: { apiKey: 'sk-or-v1-during-fault' },
      });
      expectCode(put, 500, 'internal');
      const created = await svc.request('POST', '/v1/sessions', {
        token: tenant.userToken,
        body: { title: MARKERS.title },
      });
      expectCode(created, 500, 'internal');
      const logged = lines.slice(before).join('\n');
      expect(logged).toContain('injected fault');
      expect(logged).toContain('update \\"tenants\\"'); // the statement, as JSON writes it
      expectCleanLogs();
    } finally {
      for (const table of ['tenants', 'sessions']) {
        await sql.unsafe(`drop trigger if exists test_fault on ${table}`);
      }
      await sql.unsafe('drop function if exists test_fault()');
      await sql.end();
    }
  });
});
