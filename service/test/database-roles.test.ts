// Issue 16, item 2: the app does not log in as a superuser. The service's DATABASE_URL is a
// login role that can only SET ROLE to the application role; tenant tables force row-level
// security on their owner; SECURITY DEFINER functions end their search_path with pg_temp.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/harness.ts';

const TENANT_TABLES = [
  'tenants',
  'api_keys',
  'sessions',
  'messages',
  'usage_daily',
  'idempotency_keys',
  'knowledge_bases',
  'kb_indexes',
  'kb_documents',
  'kb_chunks',
];

let svc: TestService;
let app: postgres.Sql;
let owner: postgres.Sql;

beforeAll(async () => {
  svc = await startTestService();
  app = postgres(svc.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  owner = postgres(svc.databaseUrl, { max: 1, onnotice: () => {} });
  for (let i = 0; i < 2; i++) {
    const t = await svc.createTenant();
    const s = await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} });
    const sent = await svc.request('POST', `/v1/sessions/${s.body.id}/messages`, {
      token: t.userToken,
      body: { content: 'hi' },
    });
    expect(sent.status).toBe(201);
    await svc.request('POST', `/v1/tenants/${t.id}/api-keys`, { token: t.adminToken, body: {} });
  }
});
afterAll(async () => {
  await app?.end();
  await owner?.end();
  await svc?.close();
});

describe('the app does not log in as a superuser', () => {
  it('logs the service in as a role that is not a superuser and can become only the application role', async () => {
    const [me] = await app`select current_user as name, r.rolsuper, r.rolcreaterole, r.rolcreatedb,
        r.rolbypassrls from pg_roles r where r.rolname = current_user`;
    expect(me).toMatchObject({
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolbypassrls: false,
    });
    const memberships = await app`select b.rolname from pg_auth_members m
        join pg_roles b on b.oid = m.roleid join pg_roles r on r.oid = m.member
       where r.rolname = current_user`;
    expect(memberships.map((r) => r.rolname)).toEqual(['chatbot_app']);
    await expect(app`set role postgres`).rejects.toThrow(/permission denied/);
    await expect(app.unsafe(`copy (select 1) to program 'true'`)).rejects.toThrow(
      /permission denied|must be/,
    );
    // The service still works through it (the requests in beforeAll were served).
    expect((await svc.request('GET', '/health')).status).toBe(200);
  });

  it("returns nothing to a raw cross-tenant select as the app's login", async () => {
    for (const table of TENANT_TABLES) {
      const [{ n }] = (await owner.unsafe(`select count(*)::int as n from ${table}`)) as [{ n: number }];
      if (['tenants', 'sessions', 'messages', 'api_keys', 'usage_daily'].includes(table)) {
        expect(n, `${table} has rows`).toBeGreaterThan(0);
      }
      const rows = await app.unsafe(`select * from ${table}`);
      expect(rows, table).toHaveLength(0);
    }
  });

  it('forces row-level security on every tenant table', async () => {
    const rows = await owner`select relname, relrowsecurity, relforcerowsecurity from pg_class
        where relnamespace = 'public'::regnamespace and relname in ${owner(TENANT_TABLES)}`;
    expect(rows).toHaveLength(TENANT_TABLES.length);
    for (const row of rows) {
      expect(row, row.relname).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
    }
  });

  it("ends every SECURITY DEFINER function's search_path with pg_temp", async () => {
    const fns = await owner`select p.oid::regprocedure::text as fn,
        (select c from unnest(p.proconfig) c where c like 'search_path=%') as path
        from pg_proc p where p.pronamespace = 'public'::regnamespace and p.prosecdef`;
    expect(fns.length).toBeGreaterThanOrEqual(9);
    for (const { fn, path } of fns) expect(path, fn).toMatch(/^search_path=.*\bpg_temp$/);
  });

  it('reads the tenant once per statement in every tenant policy (a sub-select), not once per row', async () => {
    const policies = await owner`select tablename, qual, with_check from pg_policies
        where schemaname = 'public' and 'chatbot_app' = any (roles)`;
    expect(policies.map((p) => p.tablename).sort()).toEqual([...TENANT_TABLES].sort());
    for (const { tablename, qual, with_check } of policies) {
      for (const expression of [qual, with_check]) {
        expect(expression, tablename).toMatch(
          /= \(\s*SELECT \(NULLIF\(current_setting\('app\.tenant_id'::text, true\), ''::text\)\)::uuid AS /,
        );
      }
    }
    // And the planner makes it an InitPlan: one evaluation for a scan of many rows.
    const plan = await app.begin(async (tx) => {
      await tx`select set_config('role', 'chatbot_app', true), set_config('app.tenant_id', ${'00000000-0000-0000-0000-000000000000'}, true)`;
      return tx`explain (costs off) select count(*) from messages`;
    });
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/InitPlan/);
  });
});
