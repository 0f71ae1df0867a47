// Applies pending migrations: one connection, an advisory lock (so concurrent runs queue
// up instead of racing), idempotent. Exits non-zero with the reason on failure.
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));
/** Arbitrary constant naming this project's migration lock. */
const LOCK_KEY = 7_305_118_021;

export async function runMigrations(
  databaseUrl: string,
  migrationsFolder = MIGRATIONS_FOLDER,
): Promise<void> {
  const client = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await client`select pg_advisory_lock(${LOCK_KEY})`;
    try {
      await migrate(drizzle(client), { migrationsFolder });
    } finally {
      await client`select pg_advisory_unlock(${LOCK_KEY})`;
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}

export async function migrateCommand(env: Record<string, string | undefined> = process.env): Promise<number> {
  const url = env.DATABASE_URL;
  if (url === undefined || url.trim() === '') {
    process.stderr.write('migrate: DATABASE_URL is required\n');
    return 2;
  }
  try {
    await runMigrations(url);
    process.stderr.write('migrate: database is up to date\n');
    return 0;
  } catch (error) {
    process.stderr.write(`migrate: failed: ${describe(error)}\n`);
    return 1;
  }
}

function describe(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    parts.push(e.message);
  }
  return parts.join(': ') || String(error);
}
