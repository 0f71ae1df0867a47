// A small client of the Docker Engine API over its unix socket (the engine DOCKER_HOST names,
// else /var/run/docker.sock), plus the docker CLI for BuildKit builds. Secrets travel in
// request bodies and environment variables only, never on a command line.
import { request } from 'node:http';
import { run } from '@chatbot/test-kit/process';

const API = '/v1.41';

type Endpoint = { socketPath: string } | { host: string; port: number };

/** The engine DOCKER_HOST names: a unix socket (the default) or tcp://host:port (CI's dind). */
function endpoint(): Endpoint {
  const host = process.env['DOCKER_HOST'];
  if (host === undefined || host === '') return { socketPath: '/var/run/docker.sock' };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  const tcp = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(host);
  if (tcp !== null) return { host: tcp[1]!, port: Number(tcp[2]) };
  throw new Error(
    `the e2e harness speaks to a Docker engine over unix:// or tcp:// (no TLS); DOCKER_HOST is ${host}`,
  );
}

/**
 * Where the stack's published ports are reached, and the address to publish them on: the
 * local engine's 127.0.0.1, or a remote engine (tcp://name:port, GitLab's docker:dind) by its
 * host name, where they must be published on its interfaces.
 */
export function publishedPortsAt(): { host: string; bindAddress: string } {
  const e = endpoint();
  if ('socketPath' in e || e.host === 'localhost' || e.host === '127.0.0.1') {
    return { host: '127.0.0.1', bindAddress: '127.0.0.1' };
  }
  return { host: e.host, bindAddress: '0.0.0.0' };
}

export class DockerApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** One Engine API call; JSON in and out (a Buffer body is sent as a tar archive). */
export function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload =
      body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        ...endpoint(),
        method,
        path: `${API}${path}`,
        headers: {
          ...(payload !== undefined
            ? {
                'content-type': Buffer.isBuffer(body) ? 'application/x-tar' : 'application/json',
                'content-length': payload.length,
              }
            : {}),
        },
        timeout: options.timeoutMs ?? 120_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            let message = text;
            try {
              message = (JSON.parse(text) as { message?: string }).message ?? text;
            } catch {
              // not JSON
            }
            reject(new DockerApiError(status, `${method} ${path}: ${status} ${message}`));
            return;
          }
          if (text === '') resolve(undefined as T);
          else {
            try {
              resolve(JSON.parse(text) as T);
            } catch {
              resolve(text as T);
            }
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** A tar archive (ustar) of regular files, paths relative to the extraction root. */
export function tarOf(files: { path: string; content: string | Buffer; mode?: number }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const file of files) {
    const data = Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content, 'utf8');
    const name = file.path.replace(/^\/+/, '');
    const header = Buffer.alloc(512);
    let prefix = '';
    let base = name;
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', 155);
      prefix = name.slice(0, cut);
      base = name.slice(cut + 1);
    }
    const put = (value: string, offset: number, length: number) =>
      header.write(value, offset, length, 'utf8');
    const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0') + '\0';
    put(base, 0, 100);
    put(octal(file.mode ?? 0o644, 8), 100, 8);
    put(octal(0, 8), 108, 8);
    put(octal(0, 8), 116, 8);
    put(octal(data.length, 12), 124, 12);
    put(octal(Math.floor(Date.now() / 1000), 12), 136, 12);
    put('        ', 148, 8);
    put('0', 156, 1);
    put('ustar\0', 257, 6);
    put('00', 263, 2);
    put(prefix, 345, 155);
    let sum = 0;
    for (const byte of header) sum += byte;
    put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/**
 * Pulls `ref` unless the engine has it (as the Docker provider does before it creates a
 * container; a fresh engine, such as CI's dind, starts without the stack's images).
 */
export async function ensureImage(ref: string): Promise<void> {
  try {
    await api('GET', `/images/${encodeURIComponent(ref)}/json`);
    return;
  } catch (err) {
    if ((err as { status?: number }).status !== 404 || ref.startsWith('sha256:')) throw err;
  }
  const at = ref.lastIndexOf(':');
  const tagged = at > ref.lastIndexOf('/');
  const query = tagged
    ? `fromImage=${encodeURIComponent(ref.slice(0, at))}&tag=${encodeURIComponent(ref.slice(at + 1))}`
    : `fromImage=${encodeURIComponent(ref)}&tag=latest`;
  const progress = await api<unknown>('POST', `/images/create?${query}`, undefined, { timeoutMs: 600_000 });
  // Errors during a pull arrive in the progress stream of a 200 answer.
  const error = /"error":\s*"([^"]*)"/.exec(
    typeof progress === 'string' ? progress : JSON.stringify(progress),
  );
  if (error !== null) throw new Error(`pulling ${ref} failed: ${error[1]}`);
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  Config: { Labels: Record<string, string> | null; Image: string };
  Image: string;
  State: {
    Status: string;
    Running: boolean;
    ExitCode: number;
    Health?: { Status: string; Log?: { ExitCode: number; Output: string }[] };
  };
  NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null };
}

export const inspectContainer = (id: string) =>
  api<ContainerInspect>('GET', `/containers/${encodeURIComponent(id)}/json`);

export async function containerLogs(id: string, tail = 40): Promise<string> {
  const r = await run('docker', ['logs', '--tail', String(tail), id], { timeoutMs: 30_000 });
  return `${r.stdout}${r.stderr}`.trim();
}

/** Everything labelled with `label=value`, and containers whose name starts with `prefix-`. */
export async function removeLabelled(label: string, value: string, prefix: string): Promise<string[]> {
  const removed: string[] = [];
  const filter = encodeURIComponent(JSON.stringify({ label: [`${label}=${value}`] }));
  const byLabel = await api<{ Id: string; Names: string[] }[]>(
    'GET',
    `/containers/json?all=true&filters=${filter}`,
  );
  const byName = await api<{ Id: string; Names: string[] }[]>(
    'GET',
    `/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify({ name: [`^/${prefix}-`] }))}`,
  );
  const containers = new Map([...byLabel, ...byName].map((c) => [c.Id, c.Names[0] ?? c.Id]));
  await Promise.all(
    [...containers].map(async ([id, name]) => {
      await api('DELETE', `/containers/${id}?force=true&v=true`).catch(() => undefined);
      removed.push(`container ${name}`);
    }),
  );
  const networks = await api<{ Id: string; Name: string }[]>('GET', `/networks?filters=${filter}`);
  for (const n of networks) {
    await api('DELETE', `/networks/${n.Id}`).catch(() => undefined);
    removed.push(`network ${n.Name}`);
  }
  const volumes = await api<{ Volumes: { Name: string }[] | null }>('GET', `/volumes?filters=${filter}`);
  for (const v of volumes.Volumes ?? []) {
    await api('DELETE', `/volumes/${encodeURIComponent(v.Name)}?force=true`).catch(() => undefined);
    removed.push(`volume ${v.Name}`);
  }
  const images = await api<{ Id: string; RepoTags: string[] | null }[]>(
    'GET',
    `/images/json?filters=${filter}`,
  );
  // Derived images first (the newest), then what they were built from.
  for (const image of images.reverse()) {
    await api('DELETE', `/images/${image.Id}?force=true`).catch(() => undefined);
    removed.push(`image ${image.RepoTags?.[0] ?? image.Id}`);
  }
  return removed;
}
