// Migrations: idempotent, safe to run concurrently, a clear non-zero exit on failure.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { MIGRATIONS_FOLDER, runMigrations } from '../src/migrate.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const dropped: (() => Promise<void>)[] = [];

async function emptyDatabase(): Promise<string> {
  const admin = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
  const name = `migrate_${Math.random().toString(36).slice(2, 10)}`;
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  dropped.push(async () => {
    const sql = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
    await sql.unsafe(`drop database if exists ${name} with (force)`);
    await sql.end();
  });
  const url = new URL(inject('databaseUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

function runMigrateProcess(
  databaseUrl: string | Record<string, string>,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const urls = typeof databaseUrl === 'string' ? { DATABASE_URL: databaseUrl } : databaseUrl;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, 'migrate'], {
      env: { PATH: process.env.PATH, ...urls },
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    child.on('close', (code) => resolve({ code, stderr, stdout }));
  });
}

async function appliedCount(url: string): Promise<number> {
  const sql = postgres(url, { max: 1 });
  try {
    const [row] = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
    return row!.n;
  } finally {
    await sql.end();
  }
}

afterAll(async () => {
  for (const drop of dropped) await drop();
});

describe('migrate', () => {
  it('applies every migration, enables vector, and a second run changes nothing', async () => {
    const url = await emptyDatabase();
    const first = await runMigrateProcess(url);
    expect(first.code, first.stderr).toBe(0);
    const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8'));
    expect(await appliedCount(url)).toBe(journal.entries.length);
    const second = await runMigrateProcess(url);
    expect(second.code, second.stderr).toBe(0);
    expect(await appliedCount(url)).toBe(journal.entries.length);
    const sql = postgres(url, { max: 1 });
    try {
      const ext = await sql`select extname from pg_extension where extname = 'vector'`;
      expect(ext).toHaveLength(1);
    } finally {
      await sql.end();
    }
  });

  it('succeeds when four processes run it at the same time', async () => {
    const url = await emptyDatabase();
    const results = await Promise.all([1, 2, 3, 4].map(() => runMigrateProcess(url)));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8'));
    expect(await appliedCount(url)).toBe(journal.entries.length);
  });

  it('exits non-zero with the reason when a migration fails, and applies none of it', async () => {
    const url = await emptyDatabase();
    const folder = mkdtempSync(join(tmpdir(), 'broken-migrations-'));
    try {
      cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
      const journalPath = join(folder, 'meta/_journal.json');
      const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
      journal.entries.push({
        idx: journal.entries.length,
        version: '7',
        when: Date.now(),
        tag: '9999_broken',
        breakpoints: true,
      });
      writeFileSync(journalPath, JSON.stringify(journal));
      writeFileSync(
        join(folder, '9999_broken.sql'),
        'create table broken_one (id int);\n--> statement-breakpoint\nselect * from no_such_table;',
      );
      await expect(runMigrations(url, folder)).rejects.toThrow(/no_such_table/);
      const sql = postgres(url, { max: 1 });
      try {
        const [row] = await sql`select to_regclass('public.broken_one') as t`;
        expect(row!.t).toBeNull();
      } finally {
        await sql.end();
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('exits non-zero naming the problem when the database cannot be reached', async () => {
    const result = await runMigrateProcess('postgres://nobody:nothing@127.0.0.1:1/none');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/migrate: failed: .*ECONNREFUSED|connect/i);
    expect(result.stdout).toBe('');
  });

  it('runs as a database owner that is not a superuser, as on a managed Postgres', async () => {
    // PostgreSQL 16+ gives a CREATEROLE user that creates a role only the ADMIN option on it;
    // the role already exists in this shared test cluster, so the owner gets just that.
    const admin = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
    const suffix = Math.random().toString(36).slice(2, 10);
    const owner = `owner_${suffix}`;
    const database = `managed_${suffix}`;
    const password = `pw_${suffix}`;
    try {
      await admin.unsafe(`create role ${owner} login createrole password '${password}'`);
      await admin.unsafe(`create database ${database} owner ${owner}`);
      await admin.unsafe(`grant chatbot_app to ${owner} with admin true, set false, inherit false`);
      const url = new URL(inject('databaseUrl'));
      url.pathname = `/${database}`;
      // The provider's console enables the extension; the owner may not.
      const asSuperuser = postgres(url.toString(), { max: 1, onnotice: () => {} });
      await asSuperuser`create extension if not exists vector`;
      await asSuperuser.end();
      url.username = owner;
      url.password = password;
      const loginUrl = new URL(url);
      loginUrl.username = `login_${suffix}`;
      loginUrl.password = `secret_${suffix}`;
      const result = await runMigrateProcess({
        MIGRATION_DATABASE_URL: url.toString(),
        DATABASE_URL: loginUrl.toString(),
      });
      expect(result.code, result.stderr).toBe(0);
      const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
      const login = postgres(loginUrl.toString(), { max: 1, onnotice: () => {} });
      try {
        const owners = await sql`select proowner::regrole::text as owner from pg_proc
            where proname in ('chatbot_turn_history', 'chatbot_store_user_message', 'chatbot_finish_turn')`;
        expect(owners.length).toBeGreaterThanOrEqual(3); // chatbot_finish_turn has two overloads
        expect(new Set(owners.map((r) => r.owner))).toEqual(new Set(['chatbot_app']));
        // What every transaction of the service does.
        const [who] = await sql.begin(async (tx) => {
          await tx`select set_config('role', 'chatbot_app', true)`;
          return tx`select current_user`;
        });
        expect(who!.current_user).toBe('chatbot_app');

        // Row-level security binds this owner too (FORCE): what it writes goes through the
        // application role, and its own plain reads see no tenant's rows.
        const tenantId = randomUUID();
        await sql.begin(async (tx) => {
          await tx`select set_config('role', 'chatbot_app', true), set_config('app.scope', 'platform', true)`;
          await tx`insert into tenants (id, name, slug) values (${tenantId}, 'Managed', ${`managed-${suffix}`})`;
        });
        await sql.begin(async (tx) => {
          await tx`select set_config('role', 'chatbot_app', true), set_config('app.tenant_id', ${tenantId}, true)`;
          await tx`insert into api_keys (tenant_id, prefix, key_hash) values (${tenantId}, 'cbk_x', 'hash-1')`;
        });
        expect(await sql`select id from tenants`).toHaveLength(0);
        expect(await sql`select id from api_keys`).toHaveLength(0);
        // Its SECURITY DEFINER functions still see what they need, called by the service's login.
        const found = await login`select tenant_id from chatbot_authenticate_api_key('hash-1')`;
        expect(found).toEqual([{ tenant_id: tenantId }]);
        await login`select * from chatbot_kb_idle_work(make_interval(secs => 0))`;
        expect(await login`select id from api_keys`).toHaveLength(0);
      } finally {
        await login.end();
        await sql.end();
      }
    } finally {
      await admin.unsafe(`drop database if exists ${database} with (force)`);
      await admin.unsafe(`drop role if exists login_${suffix}`); // first: its creator holds ADMIN on it
      await admin.unsafe(`drop role if exists ${owner}`);
      await admin.end();
    }
  });

  it("provisions the service's login role from DATABASE_URL when MIGRATION_DATABASE_URL names the owner", async () => {
    const ownerUrl = await emptyDatabase();
    const role = `svc_${Math.random().toString(36).slice(2, 10)}`;
    const appUrl = (password: string) => {
      const url = new URL(ownerUrl);
      url.username = role;
      url.password = password;
      return url.toString();
    };
    dropped.push(async () => {
      const sql = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop role if exists ${role}`);
      await sql.end();
    });
    const first = await runMigrateProcess({
      MIGRATION_DATABASE_URL: ownerUrl,
      DATABASE_URL: appUrl('first-pw'),
    });
    expect(first.code, first.stderr).toBe(0);
    const app = postgres(appUrl('first-pw'), { max: 1, onnotice: () => {} });
    try {
      const [me] = await app`select r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
          (select array_agg(b.rolname::text) from pg_auth_members m join pg_roles b on b.oid = m.roleid
            where m.member = r.oid) as member_of
          from pg_roles r where r.rolname = current_user`;
      expect(me).toEqual({
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolbypassrls: false,
        member_of: ['chatbot_app'],
      });
      // The password reached Postgres as a SCRAM verifier only.
      const owner = postgres(ownerUrl, { max: 1, onnotice: () => {} });
      const [stored] = await owner`select rolpassword from pg_authid where rolname = ${role}`;
      await owner.end();
      expect(stored!.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    } finally {
      await app.end();
    }
    // A new password in DATABASE_URL replaces the old one.
    const second = await runMigrateProcess({
      MIGRATION_DATABASE_URL: ownerUrl,
      DATABASE_URL: appUrl('second-pw'),
    });
    expect(second.code, second.stderr).toBe(0);
    const stale = postgres(appUrl('first-pw'), { max: 1, onnotice: () => {} });
    await expect(stale`select 1`).rejects.toThrow(/password authentication failed/);
    await stale.end();
    const fresh = postgres(appUrl('second-pw'), { max: 1, onnotice: () => {} });
    expect(await fresh`select 1 as ok`).toEqual([{ ok: 1 }]);
    await fresh.end();
  });

  it('refuses a DATABASE_URL that logs in as a superuser when MIGRATION_DATABASE_URL is another role', async () => {
    const ownerUrl = await emptyDatabase();
    const admin = postgres(inject('databaseUrl'), { max: 1, onnotice: () => {} });
    const role = `root_${Math.random().toString(36).slice(2, 10)}`;
    try {
      await admin.unsafe(`create role ${role} login superuser password 'pw'`);
      const url = new URL(ownerUrl);
      url.username = role;
      url.password = 'pw';
      const result = await runMigrateProcess({
        MIGRATION_DATABASE_URL: ownerUrl,
        DATABASE_URL: url.toString(),
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`DATABASE_URL's user ${role} is a superuser`);
    } finally {
      await admin.unsafe(`drop role if exists ${role}`);
      await admin.end();
    }
  });
});
