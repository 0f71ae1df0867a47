// Docker from tests: containers started with the official image names, ports published on
// 127.0.0.1 with a port Docker picks, removed afterwards.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export const POSTGRES_IMAGE = process.env.TEST_POSTGRES_IMAGE ?? 'pgvector/pgvector:pg17';
export const REDIS_IMAGE = process.env.TEST_REDIS_IMAGE ?? 'redis:7.4-bookworm';

/** Runs the docker CLI. Secrets go in `env` and are named in `args` (`-e NAME`), never valued there. */
export async function docker(
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<string> {
  const { stdout } = await exec('docker', args, {
    timeout: options.timeoutMs ?? 120_000,
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.trim();
}

export const uniqueName = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;

export async function publishedPort(container: string, port: number): Promise<number> {
  const out = await docker(['port', container, `${port}/tcp`]);
  const match = /127\.0\.0\.1:(\d+)/.exec(out);
  if (match === null) throw new Error(`container ${container} does not publish ${port} on 127.0.0.1: ${out}`);
  return Number(match[1]);
}

export async function removeContainer(name: string): Promise<void> {
  await docker(['rm', '-f', '-v', name]).catch(() => undefined);
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not become ready in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface StartedContainer {
  name: string;
  url: string;
  stop(): Promise<void>;
}

/** A loopback port nothing listens on now (for a container that must keep its port across restarts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Publishes a container port on 127.0.0.1: on `hostPort` (it survives a restart), else one Docker picks. */
const publishOn = (port: number, hostPort?: number) =>
  hostPort === undefined ? `127.0.0.1::${port}` : `127.0.0.1:${hostPort}:${port}`;

/**
 * Postgres with pgvector. Tests run it without durability (fsync off); `durable` keeps the
 * defaults (benchmarks), and `args` adds server settings (`-c name=value` pairs). `hostPort`
 * keeps its address across `docker restart` (Docker picks a new port otherwise).
 */
export async function startPostgres(
  options: { durable?: boolean; args?: string[]; hostPort?: number } = {},
): Promise<StartedContainer> {
  const name = uniqueName('chatbot-test-pg');
  const fast = ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
  const password = randomBytes(12).toString('hex');
  await docker(
    [
      'run',
      '-d',
      '--name',
      name,
      '-p',
      publishOn(5432, options.hostPort),
      '-e',
      'POSTGRES_PASSWORD',
      '-e',
      'POSTGRES_DB=chatbot',
      POSTGRES_IMAGE,
      ...(options.durable === true ? [] : fast),
      '-c',
      'max_connections=300',
      ...(options.args ?? []),
    ],
    { env: { POSTGRES_PASSWORD: password } },
  );
  try {
    // pg_isready over TCP inside the container: the entrypoint's temporary server during
    // initialisation listens on the socket only, so TCP readiness means the real server.
    await waitFor('postgres', async () => {
      await docker(['exec', name, 'pg_isready', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'chatbot']);
      return true;
    });
    const port = await publishedPort(name, 5432);
    return {
      name,
      url: `postgres://postgres:${password}@127.0.0.1:${port}/chatbot`,
      stop: () => removeContainer(name),
    };
  } catch (error) {
    await removeContainer(name);
    throw error;
  }
}

/** Redis without persistence: a restart loses its data. `hostPort` as for startPostgres. */
export async function startRedis(options: { hostPort?: number } = {}): Promise<StartedContainer> {
  const name = uniqueName('chatbot-test-redis');
  const password = randomBytes(12).toString('hex');
  await docker([
    'create',
    '--name',
    name,
    '-p',
    publishOn(6379, options.hostPort),
    REDIS_IMAGE,
    'redis-server',
    '/tmp/redis.conf',
  ]);
  // The password goes in a config file copied into the container, not on redis-server's argv.
  const dir = await mkdtemp(join(tmpdir(), 'chatbot-redis-'));
  try {
    const conf = join(dir, 'redis.conf');
    await writeFile(conf, `bind * -::*\nrequirepass ${password}\nsave ""\nappendonly no\n`, { mode: 0o644 });
    await docker(['cp', conf, `${name}:/tmp/redis.conf`]);
    await docker(['start', name]);
  } catch (error) {
    await removeContainer(name);
    throw error;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  try {
    await waitFor('redis', async () => {
      const out = await docker(['exec', '-e', 'REDISCLI_AUTH', name, 'redis-cli', 'ping'], {
        env: { REDISCLI_AUTH: password },
      });
      return out === 'PONG';
    });
    const port = await publishedPort(name, 6379);
    return { name, url: `redis://:${password}@127.0.0.1:${port}`, stop: () => removeContainer(name) };
  } catch (error) {
    await removeContainer(name);
    throw error;
  }
}
