// Logs: JSON lines with reqId, tenantId and userId; never credentials, keys or message contents.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/harness.ts';

const lines: string[] = [];
let svc: TestService;

beforeAll(async () => {
  svc = await startTestService({
    env: { LOG_LEVEL: 'info' },
    logStream: { write: (line: string) => void lines.push(line) },
  });
});
afterAll(async () => svc?.close());

describe('logs', () => {
  it('are JSON lines with reqId, tenantId and userId, without tokens, keys or message contents', async () => {
    const t = await svc.createTenant();
    const s = await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} });
    const secretContent = 'my secret medical question 7f3a';
    await svc.request('POST', `/v1/sessions/${s.body.id}/messages`, {
      token: t.userToken,
      body: { content: secretContent },
    });
    await svc.request('PUT', `/v1/tenants/${t.id}/provider-key`, {
      token: t.adminToken,
      body: { apiKey: 'sk-or-v1-logged-never' },
    });
    const key = (await svc.request('POST', `/v1/tenants/${t.id}/api-keys`, { token: t.adminToken, body: {} }))
      .body.key;
    await svc.request('GET', '/v1/me', { token: key });
    await svc.request('GET', '/v1/me', { token: 'garbage.token.value' });

    expect(lines.length).toBeGreaterThan(5);
    const entries = lines.map((line) => JSON.parse(line));
    for (const e of entries) {
      expect(e).toHaveProperty('level');
      expect(e).toHaveProperty('time');
      expect(e).toHaveProperty('msg');
    }
    const completed = entries.filter((e) => e.msg === 'request completed');
    expect(completed.length).toBeGreaterThan(3);
    const chat = completed.find(
      (e) => e.userId === 'alice' && e.res?.statusCode === 201 && e.tenantId === t.id,
    );
    expect(chat).toBeDefined();
    expect(chat.reqId).toEqual(expect.any(String));

    const all = lines.join('\n');
    for (const secret of [
      t.userToken,
      t.adminToken,
      key,
      'sk-or-v1-logged-never',
      secretContent,
      'sk-platform-test',
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
