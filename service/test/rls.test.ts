// Row-level security: as the application role, a query that forgets its tenant filter
// still sees only the current tenant's rows, and cannot write into another tenant.
import { sql as dsql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/client.ts';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
let sql: postgres.Sql;
type Tenant = Awaited<ReturnType<TestService['createTenant']>>;
let a: Tenant;
let b: Tenant;
let aSession: string;

beforeAll(async () => {
  svc = await startTestService();
  sql = postgres(svc.databaseUrl, { max: 1, onnotice: () => {} });
  a = await svc.createTenant();
  b = await svc.createTenant();
  for (const t of [a, b]) {
    const s = await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} });
    if (t === a) aSession = s.body.id;
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

  it("scopes the service's one-statement reads (queryAsTenant) to the tenant, prepared, with their settings", async () => {
    const database = createDatabase({ url: svc.env.DATABASE_URL!, maxConnections: 1 });
    try {
      for (const tenant of [a, b, a]) {
        // The same statement each time: prepared on the first call, reused after.
        const rows = await database.queryAsTenant<{ owner: string; role: string; ef: string }>(
          tenant.id,
          dsql`select s.tenant_id as owner, current_user as role, current_setting('hnsw.ef_search') as ef
                 from sessions s where s.title is not null or s.title is null`,
          { 'hnsw.ef_search': '77' },
        );
        expect(rows.length).toBeGreaterThan(0);
        expect(new Set(rows.map((r) => r.owner))).toEqual(new Set([tenant.id]));
        expect(rows[0]).toMatchObject({ role: 'chatbot_app', ef: '77' });
      }
      // A failing settings statement fails the call (and the statement after it).
      await expect(
        database.queryAsTenant(a.id, dsql`select 1`, { 'no such setting': 'x' }),
      ).rejects.toThrow();
      // Nothing of the transaction is left on the connection.
      const [after] = await database.client`select current_user as role,
          current_setting('app.tenant_id', true) as tenant, current_setting('hnsw.ef_search') as ef`;
      expect(after!.role).not.toBe('chatbot_app');
      expect(after!.ef).not.toBe('77');
      expect(after!.tenant ?? '').toBe('');
    } finally {
      await database.close();
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

  it("scopes the chat turn's functions to the tenant they are given, for their own statement only", async () => {
    const fns =
      await sql`select proname, prosecdef, proowner::regrole::text as owner, proacl::text as acl from pg_proc
        where proname in ('chatbot_turn_history', 'chatbot_store_user_message', 'chatbot_finish_turn', 'chatbot_record_usage')`;
    // chatbot_finish_turn has two overloads (0004's, and 0006's with sources).
    expect(new Set(fns.map((fn) => fn.proname)).size).toBe(4);
    for (const fn of fns) {
      // They run as the application role, whoever calls them: RLS applies inside.
      expect(fn.prosecdef, fn.proname).toBe(true);
      expect(fn.owner, fn.proname).toBe('chatbot_app');
      expect(fn.acl, fn.proname).not.toMatch(/(^|[{,])=X/); // PUBLIC may not call it
    }
    const sent = await svc.request('POST', `/v1/sessions/${aSession}/messages`, {
      token: a.userToken,
      body: { content: 'hello again' },
    });
    expect(sent.status).toBe(201);
    const [{ create }] =
      (await sql`select has_schema_privilege('chatbot_app', 'public', 'CREATE') as create`) as [
        { create: boolean },
      ];
    expect(create).toBe(false); // it had it only to take the functions over
    const database = createDatabase({ url: svc.databaseUrl, maxConnections: 1 });
    try {
      const sqlApp = database.client;
      const history =
        await sqlApp`select role, content from chatbot_turn_history(${a.id}, ${aSession}, 'alice', 50)`;
      expect(history.map((m) => m.content)).toContain('hello again');
      // The next statement on the same connection is in no tenant.
      const [after] = await sqlApp`select coalesce(current_setting('app.tenant_id', true), '') as tenant`;
      expect(after).toEqual({ tenant: '' });
      // Another tenant's id, another user: the session is not found (P0002), nothing is written.
      await expect(
        sqlApp`select * from chatbot_turn_history(${b.id}, ${aSession}, 'alice', 50)`,
      ).rejects.toMatchObject({ code: 'P0002' });
      await expect(
        sqlApp`select id from chatbot_store_user_message(${a.id}, ${aSession}, 'mallory', 'x', 'x', false, true)`,
      ).rejects.toMatchObject({ code: 'P0002' });
      // Another tenant's session gets no message (the foreign key alone would allow it).
      const finished = await sqlApp`select id from chatbot_finish_turn(${b.id}, ${aSession}, null,
          current_date, 'x', 'complete', null, 1, 1, null)`;
      expect(finished).toHaveLength(0);
      const [strays] =
        await sql`select count(*)::int as n from messages where session_id = ${aSession} and tenant_id <> ${a.id}`;
      expect(strays!.n).toBe(0);
    } finally {
      await database.close();
    }
  });

  it('lets the user message of a whole turn commit without waiting for the disk, and a streamed one not', async () => {
    // In a transaction that is then rolled back: the mode its commit would have used.
    const commitMode = async (durable: boolean): Promise<string> => {
      let mode = '';
      await sql
        .begin(async (tx) => {
          await tx`set local synchronous_commit = on`; // the test database runs with it off
          await tx`select id from chatbot_store_user_message(${a.id}, ${aSession}, 'alice', 'x', 'x', false, ${durable})`;
          const [row] = await tx`select current_setting('synchronous_commit') as mode`;
          mode = row!.mode;
          throw new Error('roll back');
        })
        .catch(() => undefined);
      return mode;
    };
    expect(await commitMode(false)).toBe('off');
    expect(await commitMode(true)).toBe('on');
  });
});
