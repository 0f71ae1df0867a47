// Docker from tests and benchmarks: the docker CLI, and Postgres (pgvector) and Redis started
// with the official image names, ports published on 127.0.0.1 with a port Docker picks (or on
// a Docker network, or the host's), removed afterwards.
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

/**
 * Runs the docker CLI. Secrets go in `env` (added to this process's environment) and are
 * named in `args` (`-e NAME`), never valued there.
 */
export async function docker(
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
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

/** Polls `probe` until it answers true (an error counts as "not yet"), at most `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
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

/** Where a container listens, and how it is reached. */
export interface ContainerOptions {
  /** Default: a unique `chatbot-test-…` name. */
  name?: string;
  /** Default: a random one. */
  password?: string;
  /**
   * Published on 127.0.0.1 (default): on `hostPort` (it survives a restart), else a port
   * Docker picks. `{ network }`: on that Docker network, nothing published, `url` names the
   * container. `{ hostNetwork: port }`: on the host's network, listening on 127.0.0.1:port.
   */
  hostPort?: number;
  network?: string;
  hostNetwork?: number;
}

function placement(options: ContainerOptions, port: number) {
  const listen = options.hostNetwork ?? port;
  const flags =
    options.network !== undefined
      ? ['--network', options.network]
      : options.hostNetwork !== undefined
        ? ['--network', 'host']
        : ['-p', `127.0.0.1:${options.hostPort ?? ''}:${port}`];
  const address = async (name: string) =>
    options.network !== undefined
      ? `${name}:${port}`
      : `127.0.0.1:${options.hostNetwork ?? (await publishedPort(name, port))}`;
  return { listen, flags, address };
}

/**
 * Postgres with pgvector. Tests run it without durability (fsync off); `durable` keeps the
 * defaults (benchmarks), and `args` adds server settings (`-c name=value` pairs, after the
 * defaults: they win).
 */
export async function startPostgres(
  options: ContainerOptions & { durable?: boolean; args?: string[] } = {},
): Promise<StartedContainer> {
  const name = options.name ?? uniqueName('chatbot-test-pg');
  const fast = ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
  const password = options.password ?? randomBytes(12).toString('hex');
  const { listen, flags, address } = placement(options, 5432);
  const onHost =
    options.hostNetwork === undefined ? [] : ['-c', `port=${listen}`, '-c', 'listen_addresses=127.0.0.1'];
  await docker(
    [
      'run',
      '-d',
      '--name',
      name,
      ...flags,
      '-e',
      'POSTGRES_PASSWORD',
      '-e',
      'POSTGRES_DB=chatbot',
      POSTGRES_IMAGE,
      ...(options.durable === true ? [] : fast),
      '-c',
      'max_connections=300',
      ...onHost,
      ...(options.args ?? []),
    ],
    { env: { POSTGRES_PASSWORD: password } },
  );
  try {
    // pg_isready over TCP inside the container: the entrypoint's temporary server during
    // initialisation listens on the socket only, so TCP readiness means the real server.
    await waitFor('postgres', async () => {
      const probe = [
        'pg_isready',
        '-h',
        '127.0.0.1',
        '-p',
        String(listen),
        '-U',
        'postgres',
        '-d',
        'chatbot',
      ];
      await docker(['exec', name, ...probe]);
      return true;
    });
    return {
      name,
      url: `postgres://postgres:${password}@${await address(name)}/chatbot`,
      stop: () => removeContainer(name),
    };
  } catch (error) {
    await removeContainer(name);
    throw error;
  }
}

/**
 * Redis with a password (in a config file copied into the container, not on redis-server's
 * argv). Without persistence (a restart loses its data), or `durable`: AOF, fsync every second.
 */
export async function startRedis(
  options: ContainerOptions & { durable?: boolean } = {},
): Promise<StartedContainer> {
  const name = options.name ?? uniqueName('chatbot-test-redis');
  const password = options.password ?? randomBytes(12).toString('hex');
  const { listen, flags, address } = placement(options, 6379);
  await docker(['create', '--name', name, ...flags, REDIS_IMAGE, 'redis-server', '/tmp/redis.conf']);
  const config = [
    options.hostNetwork === undefined ? 'bind * -::*' : `bind 127.0.0.1\nport ${listen}`,
    `requirepass ${password}`,
    options.durable === true ? 'appendonly yes\nappendfsync everysec' : 'save ""\nappendonly no',
  ];
  const dir = await mkdtemp(join(tmpdir(), 'chatbot-redis-'));
  try {
    const conf = join(dir, 'redis.conf');
    await writeFile(conf, `${config.join('\n')}\n`, { mode: 0o644 });
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
      const ping = ['redis-cli', '-p', String(listen), 'ping'];
      const out = await docker(['exec', '-e', 'REDISCLI_AUTH', name, ...ping], {
        env: { REDISCLI_AUTH: password },
      });
      return out === 'PONG';
    });
    return { name, url: `redis://:${password}@${await address(name)}`, stop: () => removeContainer(name) };
  } catch (error) {
    await removeContainer(name);
    throw error;
  }
}
