// Secret variables given as files (<NAME>_FILE), as Docker Swarm mounts secrets under
// /run/secrets: what infra's swarm mode relies on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'chatbot-secret-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('secret variables from files', () => {
  it('reads <NAME>_FILE for each secret variable, without its trailing line break', () => {
    const config = loadConfig({
      DATABASE_URL_FILE: file('db', 'postgres://u:p@db:5432/chatbot\n'),
      REDIS_URL_FILE: file('redis', 'redis://:pw@redis:6379/0'),
      OPENROUTER_API_KEY_FILE: file('openrouter', 'sk-or-v1-from-a-file\r\n'),
    });
    expect(config.databaseUrl).toBe('postgres://u:p@db:5432/chatbot');
    expect(config.redisUrl).toBe('redis://:pw@redis:6379/0');
    expect(config.openrouterApiKey).toBe('sk-or-v1-from-a-file');
  });

  it('validates a value read from a file like any other', () => {
    const problems = problemsOf({
      DATABASE_URL_FILE: file('mysql', 'mysql://x\n'),
      REDIS_URL: 'redis://:pw@redis:6379/0',
    });
    expect(problems.join('\n')).toContain('DATABASE_URL must use postgres:// or postgresql://');
  });

  it('refuses a variable set both ways, and names the file that cannot be read once', () => {
    const problems = problemsOf({
      DATABASE_URL: 'postgres://u:p@db:5432/chatbot',
      DATABASE_URL_FILE: file('db2', 'postgres://other:p@db:5432/chatbot'),
      REDIS_URL_FILE: join(dir, 'missing'),
    });
    expect(problems).toEqual([
      'DATABASE_URL_FILE is set together with DATABASE_URL: set one of them',
      expect.stringMatching(/^REDIS_URL_FILE cannot be read \(ENOENT/),
    ]);
  });

  it('leaves variables that are not secret alone', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://u:p@db:5432/chatbot',
      REDIS_URL: 'redis://:pw@redis:6379/0',
      LOG_LEVEL_FILE: file('level', 'debug'),
    });
    expect(config.logLevel).toBe('info');
  });
});
