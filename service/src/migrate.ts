// Applies pending migrations: one connection, an advisory lock (so concurrent runs queue
// up instead of racing), idempotent. Exits non-zero with the reason on failure.
//
// With MIGRATION_DATABASE_URL (the owner) it migrates as the owner and then provisions the
// service's login role from DATABASE_URL (API.md, "Database roles"): created when missing, its
// password set to the URL's, a member of the application role and of nothing else. Without it,
// DATABASE_URL is both, as before.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { APP_ROLE, pgErrorCode } from './db/client.ts';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));
/** Arbitrary constant naming this project's migration lock. */
const LOCK_KEY = 7_305_118_021;
/** What a login role's name may be: a plain lower-case identifier. */
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface MigrateOptions {
  /** The service's URL, whose user `migrate` provisions as a login role (when not the owner). */
  appDatabaseUrl?: string | undefined;
}

export async function runMigrations(
  databaseUrl: string,
  migrationsFolder = MIGRATIONS_FOLDER,
  options: MigrateOptions = {},
): Promise<void> {
  const client = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await client`select pg_advisory_lock(${LOCK_KEY})`;
    try {
      await migrate(drizzle(client), { migrationsFolder });
      if (options.appDatabaseUrl !== undefined) await provisionLogin(client, options.appDatabaseUrl);
    } finally {
      await client`select pg_advisory_unlock(${LOCK_KEY})`;
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}

/**
 * A SCRAM-SHA-256 verifier of `password`, as Postgres stores it (RFC 5802/7677): given to
 * CREATE/ALTER ROLE ... PASSWORD, the password itself never reaches the server or its logs.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const b64 = (bytes: Buffer) => bytes.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/** The service's login role, named and keyed by its URL; nothing when the URL is the owner's. */
async function provisionLogin(client: postgres.Sql, appDatabaseUrl: string): Promise<void> {
  const url = new URL(appDatabaseUrl);
  const role = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const [{ owner }] = (await client`select current_user as owner`) as unknown as [{ owner: string }];
  if (role === owner) return;
  if (!ROLE_NAME.test(role)) {
    throw new Error(`DATABASE_URL's user "${role}" must be a lower-case name (letters, digits, _)`);
  }
  if (password === '') throw new Error(`DATABASE_URL gives no password for the login role ${role}`);
  const [existing] = await client<
    { rolsuper: boolean }[]
  >`select rolsuper from pg_roles where rolname = ${role}`;
  if (existing?.rolsuper === true) {
    throw new Error(`DATABASE_URL's user ${role} is a superuser: give the service a login role of its own`);
  }
  // Postgres takes a password in this form as the verifier itself. Its SASLprep changes only
  // passwords beyond printable ASCII; those go in clear, for the server to hash.
  const secret = /^[\x20-\x7e]*$/.test(password) ? scramVerifier(password) : password;
  const statement = async (template: string, ...args: string[]) => {
    const [{ text }] = (await client.unsafe(`select format(${template}) as text`, args)) as unknown as [
      { text: string },
    ];
    await client.unsafe(text);
  };
  if (existing === undefined) {
    try {
      await statement(
        `'CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', $1::text, $2::text`,
        role,
        secret,
      );
    } catch (error) {
      // Another database of the cluster made it meanwhile (roles are the cluster's).
      if (pgErrorCode(error) !== '42710') throw error;
    }
  }
  await statement(`'ALTER ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text`, role, secret);
  await statement(`'GRANT %I TO %I WITH INHERIT TRUE, SET TRUE', $1::text, $2::text`, APP_ROLE, role);
}

export async function migrateCommand(env: Record<string, string | undefined> = process.env): Promise<number> {
  const appUrl = nonEmpty(env.DATABASE_URL);
  const ownerUrl = nonEmpty(env.MIGRATION_DATABASE_URL);
  if (appUrl === undefined && ownerUrl === undefined) {
    process.stderr.write('migrate: DATABASE_URL is required\n');
    return 2;
  }
  try {
    if (ownerUrl === undefined) await runMigrations(appUrl!);
    else await runMigrations(ownerUrl, MIGRATIONS_FOLDER, { appDatabaseUrl: appUrl });
    process.stderr.write('migrate: database is up to date\n');
    return 0;
  } catch (error) {
    process.stderr.write(`migrate: failed: ${describe(error)}\n`);
    return 1;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function describe(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    parts.push(e.message);
  }
  return parts.join(': ') || String(error);
}
