// Migrations are append-only, and the SQL functions' rows are what db/schema.ts says.
//
// 1. Every migration in drizzle's journal is pinned in drizzle/checksums.json (its tag, its
//    `when` and the sha256 drizzle records in drizzle.__drizzle_migrations). An applied
//    migration never runs again, so an edit of one reaches no database that already has
//    it: the change goes into a new migration (CREATE OR REPLACE FUNCTION, ALTER TABLE).
// 2. After a fresh database is migrated, every function of the public schema that returns
//    rows (SETOF a table, RETURNS TABLE) is compared with the drizzle tables its rows come
//    from (ROW_SOURCES below): a column named like a table's column has its Postgres type,
//    and a table's row type has exactly the drizzle table's columns, types and NOT NULLs.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getTableColumns, getTableName } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys, kbDocuments, kbIndexes, messages } from '../src/db/schema.ts';
import { MIGRATIONS_FOLDER } from '../src/migrate.ts';
import { createTestDatabase } from './support/harness.ts';

interface Pin {
  tag: string;
  when: number;
  sha256: string;
}

const CHECKSUMS = 'drizzle/checksums.json';
const pins = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'checksums.json'), 'utf8')) as Pin[];
const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as {
  entries: { idx: number; tag: string; when: number }[];
};

/** The hash drizzle's migrator records for a migration file. */
function sha256Of(tag: string): string {
  const text = readFileSync(join(MIGRATIONS_FOLDER, `${tag}.sql`)).toString();
  return createHash('sha256').update(text).digest('hex');
}

describe('migrations are append-only', () => {
  it('has a journal entry for every migration file, in order of creation', () => {
    const files = readdirSync(MIGRATIONS_FOLDER)
      .filter((f) => f.endsWith('.sql'))
      .map((f) => f.slice(0, -'.sql'.length))
      .sort();
    expect(journal.entries.map((e) => e.tag).sort()).toEqual(files);
    journal.entries.forEach((entry, i) => {
      expect(entry.idx, `${entry.tag}'s idx`).toBe(i);
      // drizzle applies only migrations newer than the last applied one: an older `when`
      // would be skipped by every database already migrated.
      if (i > 0) expect(entry.when, `${entry.tag}'s when`).toBeGreaterThan(journal.entries[i - 1]!.when);
    });
  });

  it('leaves every applied migration as it was pinned', () => {
    const problems: string[] = [];
    pins.forEach((pin, i) => {
      const entry = journal.entries[i];
      if (entry?.tag !== pin.tag) {
        problems.push(
          `${pin.tag} was removed, renamed or moved (journal entry ${i} is ${entry?.tag ?? 'missing'}): ` +
            `restore it; applied migrations are never removed or reordered`,
        );
      } else if (entry.when !== pin.when) {
        problems.push(`${pin.tag}: its journal "when" changed from ${pin.when} to ${entry.when}: restore it`);
      } else {
        const now = sha256Of(pin.tag);
        if (now !== pin.sha256) {
          problems.push(
            `${pin.tag}.sql changed after it was applied (sha256 ${pin.sha256} pinned, now ${now}). ` +
              'Databases that have it will never run it again: restore the file (git checkout) and ' +
              'add a new migration for the change (npm run db:generate -w service -- --custom; ' +
              'CREATE OR REPLACE FUNCTION for a function)',
          );
        }
      }
    });
    expect(problems).toEqual([]);
  });

  it('pins every migration of the journal', () => {
    const unpinned = journal.entries
      .slice(pins.length)
      .map((e) => ({ tag: e.tag, when: e.when, sha256: sha256Of(e.tag) }));
    expect(
      unpinned,
      `unpinned migrations: add these entries to ${CHECKSUMS} in the commit that adds them: ` +
        JSON.stringify(unpinned),
    ).toEqual([]);
  });
});

/**
 * Where each row-returning function's rows come from. A result column named like a column
 * of `tables` must have that column's type; `renamed` names the columns a result column
 * carries under another name; `computed` gives the type of the columns no table holds.
 */
const ROW_SOURCES: Record<
  string,
  { tables: PgTable[]; renamed?: Record<string, PgColumn[]>; computed?: Record<string, string> }
> = {
  chatbot_authenticate_api_key: { tables: [apiKeys], renamed: { key_id: [apiKeys.id] } },
  chatbot_turn_history: { tables: [messages] },
  chatbot_store_user_message: { tables: [messages] },
  chatbot_finish_turn: { tables: [messages] },
  chatbot_kb_idle_work: {
    tables: [kbDocuments, kbIndexes],
    renamed: { state: [kbDocuments.status, kbIndexes.state] },
    computed: { kind: 'text' },
  },
  // kb_chunks is partitioned, which drizzle cannot declare (a hand-written migration; its
  // row is KbChunkRow in db/schema.ts).
  chatbot_kb_text_matches: { tables: [], computed: { index_id: 'uuid', id: 'uuid', rank: 'real' } },
};

