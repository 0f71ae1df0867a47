// Row-level security: as the application role, a query that forgets its tenant filter
// still sees only the current tenant's rows, and cannot write into another tenant.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
let sql: postgres.Sql;
type Tenant = Awaited<ReturnType<TestService['createTenant']>>;
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  svc = await startTestService();
  sql = postgres(svc.databaseUrl, { max: 1, onnotice: () => {} });
  a = await svc.createTenant();
  b = await svc.createTenant();
  for (const t of [a, b]) {
    const s = await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} });
    await svc.request('POST', `/v1/sessions/${s.body.id}/messages`, {
      token: t.userToken,
      body: { content: 'hi' },
    });
    await svc.request('POST', `/v1/tenants/${t.id}/api-keys`, { token: t.adminToken, body: {} });
  }
});
afterAll(async () => {
  await sql?.end();
  await svc?.close();
});

/** Runs `work` as the service does: SET LOCAL ROLE chatbot_app with the tenant setting. */
function asTenant<T>(tenantId: string | null, work: (tx: postgres.TransactionSql) => Promise<T>) {
  return sql.begin(async (tx) => {
    await tx`set local role chatbot_app`;
    if (tenantId !== null) await tx`select set_config('app.tenant_id', ${tenantId}, true)`;
    return work(tx);
  }) as Promise<T>;
}

describe('row-level security', () => {
  it('shows a tenant only its own rows in every table, without any filter in the query', async () => {
    const tables = ['tenants', 'sessions', 'messages', 'api_keys', 'usage_daily'];
    for (const table of tables) {
      const owners = await asTenant(a.id, (tx) =>
        tx.unsafe(`select ${table === 'tenants' ? 'id' : 'tenant_id'} as owner from ${table}`),
      );
      expect(owners.length, table).toBeGreaterThan(0);
      expect(new Set(owners.map((r) => r.owner)), table).toEqual(new Set([a.id]));
    }
  });

  it('shows nothing when no tenant is set', async () => {
    for (const table of ['tenants', 'sessions', 'messages', 'api_keys', 'usage_daily']) {
      const rows = await asTenant(null, (tx) => tx.unsafe(`select * from ${table}`));
      expect(rows, table).toHaveLength(0);
    }
  });

  it("refuses to write a row into another tenant, and to change another tenant's rows", async () => {
    await expect(
      asTenant(a.id, (tx) => tx`insert into sessions (tenant_id, user_id) values (${b.id}, 'intruder')`),
    ).rejects.toThrow(/row-level security/);
    const updated = await asTenant(
      a.id,
      (tx) => tx`update sessions set title = 'pwned' where tenant_id = ${b.id}`,
    );
    expect(updated.count).toBe(0);
    const deleted = await asTenant(a.id, (tx) => tx`delete from messages`);
    const bMessages = await asTenant(b.id, (tx) => tx`select count(*)::int as n from messages`);
    expect(deleted.count).toBeGreaterThan(0);
    expect(bMessages[0]!.n).toBeGreaterThan(0);
  });

  it('is not bypassed by the application role: it owns no table', async () => {
    const owners = await sql`select distinct tableowner from pg_tables where schemaname = 'public'`;
    expect(owners.map((r) => r.tableowner)).not.toContain('chatbot_app');
    const [role] =
      await sql`select rolcanlogin, rolbypassrls, rolsuper from pg_roles where rolname = 'chatbot_app'`;
    expect(role).toEqual({ rolcanlogin: false, rolbypassrls: false, rolsuper: false });
  });
});
