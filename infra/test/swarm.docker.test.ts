// The swarm mode's nginx side on a real Docker Swarm: three Docker-in-Docker engines (one
// manager, two workers; support/dind-swarm.ts), the overlay network, a stand-in of the app as
// a dnsrr service (node:24-bookworm-slim answering its task's name, with the app's declared
// healthcheck and update and rollback settings), and nginx as a service pinned to the edge node
// with the dev stack's rendered swarm nginx.conf (a Swarm config), a test certificate (config
// and secret) and its ports published in host mode. The web volume is filled by the program's
// own web-fill script (a Swarm job on the edge node). Through nginx, under a steady load of
// requests, the test checks that every task is reached; that a rolling update of the image
// (start-first, one task at a time), scaling up and down, and an update whose tasks never turn
// healthy (rolled back by Swarm by itself) cost no request, and that nginx reaches the new tasks
// and leaves the gone ones; and that when a worker node is killed its tasks are rescheduled on
// the other nodes and the service keeps answering. Each rollout prints its timeline (each task
// started, running, told to stop, stopped, with the requests sent and failed by then). It waits
// on observed state (update status, task states, node state, the tasks nginx reached), never on
// fixed sleeps, with generous deadlines. To keep it short it sets the health interval, start
// period and monitor windows in seconds; the rest is what the stack declares.
//
// What this does not test: the Pulumi program deploying this. The services here are created
// with the docker CLI from what the mock runtime says the program declares; the real `pulumi up`
// (the docker provider creating the services, secrets and configs, convergeConfig waiting and
// failing on a rollback, the migrations command) cannot run on this machine, whose Go module
// proxy serves none of the provider plugins (README, "Installing without internet access").
// That end-to-end test stays blocked.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import { promisify } from 'node:util';
import { docker, uniqueName } from '@chatbot/test-kit/docker';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { NGINX_PATHS } from '../nginx-config.ts';
import { SWARM_WEB_FILL_SCRIPT } from '../swarm-proxy.ts';
import { startDindSwarm, type DindSwarm } from './support/dind-swarm.ts';
import { declaredSwarm, get, type Declared } from './support/nginx-container.ts';
import { named, reveal, runStack, type RunResult } from './support/stack.ts';
import { makeTestCertificate, type TestCertificate } from './support/test-cert.ts';

const exec = promisify(execFile);

const prefix = uniqueName('chatbot-infra-swarm');
const runId = randomBytes(6).toString('hex');
const APP_IMAGE = 'chatbot-swarm-test/app';
const WEB_IMAGE = 'chatbot-swarm-test/web';
const REPLICAS = 4;

/** The app stand-in: answers every path with its task's name; /health fails with FAIL_HEALTH set. */
const SERVER = [
  "const s = require('http').createServer((q, r) => {",
  "  if (q.url === '/health' && process.env.FAIL_HEALTH) { r.statusCode = 500; return r.end('unhealthy'); }",
  "  r.setHeader('content-type', 'text/plain'); r.end(require('os').hostname());",
  '}).listen(8000);',
  "process.on('SIGTERM', () => s.close(() => process.exit(0)));",
].join('\n');

interface Spec {
  name: string;
  mode: { replicated: { replicas: number } };
  updateConfig: Record<string, string | number>;
  rollbackConfig: Record<string, string | number>;
  endpointSpec: {
    mode: string;
    ports?: { targetPort: number; publishedPort: number; publishMode: string }[];
  };
  taskSpec: {
    containerSpec: {
      image: string;
      healthcheck: { tests: string[]; timeout: string; retries: number };
      stopSignal: string;
      stopGracePeriod: string;
      configs?: { configName: string; fileName: string }[];
      secrets?: { fileName: string; fileUid?: string; fileGid?: string; fileMode?: number }[];
      mounts: { type: string; source: string; target: string; readOnly?: boolean }[];
    };
    placement?: { constraints: string[] };
    restartPolicy: { condition: string; delay: string };
  };
}

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** A healthcheck's test as the shell command `docker service create --health-cmd` takes. */
function healthCommand(tests: string[]): string {
  return tests[0] === 'CMD-SHELL' ? (tests[1] ?? '') : tests.slice(1).map(shellQuote).join(' ');
}

