// What the program reads from the checkout it runs in: where the repository is, its commit,
// and a hash of the database migrations the image carries.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in infra/). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The migrations the image ships (the Dockerfile copies these). */
export const MIGRATIONS_DIR = join(REPO_ROOT, 'service', 'drizzle');

/**
 * The repository root as a path relative to the working directory. Pulumi runs the program
 * in infra/ (the directory of `main`), so state holds "..", the same on every machine.
 */
export function repoRootFromCwd(): string {
  return relative(process.cwd(), REPO_ROOT) || '.';
}

/** The checkout's commit, or "unknown" outside a git checkout. */
export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** The commit's time (ISO 8601), the image's "created" label: the same for every build of it. */
export function gitCommitTime(commit: string): string {
  try {
    return execFileSync('git', ['show', '-s', '--format=%cI', commit], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

/**
 * sha256 over the migration files (SQL and drizzle's journal) by relative path and content.
 * A trigger of the migrations command beside the image digest.
 */
export function migrationsHash(dir: string = MIGRATIONS_DIR): string {
  const hash = createHash('sha256');
  if (!existsSync(dir)) return hash.update('no migrations').digest('hex');
  const files = (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .map((f) => f.split('\\').join('/'))
    .filter((f) => f.endsWith('.sql') || f === 'meta/_journal.json')
    .sort();
  for (const file of files) {
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(dir, file)))
      .update('\0');
  }
  return hash.digest('hex');
}