/** drizzle's SQL type as Postgres's format_type() spells it. */
function pgTypeOf(column: PgColumn): string {
  const type = column.getSQLType().replace(/ \(/g, '(');
  return (
    ({ bigserial: 'bigint', serial: 'integer', smallserial: 'smallint' } as Record<string, string>)[type] ??
    type
  );
}

/** A type without its modifier: functions' declared columns carry none. */
const withoutModifier = (type: string) => type.replace(/\(\d+(,\d+)?\)/, '');

interface RowFunction {
  signature: string;
  name: string;
  /** The table whose row type it returns, or null for RETURNS TABLE / OUT columns. */
  rowTable: string | null;
  columns: { name: string; type: string; notNull: boolean }[];
}

async function rowFunctions(sql: postgres.Sql): Promise<RowFunction[]> {
  // The schema's own functions (not pgvector's), returning a table's row type or a record of
  // OUT/TABLE columns.
  const rows = await sql<
    {
      oid: number;
      name: string;
      signature: string;
      row_table: string | null;
      column_names: string[] | null;
      column_types: string[] | null;
      column_modes: string[] | null;
    }[]
  >`select p.oid::int as oid, p.proname as name, p.oid::regprocedure::text as signature,
           case when t.typtype = 'c' then t.typrelid::regclass::text end as row_table,
           p.proargnames as column_names,
           array(select format_type(a, null) from unnest(p.proallargtypes) a) as column_types,
           p.proargmodes::text[] as column_modes
      from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace
      join pg_type t on t.oid = p.prorettype
     where n.nspname = 'public' and p.prokind = 'f'
       and (t.typtype = 'c' or p.prorettype = 'record'::regtype)
       and not exists (select 1 from pg_depend d
                        where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
     order by 3`;
  const result: RowFunction[] = [];
  for (const row of rows) {
    let columns: RowFunction['columns'];
    if (row.row_table !== null) {
      columns = await sql<RowFunction['columns']>`
        select attname as name, format_type(atttypid, atttypmod) as type, attnotnull as "notNull"
          from pg_attribute
         where attrelid = ${row.row_table}::regclass and attnum > 0 and not attisdropped
         order by attnum`;
    } else {
      columns = (row.column_modes ?? []).flatMap((mode, i) =>
        mode === 'o' || mode === 't' || mode === 'b'
          ? [{ name: row.column_names![i]!, type: row.column_types![i]!, notNull: false }]
          : [],
      );
    }
    result.push({ signature: row.signature, name: row.name, rowTable: row.row_table, columns });
  }
  return result;
}

/** What is wrong with a function's result columns, by ROW_SOURCES and db/schema.ts. */
function compare(fn: RowFunction): string[] {
  const sources = ROW_SOURCES[fn.name];
  if (sources === undefined) {
    return [`${fn.signature} returns rows: declare the tables they come from in ROW_SOURCES`];
  }
  if (fn.columns.length === 0) return [`${fn.signature} returns records of no declared columns`];
  const problems: string[] = [];
  if (fn.rowTable !== null) {
    // The row type of a table: the drizzle table, column for column.
    const table = sources.tables.find((t) => getTableName(t) === fn.rowTable);
    if (table === undefined)
      return [`${fn.signature} returns SETOF ${fn.rowTable}, not one of its ROW_SOURCES`];
    const declared = Object.values(getTableColumns(table));
    const actual = new Map(fn.columns.map((c) => [c.name, c]));
    for (const column of declared) {
      const found = actual.get(column.name);
      if (found === undefined) {
        problems.push(
          `${fn.signature}: ${fn.rowTable}.${column.name} of db/schema.ts is missing from its rows`,
        );
      } else if (found.type !== pgTypeOf(column) || found.notNull !== column.notNull) {
        problems.push(
          `${fn.signature}: ${fn.rowTable}.${column.name} is ${found.type}${found.notNull ? ' not null' : ''} ` +
            `in the database, ${pgTypeOf(column)}${column.notNull ? ' not null' : ''} in db/schema.ts`,
        );
      }
    }
    for (const name of actual.keys()) {
      if (!declared.some((c) => c.name === name)) {
        problems.push(`${fn.signature}: ${fn.rowTable}.${name} is in the database, not in db/schema.ts`);
      }
    }
    return problems;
  }
  for (const column of fn.columns) {
    const computed = sources.computed?.[column.name];
    const origins =
      sources.renamed?.[column.name] ??
      sources.tables.flatMap((t) => Object.values(getTableColumns(t)).filter((c) => c.name === column.name));
    if (computed !== undefined) {
      if (column.type !== computed)
        problems.push(`${fn.signature}: ${column.name} is ${column.type}, not ${computed}`);
    } else if (origins.length === 0) {
      problems.push(
        `${fn.signature}: ${column.name} is named like no column of its ROW_SOURCES: declare it renamed or computed`,
      );
    }
    for (const origin of origins) {
      const expected = withoutModifier(pgTypeOf(origin));
      if (column.type !== expected) {
        problems.push(
          `${fn.signature}: ${column.name} is ${column.type}, but ${getTableName(origin.table)}.${origin.name} ` +
            `is ${expected} in db/schema.ts`,
        );
      }
    }
  }
  return problems;
}

describe("the SQL functions' rows", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: postgres.Sql;

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = postgres(database.url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await database?.drop();
  });

  it('pins the hashes drizzle records for the applied migrations', async () => {
    const applied = await sql<{ hash: string }[]>`select hash from drizzle.__drizzle_migrations order by id`;
    expect(applied.map((r) => r.hash).slice(0, pins.length)).toEqual(pins.map((p) => p.sha256));
  });

  it('match the drizzle tables they come from', async () => {
    const functions = await rowFunctions(sql);
    // Every declared function exists (an overload each at least), so the list does not rot.
    expect(new Set(functions.map((f) => f.name))).toEqual(new Set(Object.keys(ROW_SOURCES)));
    expect(functions.flatMap(compare)).toEqual([]);
  });
});