/** The declared update or rollback settings as CLI flags, with a short monitor window. */
function policyFlags(
  kind: 'update' | 'rollback',
  c: Record<string, string | number>,
  monitor: string,
): string[] {
  return [
    [`--${kind}-parallelism`, String(c['parallelism'])],
    [`--${kind}-order`, String(c['order'])],
    [`--${kind}-failure-action`, String(c['failureAction'])],
    [`--${kind}-max-failure-ratio`, String(c['maxFailureRatio'])],
    [`--${kind}-delay`, String(c['delay'])],
    [`--${kind}-monitor`, monitor],
  ].flat();
}

/** What the service declares, as `docker service create` flags (timings in seconds, see the header). */
function declaredFlags(s: Spec, network: string): string[] {
  const spec = s.taskSpec.containerSpec;
  const hc = spec.healthcheck;
  return [
    ['--name', s.name, '--network', network, '--endpoint-mode', s.endpointSpec.mode],
    ['--health-cmd', healthCommand(hc.tests), '--health-timeout', hc.timeout],
    ['--health-retries', String(hc.retries), '--health-interval', '1s', '--health-start-period', '3s'],
    ['--stop-signal', spec.stopSignal, '--stop-grace-period', spec.stopGracePeriod],
    [
      '--restart-condition',
      s.taskSpec.restartPolicy.condition,
      '--restart-delay',
      s.taskSpec.restartPolicy.delay,
    ],
    ...(s.taskSpec.placement?.constraints ?? []).map((c) => ['--constraint', c]),
    policyFlags('update', s.updateConfig, '3s'),
    policyFlags('rollback', s.rollbackConfig, '2s'),
  ].flat();
}

const seconds = (from: number, to = Date.now()) => Math.round((to - from) / 1000);

let swarm: DindSwarm;
let run: RunResult;
let app: Spec;
let nginx: Spec;
let d: Declared;
let cert: TestCertificate;
let base = '';

/** `docker` against the swarm's manager, stdin optional. */
async function onSwarm(args: string[], stdin?: string): Promise<string> {
  const child = exec('docker', args, {
    env: swarm.managerEnv,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 120_000,
  });
  if (stdin !== undefined) child.child.stdin?.end(stdin);
  return (await child).stdout.trim();
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The app's tasks that Swarm runs (their host names: <service>.<slot>.<task id>). */
async function runningTasks(): Promise<Set<string>> {
  const lines = await onSwarm([
    'service',
    'ps',
    app.name,
    '--no-trunc',
    '--filter',
    'desired-state=running',
    '--format',
    '{{.Name}}.{{.ID}} {{.CurrentState}}',
  ]);
  return new Set(
    lines
      .split('\n')
      .filter((l) => / Running /.test(` ${l} `))
      .map((l) => l.split(' ')[0] ?? ''),
  );
}

/**
 * Waits until Swarm runs exactly `count` tasks of the app, all running, and every task it
 * stopped has exited (a stopping task may still answer what it was sent).
 */
async function settled(count: number): Promise<Set<string>> {
  return waitFor(`${count} running tasks and no task stopping`, 120_000, async () => {
    const states = (
      await onSwarm(['service', 'ps', app.name, '--format', '{{.DesiredState}}|{{.CurrentState}}'])
    )
      .split('\n')
      .map((l) => l.split('|') as [string, string]);
    const running = states.filter(([desired]) => desired === 'Running');
    const stopping = states.filter(
      ([desired, current]) => desired !== 'Running' && /^(Running|Starting)/.test(current),
    );
    const tasks = await runningTasks();
    return running.length === count && tasks.size === count && stopping.length === 0 ? tasks : undefined;
  });
}

/** Why Swarm's last update ended as it did, in its words. */
async function updateMessage(): Promise<string> {
  return onSwarm([
    'service',
    'inspect',
    '--format',
    '{{if .UpdateStatus}}{{.UpdateStatus.Message}}{{end}}',
    app.name,
  ]);
}

async function updateState(): Promise<string> {
  return onSwarm([
    'service',
    'inspect',
    '--format',
    '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}',
    app.name,
  ]);
}

/** Requests to /health through nginx, `concurrency` at a time, until stopped. */
function startLoad(concurrency = 4) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const answers: string[] = [];
  const failures: string[] = [];
  let sent = 0;
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      sent++;
      try {
        const res = await get(`${base}/health`, cert.certificatePem, agent);
        if (res.status === 200) answers.push(res.body.trim());
        else failures.push(`${res.status} ${res.body.replace(/\s+/g, ' ').slice(0, 120)}`);
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    answers,
    /** The tasks that answered from the index-th answer on. */
    reachedSince: (index = 0) => new Set(answers.slice(index)),
    /** Requests sent and failed so far. */
    counts: () => ({ sent, failed: failures.length }),
    async stop() {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return { sent, failed: failures.length, failures };
    },
  };
}
type Load = ReturnType<typeof startLoad>;

