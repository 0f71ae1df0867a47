// A real nginx (the image the stacks run) with a stack's declared configuration, for the
// docker tests: the files a stack uploads into the nginx container, containers started with
// files written first, requests over HTTPS to the published ports, and cleanup.
import { request as httpRequest, type Agent as HttpAgent } from 'node:http';
import { request, type Agent } from 'node:https';
import { docker } from '@chatbot/test-kit/docker';
import { run } from '@chatbot/test-kit/process';
import { NGINX_PATHS } from '../../nginx-config.ts';
import { named, reveal, type RunResult } from './stack.ts';

/** Where published ports are reachable: loopback with a local engine, else the engine's host. */
export function engineHost(): string {
  const remote = /^tcp:\/\/([^:/]+)/.exec(process.env['DOCKER_HOST'] ?? '')?.[1];
  return remote === undefined || remote === 'localhost' ? '127.0.0.1' : remote;
}
export const publish = (port: number) => (engineHost() === '127.0.0.1' ? `127.0.0.1::${port}` : String(port));

/** What a stack declares for nginx: image, main config, upstream files and TLS paths. */
export interface Declared {
  image: string;
  config: string;
  bootstrap: string;
  upstream: string;
  certificate: string;
  key: string;
  domain: string;
}

export function declared(result: RunResult): Declared {
  const nginx = named(result, 'proxy-nginx');
  const uploads = reveal(nginx.inputs['uploads']) as { file: string; content: string }[];
  const file = (path: string) => uploads.find((u) => u.file === path)?.content ?? '';
  const config = file(NGINX_PATHS.config);
  return {
    image: String(nginx.inputs['image']),
    config,
    bootstrap: file(NGINX_PATHS.upstream),
    upstream: String(named(result, 'proxy-switch').inputs['stdin']),
    certificate: /ssl_certificate (\S+);/.exec(config)?.[1] ?? '',
    key: /ssl_certificate_key (\S+);/.exec(config)?.[1] ?? '',
    domain: /server_name (\S+);/.exec(config)?.[1] ?? '',
  };
}

/** The swarm service's input that names a Swarm config: its content, as the provider gets it. */
function configContent(result: RunResult, configId: string): string {
  const config = named(result, configId.replace(/^id-/, ''));
  return Buffer.from(String(config.inputs['data']), 'base64').toString('utf8');
}

/** What a stack with orchestrator swarm declares for nginx (no upstream file: no colors). */
export function declaredSwarm(result: RunResult): Declared {
  const nginx = named(result, 'proxy-nginx');
  const spec = (
    nginx.inputs['taskSpec'] as {
      containerSpec: { image: string; configs: { configId: string; fileName: string }[] };
    }
  ).containerSpec;
  const conf = spec.configs.find((c) => c.fileName === NGINX_PATHS.config);
  const config = conf === undefined ? '' : configContent(result, conf.configId);
  return {
    image: spec.image,
    config,
    bootstrap: '',
    upstream: '',
    certificate: /ssl_certificate (\S+);/.exec(config)?.[1] ?? '',
    key: /ssl_certificate_key (\S+);/.exec(config)?.[1] ?? '',
    domain: /server_name (\S+);/.exec(config)?.[1] ?? '',
  };
}

export const DAEMON = `exec nginx -g 'daemon off;'`;

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A shell script that writes files given as base64 environment variables, then runs `then`. */
function writeFiles(
  files: Record<string, string>,
  then: string,
): { script: string; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const lines = ['set -e'];
  Object.entries(files).forEach(([path, content], i) => {
    env[`FILE_${i}`] = b64(content);
    lines.push(`mkdir -p "$(dirname '${path}')"`, `printf %s "$FILE_${i}" | base64 -d > '${path}'`);
  });
  lines.push(then);
  return { script: lines.join('\n'), env };
}

/** Containers and networks of one test file, named after its prefix and removed by `cleanup`. */
export function nginxContainers(prefix: string) {
  const created = { containers: [] as string[], networks: [] as string[] };
  return {
    prefix,
    /** Runs the image with the files written first (they travel as base64 environment variables). */
    async runWithFiles(
      image: string,
      name: string,
      files: Record<string, string>,
      command: string,
      dockerArgs: string[],
    ): Promise<string> {
      const { script, env } = writeFiles(files, command);
      created.containers.push(name);
      const args = ['run', '--name', name, ...dockerArgs, ...Object.keys(env).flatMap((k) => ['-e', k])];
      return docker([...args, '--entrypoint', 'sh', image, '-c', script], { env });
    },
    async network(name: string): Promise<string> {
      await docker(['network', 'create', name]);
      created.networks.push(name);
      return name;
    },
    /** The published host port of a container's port. */
    async port(container: string, port: number): Promise<string> {
      return /:(\d+)\s*$/m.exec(await docker(['port', container, `${port}/tcp`]))?.[1] ?? '';
    },
    async cleanup(): Promise<void> {
      for (const c of created.containers) await docker(['rm', '-f', c]).catch(() => undefined);
      for (const n of created.networks) await docker(['network', 'rm', n]).catch(() => undefined);
    },
  };
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET with Host: localhost; over HTTPS it trusts `ca` and names localhost. */
export function get(url: string, ca?: string, agent?: Agent | HttpAgent): Promise<Response> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        headers: { host: 'localhost', 'accept-encoding': 'identity' },
        ...(ca !== undefined ? { ca, servername: 'localhost' } : {}),
        ...(agent !== undefined ? { agent } : {}),
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * nginx with a stack's main configuration, the given upstream file, a certificate and more
 * files, on `network` with ports 80 and 443 published; resolves once it answers HTTPS.
 */
export async function startNginx(
  containers: ReturnType<typeof nginxContainers>,
  d: Declared,
  options: {
    name: string;
    network: string;
    upstream: string;
    cert: { certificatePem: string; privateKeyPem: string; caPem?: string };
    files?: Record<string, string>;
  },
): Promise<{ base: string; plain: string }> {
  const { name, cert } = options;
  const files = {
    [NGINX_PATHS.config]: d.config,
    [NGINX_PATHS.upstream]: options.upstream,
    [d.certificate]: cert.certificatePem,
    [d.key]: cert.privateKeyPem,
    ...options.files,
  };
  await containers.runWithFiles(d.image, name, files, DAEMON, [
    '-d',
    '--network',
    options.network,
    '-p',
    publish(80),
    '-p',
    publish(443),
  ]);
  const base = `https://${engineHost()}:${await containers.port(name, 443)}`;
  const plain = `http://${engineHost()}:${await containers.port(name, 80)}`;
  const deadline = Date.now() + 30_000;
  // A self-signed certificate is its own CA.
  const ca = cert.caPem ?? cert.certificatePem;
  while ((await get(`${base}/health`, ca).catch(() => undefined)) === undefined) {
    if (Date.now() > deadline)
      throw new Error(`nginx did not answer: ${await containerLogs(name).catch(() => '')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { base, plain };
}

/** A container's log, both streams (nginx writes its errors and refusals to stderr). */
export async function containerLogs(name: string): Promise<string> {
  const { code, stdout, stderr } = await run('docker', ['logs', name], { timeoutMs: 60_000 });
  if (code !== 0) throw new Error(`docker logs ${name} exited with ${code}: ${stderr}`);
  return stdout + stderr;
}
