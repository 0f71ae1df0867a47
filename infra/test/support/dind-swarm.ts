// A local Docker Swarm for the docker tests: Docker-in-Docker engines (docker:28.5.2-dind) on
// a Docker network of their own, one manager and workers, every container labelled with the
// run's id and removed by `remove`. The dind flags grant everything --privileged grants but
// CAP_SYS_RESOURCE (some kernels withhold it, and `docker run --privileged` then fails with
// "unable to apply caps"). Each engine keeps its images and containers on a tmpfs: loading
// images and removing the engines take seconds instead of disk-bound tens of seconds, and
// nothing stays behind on disk. The nested engines start without images: they get them with
// `docker save | docker exec -i <node> docker load`.
//
// The kernel of this project's machines has no IPVS: Swarm's virtual IPs and routing mesh do not
// work, so services here use endpoint mode dnsrr and publish ports in host mode.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { docker } from '@chatbot/test-kit/docker';
import { engineHost, publish } from './nginx-container.ts';

const exec = promisify(execFile);

export const DIND_IMAGE = 'docker:28.5.2-dind';
export const RUN_LABEL = 'com.chatbot.swarm-test-run';

/** Flags of a nested engine that runs containers, publishes ports and joins a swarm. */
const DIND_FLAGS = [
  '--cap-add',
  'ALL',
  '--cap-drop',
  'SYS_RESOURCE',
  '--security-opt',
  'seccomp=unconfined',
  '--security-opt',
  'apparmor=unconfined',
  '--security-opt',
  'systempaths=unconfined',
  '--cgroupns',
  'host',
  '-v',
  '/sys/fs/cgroup:/sys/fs/cgroup:rw',
  // The engine's data root in memory (about 300 MB per image loaded), executable for overlay2.
  '--tmpfs',
  '/var/lib/docker:rw,exec,suid,dev,size=4g',
];

/** The engine's API port inside the dind container (plain TCP, as with DOCKER_TLS_CERTDIR=). */
const ENGINE_PORT = 2375;

export interface NodeSpec {
  /** The node's host name in the swarm. */
  hostname: string;
  /** Ports of the node published on this machine (loopback), e.g. those its services publish in host mode. */
  publish?: number[];
  /** Node labels (`docker node update --label-add`). */
  labels?: Record<string, string>;
}

export interface DindSwarm {
  runId: string;
  network: string;
  /** Container name of each node, by host name. */
  containers: Record<string, string>;
  /** The environment that points a docker CLI at the manager's engine. */
  managerEnv: NodeJS.ProcessEnv;
  /** `docker` against the manager (the swarm's API). */
  manager(args: string[]): Promise<string>;
  /** `docker` inside a node's engine. */
  onNode(hostname: string, args: string[], stdin?: string): Promise<string>;
  /** Where this machine reaches a port a node publishes. */
  url(hostname: string, port: number, scheme: 'http' | 'https'): Promise<string>;
  remove(): Promise<void>;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function pipe(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')}: ${stderr}`))));
  });
}

/**
 * Starts the nodes (the first is the manager), loads the images into the nodes that need them,
 * forms the swarm and labels the nodes.
 */
export async function startDindSwarm(options: {
  runId: string;
  prefix: string;
  nodes: NodeSpec[];
  /** Image -> the host names of the nodes that get it. */
  images: Record<string, string[]>;
}): Promise<DindSwarm> {
  const { runId, prefix, nodes } = options;
  const label = `${RUN_LABEL}=${runId}`;
  const network = `${prefix}-net`;
  const containers = Object.fromEntries(nodes.map((n) => [n.hostname, `${prefix}-${n.hostname}`]));
  const managerName = nodes[0]?.hostname ?? '';
  const onNode = async (hostname: string, args: string[]) =>
    docker(['exec', containers[hostname] ?? hostname, 'docker', ...args]);

  const remove = async () => {
    const ids = (await docker(['ps', '-aq', '--filter', `label=${label}`]).catch(() => ''))
      .split('\n')
      .filter(Boolean);
    // -v: anonymous volumes too, should the image declare any besides the tmpfs data root.
    if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]).catch(() => undefined);
    await docker(['network', 'rm', network]).catch(() => undefined);
  };

  try {
    await docker(['network', 'create', '--label', label, network]);
    await Promise.all(
      nodes.map((n) => {
        const ports = [...(n.hostname === managerName ? [ENGINE_PORT] : []), ...(n.publish ?? [])];
        return docker([
          'run',
          '-d',
          '--name',
          containers[n.hostname] ?? '',
          '--hostname',
          n.hostname,
          '--network',
          network,
          '--label',
          label,
          ...DIND_FLAGS,
          ...ports.flatMap((p) => ['-p', publish(p)]),
          DIND_IMAGE,
        ]);
      }),
    );
    await Promise.all(
      nodes.map((n) =>
        waitFor(`the engine of ${n.hostname}`, 60_000, async () =>
          (await onNode(n.hostname, ['info', '--format', '{{.ServerVersion}}'])) !== '' ? true : undefined,
        ),
      ),
    );

    // Images: one `docker save | docker load` per node that needs the image, all at once.
    await Promise.all(
      Object.entries(options.images).flatMap(([image, on]) =>
        on.map((hostname) =>
          pipe('sh', [
            '-c',
            'docker save "$1" | docker exec -i "$2" docker load -q',
            'sh',
            image,
            containers[hostname] ?? '',
          ]),
        ),
      ),
    );

    const ipOf = async (hostname: string) =>
      docker([
        'inspect',
        '--format',
        `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`,
        containers[hostname] ?? '',
      ]);
    const managerIp = await ipOf(managerName);
    await onNode(managerName, ['swarm', 'init', '--advertise-addr', managerIp]);
    const token = await onNode(managerName, ['swarm', 'join-token', '-q', 'worker']);
    for (const n of nodes.slice(1)) {
      await onNode(n.hostname, ['swarm', 'join', '--token', token, `${managerIp}:2377`]);
    }
    await waitFor('every node ready', 60_000, async () => {
      const states = (await onNode(managerName, ['node', 'ls', '--format', '{{.Status}}'])).split('\n');
      return states.length === nodes.length && states.every((s) => s === 'Ready') ? true : undefined;
    });
    for (const n of nodes) {
      for (const [key, value] of Object.entries(n.labels ?? {})) {
        await onNode(managerName, ['node', 'update', '--label-add', `${key}=${value}`, n.hostname]);
      }
    }

    const managerPort = /:(\d+)\s*$/m.exec(
      await docker(['port', containers[managerName] ?? '', `${ENGINE_PORT}/tcp`]),
    )?.[1];
    const managerEnv = { ...process.env, DOCKER_HOST: `tcp://${engineHost()}:${managerPort}` };
    return {
      runId,
      network,
      containers,
      managerEnv,
      manager: (args) => docker(args, { env: managerEnv }),
      onNode: async (hostname, args, stdin) => {
        if (stdin === undefined) return onNode(hostname, args);
        const child = exec('docker', ['exec', '-i', containers[hostname] ?? '', 'docker', ...args], {
          maxBuffer: 16 * 1024 * 1024,
        });
        child.child.stdin?.end(stdin);
        return (await child).stdout.trim();
      },
      url: async (hostname, port, scheme) => {
        const outer = /:(\d+)\s*$/m.exec(
          await docker(['port', containers[hostname] ?? '', `${port}/tcp`]),
        )?.[1];
        return `${scheme}://${engineHost()}:${outer}`;
      },
      remove,
    };
  } catch (err) {
    await remove();
    throw err;
  }
}