interface TaskRow {
  id: string;
  /** <service>.<slot>: with the id, the host name its container has and answers with. */
  slot: string;
  node: string;
  desired: string;
  /** The first word of the current state (Starting, Running, Shutdown, Failed, ...). */
  state: string;
}

/** Every task of the app Swarm knows (history included), from the manager. */
async function appTasks(): Promise<TaskRow[]> {
  const out = await onSwarm([
    'service',
    'ps',
    app.name,
    '--no-trunc',
    '--format',
    '{{.ID}}|{{.Name}}|{{.Node}}|{{.DesiredState}}|{{.CurrentState}}',
  ]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', name = '', node = '', desired = '', current = ''] = line.split('|');
      // An earlier task of a slot is listed as " \_ <name>".
      return { id, slot: name.replace(/^[\s\\_]+/, ''), node, desired, state: current.split(' ')[0] ?? '' };
    });
}
const hostName = (t: TaskRow) => `${t.slot}.${t.id}`;
/** Tasks Swarm wants running that are running (with a healthcheck: healthy). */
const serving = (rows: TaskRow[]) => rows.filter((t) => t.desired === 'Running' && t.state === 'Running');

/** The states a timeline shows (the ones before Starting pass too fast to matter). */
const SHOWN_STATES = new Set([
  'Starting',
  'Running',
  'Shutdown',
  'Complete',
  'Failed',
  'Rejected',
  'Orphaned',
]);

/**
 * Polls the app's tasks while `load` runs and keeps a timeline: each task change (started,
 * healthy and running, told to stop, stopped, failed) and each `note`, with the time since the
 * watch began and the requests sent and failed by then. `samples` keeps every poll's tasks.
 */
async function watchTasks(load: Load) {
  const t0 = Date.now();
  const lines: string[] = [];
  const samples: TaskRow[][] = [];
  const last = new Map<string, string>();
  let stopped = false;
  const line = (what: string) => {
    const { sent, failed } = load.counts();
    const t = ((Date.now() - t0) / 1000).toFixed(1).padStart(5);
    lines.push(`t=${t} s  ${what.padEnd(58)} ${sent} sent, ${failed} failed`);
  };
  let firstPoll: () => void = () => undefined;
  const polled = new Promise<void>((resolve) => (firstPoll = resolve));
  const poll = (async () => {
    let first = true;
    while (!stopped) {
      const rows = await appTasks().catch(() => undefined);
      if (rows !== undefined) {
        samples.push(rows);
        if (first) line(`${serving(rows).length} tasks running`);
        for (const t of rows) {
          const key = `${t.desired}/${t.state}`;
          const seen = last.get(t.id);
          last.set(t.id, key);
          if (first || seen === key || !SHOWN_STATES.has(t.state)) continue;
          const wanted = t.desired === 'Running';
          const what =
            t.state === 'Running'
              ? wanted
                ? 'running'
                : 'running, told to stop'
              : t.state === 'Starting'
                ? wanted
                  ? 'starting (not yet healthy)'
                  : 'starting, told to stop'
                : t.state.toLowerCase();
          line(`slot ${t.slot.slice(app.name.length + 1)}, task ${t.id.slice(0, 8)} on ${t.node}: ${what}`);
        }
        first = false;
        firstPoll();
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  // The tasks before anything happens are the timeline's start.
  await polled;
  return {
    note: line,
    async stop() {
      stopped = true;
      await poll;
      return { lines, samples };
    },
  };
}

function printTimeline(what: string, lines: string[]) {
  console.log(`[swarm] timeline of ${what}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
}

/**
 * What every poll of an update showed: the fewest tasks serving, the most tasks Swarm wanted
 * running, and the most of those not (yet) running. Start-first, one at a time: at least the
 * replicas serve throughout, at most one more is wanted, and at most one is starting.
 */
function updateShape(samples: TaskRow[][]) {
  const wanted = (rows: TaskRow[]) => rows.filter((t) => t.desired === 'Running');
  return {
    polls: samples.length,
    minServing: Math.min(...samples.map((rows) => serving(rows).length)),
    maxWanted: Math.max(...samples.map((rows) => wanted(rows).length)),
    maxStarting: Math.max(...samples.map((rows) => wanted(rows).length - serving(rows).length)),
  };
}

/** Waits until nginx has answered from every one of the tasks, then until the next 200
 * answers came from them alone; returns what answered in that window. */
async function reachesExactly(load: Load, tasks: Set<string>, from: number): Promise<Set<string>> {
  await waitFor(`nginx to reach every task of ${[...tasks].join(', ')}`, 60_000, async () => {
    const reached = load.reachedSince(from);
    return [...tasks].every((t) => reached.has(t)) ? true : undefined;
  });
  const mark = load.answers.length;
  await waitFor('200 more answers', 60_000, async () =>
    load.answers.length >= mark + 200 ? true : undefined,
  );
  return load.reachedSince(mark);
}

function report(what: string, figures: { sent: number; failed: number; failures: string[] }, detail: string) {
  console.log(`[swarm] ${what}: ${figures.sent} requests sent, ${figures.failed} failed; ${detail}`);
  expect(figures.failures, what).toEqual([]);
}

/** An image with a web build (index.html and one content-hashed asset) on the edge node. */
async function buildWebImage(tag: string, release: string): Promise<void> {
  const dockerfile = [
    'FROM node:24-bookworm-slim',
    `RUN mkdir -p /srv/web/assets && echo '<!doctype html><title>release ${release}</title>' > /srv/web/index.html && echo 'console.log("${release}")' > /srv/web/assets/index-${release}.js`,
  ].join('\n');
  await swarm.onNode('edge', ['build', '-q', '-t', tag, '-'], dockerfile);
}

/** The program's web fill (SWARM_WEB_FILL_SCRIPT) with the environment the stack declares, on the swarm. */
function webFill(image: string): Promise<{ code: number; stderr: string }> {
  // (A local image makes `docker service create` warn that it could not record its digest.)
  const env = reveal(named(run, 'proxy-web-fill').inputs['environment']) as Record<string, string>;
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', SWARM_WEB_FILL_SCRIPT], {
      env: { ...swarm.managerEnv, ...env, IMAGE: image },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

beforeAll(async () => {
  const started = Date.now();
  run = await runStack('dev', {
    config: { orchestrator: 'swarm', namePrefix: prefix, replicas: String(REPLICAS) },
  });
  expect(run.error).toBeUndefined();
  app = named(run, 'app-service').inputs as unknown as Spec;
  nginx = named(run, 'proxy-nginx').inputs as unknown as Spec;
  d = declaredSwarm(run);
  cert = await makeTestCertificate('localhost', ['localhost']);
  const declaredAt = Date.now();

  // The edge node carries the label nginx is pinned to and publishes what nginx publishes.
  const edgeLabel =
    /^node\.labels\.(.+)==true$/.exec(nginx.taskSpec.placement?.constraints[0] ?? '')?.[1] ?? '';
  const published = (nginx.endpointSpec.ports ?? []).map((p) => p.publishedPort);
  swarm = await startDindSwarm({
    runId,
    prefix,
    nodes: [
      { hostname: 'manager' },
      { hostname: 'edge', publish: published, labels: { [edgeLabel]: 'true' } },
      { hostname: 'worker' },
    ],
    images: { 'node:24-bookworm-slim': ['manager', 'edge', 'worker'], [d.image]: ['edge'] },
  });
  const swarmAt = Date.now();
  const network = String(named(run, 'network-network').inputs['name']);
  await onSwarm([
    'network',
    'create',
    '--driver',
    'overlay',
    '--attachable',
    '--label',
    'com.chatbot.stack=dev',
    network,
  ]);
  for (const node of ['manager', 'edge', 'worker']) {
    for (const tag of ['v1', 'v2'])
      await swarm.onNode(node, ['tag', 'node:24-bookworm-slim', `${APP_IMAGE}:${tag}`]);
  }

  // The app stand-in, as the stack declares its service.
  expect(app.mode.replicated.replicas).toBe(REPLICAS);
  await onSwarm([
    'service',
    'create',
    '--detach',
    '--quiet',
    ...declaredFlags(app, network),
    '--replicas',
    String(REPLICAS),
    '--hostname',
    '{{.Task.Name}}',
    `${APP_IMAGE}:v1`,
    'node',
    '-e',
    SERVER,
  ]);
  await settled(REPLICAS);

  // The web volume, filled by the program's script before nginx starts (as the program orders it).
  await buildWebImage(`${WEB_IMAGE}:v1`, 'v1');
  await buildWebImage(`${WEB_IMAGE}:v2`, 'v2');
  const filled = await webFill(`${WEB_IMAGE}:v1`);
  expect(filled.code, filled.stderr).toBe(0);

  // nginx, as the stack declares it: its nginx.conf a Swarm config; the test's certificate in
  // place of the mock runtime's (a config and a root-only secret, at the declared paths).
  const spec = nginx.taskSpec.containerSpec;
  const confName = spec.configs?.find((c) => c.fileName === NGINX_PATHS.config)?.configName ?? '';
  await onSwarm(['config', 'create', confName, '-'], d.config);
  await onSwarm(['config', 'create', `${prefix}-test-cert`, '-'], cert.certificatePem);
  await onSwarm(['secret', 'create', `${prefix}-test-key`, '-'], cert.privateKeyPem);
  const key = spec.secrets?.find((s) => s.fileName === d.key);
  const web = spec.mounts.find((m) => m.target === NGINX_PATHS.webRoot);
  await onSwarm([
    'service',
    'create',
    '--detach',
    '--quiet',
    ...declaredFlags(nginx, network),
    ...(nginx.endpointSpec.ports ?? []).flatMap((p) => [
      '--publish',
      `mode=${p.publishMode},target=${p.targetPort},published=${p.publishedPort}`,
    ]),
    '--config',
    `source=${confName},target=${NGINX_PATHS.config}`,
    '--config',
    `source=${prefix}-test-cert,target=${d.certificate}`,
    '--secret',
    `source=${prefix}-test-key,target=${key?.fileName},uid=${key?.fileUid},gid=${key?.fileGid},mode=0${(key?.fileMode ?? 0).toString(8)}`,
    '--mount',
    `type=${web?.type},source=${web?.source},target=${web?.target}${web?.readOnly === true ? ',readonly' : ''}`,
    spec.image,
  ]);
  const httpsPort = nginx.endpointSpec.ports?.find((p) => p.targetPort === 443)?.publishedPort ?? 0;
  base = await swarm.url('edge', httpsPort, 'https');
  await waitFor('nginx to answer /health', 90_000, async () =>
    (await get(`${base}/health`, cert.certificatePem)).status === 200 ? true : undefined,
  );
  console.log(
    `[swarm] a swarm of 3 dind engines, the app's ${REPLICAS} tasks and nginx up in ${seconds(started)} s ` +
      `(the stack under the mock runtime ${seconds(started, declaredAt)} s, the engines with their images and the swarm ` +
      `${seconds(declaredAt, swarmAt)} s, the services ${seconds(swarmAt)} s)`,
  );
}, 400_000);

afterAll(async () => {
  const started = Date.now();
  await swarm?.remove();
  console.log(`[swarm] the dind engines, their volumes and the network removed in ${seconds(started)} s`);
}, 120_000);

describe('nginx with the swarm config on a real swarm (dind: 1 manager, 2 workers)', () => {
  it('reaches every task of the app service through Swarm’s DNS, and serves the web UI from the filled volume', async () => {
    const tasks = await runningTasks();
    expect(tasks.size).toBe(REPLICAS);
    const load = startLoad();
    const reached = await reachesExactly(load, tasks, 0);
    const figures = await load.stop();
    report('steady', figures, `tasks reached: ${reached.size} of ${tasks.size}`);
    expect([...reached].every((t) => tasks.has(t))).toBe(true);

    // The tasks are on more than one node: what answers crosses the overlay network.
    const nodes = await onSwarm([
      'service',
      'ps',
      app.name,
      '--filter',
      'desired-state=running',
      '--format',
      '{{.Node}}',
    ]);
    expect(new Set(nodes.split('\n')).size).toBeGreaterThan(1);

    const page = await get(`${base}/sessions/42`, cert.certificatePem);
    expect(page.status).toBe(200);
    expect(page.body).toContain('release v1');
    expect(page.headers['cache-control']).toBe('no-cache');
    const v1 = await get(`${base}/assets/index-v1.js`, cert.certificatePem);
    expect(v1.status).toBe(200);
    expect(v1.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('keeps answering through a rolling update of the image (start-first, one task at a time), 0 failed, and reaches the new tasks', async () => {
    const before = await runningTasks();
    const load = startLoad();
    const watch = await watchTasks(load);
    const mark = load.answers.length;
    watch.note(`docker service update --image ${APP_IMAGE}:v2`);
    await onSwarm(['service', 'update', '--detach', '--quiet', '--image', `${APP_IMAGE}:v2`, app.name]);
    await waitFor('the update to complete', 150_000, async () => {
      const state = await updateState();
      if (/rollback|paused/.test(state)) throw new Error(`the update went ${state}`);
      return state === 'completed' ? true : undefined;
    });
    watch.note('update completed');
    const after = await settled(REPLICAS);
    expect([...after].some((t) => before.has(t))).toBe(false);
    const reached = await reachesExactly(load, after, mark);
    watch.note('nginx reached every new task, and only new tasks since');
    const figures = await load.stop();
    const { lines, samples } = await watch.stop();
    printTimeline('the rolling update v1 -> v2', lines);
    const shape = updateShape(samples);
    report(
      'rolling update --image v1 -> v2',
      figures,
      `new tasks reached: ${[...after].filter((t) => load.reachedSince(mark).has(t)).length} of ${after.size}; ` +
        `afterwards only new tasks answered: ${[...reached].every((t) => after.has(t))}; over ${shape.polls} polls ` +
        `at least ${shape.minServing} tasks serving, at most ${shape.maxWanted} wanted, at most ${shape.maxStarting} starting`,
    );
    expect([...reached].every((t) => after.has(t))).toBe(true);
    // Start-first, one task at a time, as the program declares (parallelism 1, order start-first).
    expect(shape.minServing).toBeGreaterThanOrEqual(REPLICAS);
    expect(shape.maxWanted).toBeLessThanOrEqual(REPLICAS + 1);
    expect(shape.maxStarting).toBeLessThanOrEqual(1);
    // The timeline saw each old task replaced: 4 new tasks ran.
    expect(lines.filter((l) => / running +\d+ sent/.test(l)).length).toBeGreaterThanOrEqual(REPLICAS);
  }, 240_000);

  it('keeps answering while the service scales up to 6 and down to 2, 0 failed, reaching exactly the tasks that run', async () => {
    const load = startLoad();
    let mark = load.answers.length;
    onTestFinished(async () => {
      await onSwarm(['service', 'scale', '--detach', `${app.name}=${REPLICAS}`]);
      await settled(REPLICAS);
    });
    await onSwarm(['service', 'scale', '--detach', `${app.name}=6`]);
    const six = await settled(6);
    await reachesExactly(load, six, mark);
    const upReached = [...six].filter((t) => load.reachedSince(mark).has(t)).length;

    mark = load.answers.length;
    await onSwarm(['service', 'scale', '--detach', `${app.name}=2`]);
    const two = await settled(2);
    const reached = await reachesExactly(load, two, mark);
    const figures = await load.stop();
    report(
      'scale 4 -> 6 -> 2',
      figures,
      `tasks reached at 6: ${upReached} of 6; at 2 only the 2 remaining: ${[...reached].every((t) => two.has(t))}`,
    );
    expect([...reached].every((t) => two.has(t))).toBe(true);
  }, 240_000);

  it('keeps the running tasks serving when an update’s tasks never turn healthy: Swarm rolls it back by itself, 0 failed', async () => {
    const known = new Set((await appTasks()).map((t) => t.id));
    const before = await runningTasks();
    const load = startLoad();
    const watch = await watchTasks(load);
    const mark = load.answers.length;
    watch.note('docker service update --env-add FAIL_HEALTH=1 (/health answers 500)');
    await onSwarm(['service', 'update', '--detach', '--quiet', '--env-add', 'FAIL_HEALTH=1', app.name]);
    let rollbackSeen = false;
    await waitFor('Swarm to roll the update back', 180_000, async () => {
      const state = await updateState();
      if (!rollbackSeen && state.startsWith('rollback')) {
        rollbackSeen = true;
        watch.note(`${state}: ${await updateMessage()}`);
      }
      return state === 'rollback_completed' ? true : undefined;
    });
    watch.note('rollback_completed');
    const after = await settled(before.size);
    const tried = (await appTasks()).filter((t) => !known.has(t.id));
    const reached = await reachesExactly(load, after, mark);
    watch.note('nginx reached every task that ran before, and only those since');
    const figures = await load.stop();
    const { lines, samples } = await watch.stop();
    printTimeline('the update with unhealthy tasks and its rollback', lines);
    const shape = updateShape(samples);
    const all = load.reachedSince(mark);
    report(
      'update with unhealthy tasks, rolled back',
      figures,
      `new tasks during the update and its rollback: ${tried.length} (${tried.map((t) => `slot ${t.slot.slice(app.name.length + 1)} ${t.state}`).join(', ')}); ` +
        `tasks reached: ${all.size}, all of them tasks of the previous spec: ${[...all].every((t) => before.has(t) || after.has(t))}; ` +
        `tasks of before still serving: ${[...before].filter((t) => after.has(t)).length} of ${before.size}; ` +
        `over ${shape.polls} polls at least ${shape.minServing} tasks serving`,
    );
    // The update's tasks never got a request: a task with a healthcheck enters Swarm's DNS
    // only once healthy. Each of them is gone (Swarm stopped it as unhealthy, then rolled back).
    expect(tried.length).toBeGreaterThan(0);
    for (const t of tried.filter((t) => t.state !== 'Running')) {
      expect(all.has(hostName(t)), hostName(t)).toBe(false);
    }
    const env = await onSwarm([
      'service',
      'inspect',
      '--format',
      '{{json .Spec.TaskTemplate.ContainerSpec.Env}}',
      app.name,
    ]);
    expect(env).not.toContain('FAIL_HEALTH');
    // The tasks of before kept serving, but for at most one: moby's task controller stops an
    // unhealthy starting container and, when it exits 0 on SIGTERM (as the app does, draining),
    // reports the task started; start-first then stops one old task, and the task's exit within
    // the monitor window makes Swarm roll back, which starts that slot anew on the old spec.
    expect([...before].filter((t) => after.has(t)).length).toBeGreaterThanOrEqual(REPLICAS - 1);
    expect(after.size).toBe(REPLICAS);
    expect([...reached].every((t) => after.has(t))).toBe(true);
    expect([...all].every((t) => before.has(t) || after.has(t))).toBe(true);
    expect(shape.minServing).toBeGreaterThanOrEqual(REPLICAS - 1);
  }, 300_000);

  it('fills the web volume with the next release and keeps the earlier release’s assets', async () => {
    const filled = await webFill(`${WEB_IMAGE}:v2`);
    expect(filled.code, filled.stderr).toBe(0);
    expect((await get(`${base}/`, cert.certificatePem)).body).toContain('release v2');
    expect((await get(`${base}/assets/index-v2.js`, cert.certificatePem)).status).toBe(200);
    // A page loaded before the update still gets its content-hashed assets.
    expect((await get(`${base}/assets/index-v1.js`, cert.certificatePem)).status).toBe(200);
    // A release whose image has no web build fails the fill (and so the deploy), naming the volume.
    const failed = await webFill(`${APP_IMAGE}:v1`);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(`filling the web volume ${prefix}-web failed`);
  }, 180_000);

  // Last: the worker stays down afterwards.
  it('keeps answering when a worker node is killed: Swarm reschedules its tasks on the other nodes and nginx follows', async () => {
    let replicas = REPLICAS;
    let placed = serving(await appTasks());
    if (!placed.some((t) => t.node === 'worker')) {
      // Updates and rollbacks do not rebalance: should no task be left on the worker, one more
      // task goes there (the spread strategy places it on the node with the fewest).
      replicas += 1;
      await onSwarm(['service', 'scale', '--detach', `${app.name}=${replicas}`]);
      await settled(replicas);
      placed = serving(await appTasks());
    }
    const lost = placed.filter((t) => t.node === 'worker');
    expect(lost.length, placed.map((t) => `${t.slot}@${t.node}`).join(' ')).toBeGreaterThan(0);
    const load = startLoad();
    const watch = await watchTasks(load);
    // Power loss rather than a clean stop: the node's engine, its tasks and its gossip end at once.
    watch.note(`node worker killed (${lost.length} task(s) on it)`);
    await docker(['kill', swarm.containers['worker'] ?? '']);
    await waitFor('the manager to mark the worker down', 120_000, async () =>
      (await onSwarm(['node', 'inspect', '--format', '{{.Status.State}}', 'worker'])) === 'down'
        ? true
        : undefined,
    );
    watch.note('the manager marks node worker down');
    const rescheduled = await waitFor(`${replicas} tasks serving on the other nodes`, 180_000, async () => {
      const now = serving(await appTasks());
      return now.length === replicas && now.every((t) => t.node !== 'worker') ? now : undefined;
    });
    watch.note(
      `${replicas} tasks serving on ${[...new Set(rescheduled.map((t) => t.node))].sort().join(' and ')}`,
    );
    const after = new Set(rescheduled.map(hostName));
    const figures = await load.stop();
    const { lines } = await watch.stop();
    printTimeline('the loss of node worker', lines);
    // Then, on a fresh load: nginx reaches every task now serving and only those, none failing.
    const check = startLoad();
    const reached = await reachesExactly(check, after, 0);
    const checked = await check.stop();
    console.log(
      `[swarm] worker killed: ${figures.sent} requests sent until its tasks were rescheduled, ${figures.failed} failed` +
        (figures.failed > 0 ? ` (${[...new Set(figures.failures)].slice(0, 5).join(' | ')})` : '') +
        `; ${lost.length} task(s) lost; the ${replicas} tasks now on ${rescheduled
          .map((t) => t.node)
          .sort()
          .join(', ')}`,
    );
    report('after the rescheduling', checked, `tasks reached: ${reached.size} of ${after.size}`);
    expect([...reached].every((t) => after.has(t))).toBe(true);
    // The tasks that were elsewhere kept serving: they are still among those running.
    for (const t of placed.filter((p) => p.node !== 'worker'))
      expect(after.has(hostName(t)), hostName(t)).toBe(true);
    // The service kept answering while the node was lost: most requests succeeded.
    expect(figures.sent - figures.failed).toBeGreaterThan(figures.sent / 2);
  }, 300_000);
});
