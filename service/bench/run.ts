// The service's benchmark (not a test): `npm run bench -w service`.
//
// Starts Postgres (pgvector) and Redis in Docker with production settings (durable commits,
// AOF), the LLM stub of the tests with no delay, and the service as users run it (its own
// process, `node src/main.ts`, LOG_LEVEL=info); then measures, in one run:
//   (a) a bare Fastify route in a minimal process: the machine's ceiling
//   (b) GET /health
//   (c) a non-streaming chat turn, over many sessions of many tenants
//   (d) time to the first delta of a streamed turn
//   (e) the stub called directly, with the body the service sends it
// Throughput is closed-loop (autocannon); latency at a fixed rate uses an open-loop client
// that spaces requests evenly (paced.ts). Everything it starts is removed at the end.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createApiClient } from '@chatbot/api-client';
import {
  docker,
  freePort,
  POSTGRES_IMAGE,
  REDIS_IMAGE,
  removeContainer,
  startPostgres,
  startRedis,
  uniqueName,
  waitFor,
} from '@chatbot/test-kit/docker';
import { startLlmStubProcess } from '@chatbot/test-kit/llm-stub';
import autocannon, { type Result } from 'autocannon';
import postgres from 'postgres';
import { createTokenSigner } from '../src/lib/jwt.ts';
import { runMigrations } from '../src/migrate.ts';
import { paced, percentile, type PacedResult } from './paced.ts';
import { envNumber } from './support.ts';

const exec = promisify(execFile);

const DURATION = envNumber('BENCH_DURATION', 10);
const WARMUP = envNumber('BENCH_WARMUP', 3);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 50);
const RATE = envNumber('BENCH_RATE', 300);
const TENANTS = envNumber('BENCH_TENANTS', 32);
const USERS = envNumber('BENCH_USERS', 4);
const SESSIONS = envNumber('BENCH_SESSIONS', 8);
/** Earlier messages in every session before the run (the service sends at most 50). */
const HISTORY = envNumber('BENCH_HISTORY', 50, 0);
const PHASES = new Set(
  (process.env.BENCH_PHASES ?? 'bare,health,stub,chat,stream').split(',').map((p) => p.trim()),
);
/** `stub` and `chat` run a closed-loop (`-max`) and a fixed-rate (`-rate`) measurement. */
const wants = (phase: string, kind?: 'max' | 'rate') =>
  PHASES.has(phase) || (kind !== undefined && PHASES.has(`${phase}-${kind}`));
/** Extra node options for the service process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
const SERVICE_NODE_ARGS = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

const serviceMain = new URL('../src/main.ts', import.meta.url).pathname;
const bareMain = new URL('./bare-server.ts', import.meta.url).pathname;

const CONTENT = 'Hello! Could you tell me, in a few words, what a benchmark measures?';
const REPLY = `Echo: ${CONTENT}`;
const SYSTEM_PROMPT = 'You are a helpful assistant. Answer briefly.';
const MODEL = 'bench/model';

const log = (text: string) => process.stderr.write(`[bench] ${text}\n`);

// ---- things to clean up, newest first, also on Ctrl-C ----------------------------------
const cleanups: { what: string; run: () => Promise<unknown> | unknown }[] = [];
const onCleanup = (what: string, run: () => Promise<unknown> | unknown) => cleanups.unshift({ what, run });
async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    const { what, run } = cleanups.shift()!;
    try {
      await run();
    } catch (error) {
      log(`cleanup of ${what} failed: ${(error as Error).message}`);
    }
  }
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

// ---- helpers ------------------------------------------------------------------------------
/** Spawns a node process and waits until a line of its stdout matches `ready`. */
async function startNode(
  name: string,
  args: string[],
  childEnv: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', ...childEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onCleanup(name, () => stopChild(child));
  const output: string[] = [];
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    let buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      buffered += text;
      const found = ready.exec(buffered);
      if (found !== null) resolve(found);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => output.push(text));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${output.join('')}`)));
  });
  child.stdout!.resume();
  return { child, match };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

// ---- CPU accounting: which process spent the machine's two cores -------------------------
const CLOCK_TICKS = 100;
/** User + system CPU of a process (or system only), in ms. */
function processCpuMs(pid: number | undefined, only?: 'system'): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [user, system] = [Number(fields[11]), Number(fields[12])];
    return (((only === 'system' ? 0 : user) + system) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
function containerCpuMs(id: string | undefined): number | undefined {
  if (id === undefined) return undefined;
  const v1 = [
    `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`,
    `/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpuacct.usage`,
  ];
  for (const path of v1) if (existsSync(path)) return Number(readFileSync(path, 'utf8')) / 1e6;
  const v2 = [
    `/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`,
    `/sys/fs/cgroup/docker/${id}/cpu.stat`,
  ];
  for (const path of v2) {
    if (!existsSync(path)) continue;
    const usage = /usage_usec (\d+)/.exec(readFileSync(path, 'utf8'));
    if (usage !== null) return Number(usage[1]) / 1000;
  }
  return undefined;
}

interface Meters {
  service?: number;
  stub?: number;
  postgres?: string;
  redis?: string;
}
type CpuSnapshot = Record<string, number | undefined>;
function cpuSnapshot(meters: Meters): CpuSnapshot {
  const self = process.cpuUsage();
  return {
    service: processCpuMs(meters.service),
    'service kernel': processCpuMs(meters.service, 'system'),
    stub: processCpuMs(meters.stub),
    postgres: containerCpuMs(meters.postgres),
    redis: containerCpuMs(meters.redis),
    'load generator': (self.user + self.system) / 1000,
  };
}
/** CPU milliseconds per request of each part between two snapshots. */
function cpuPerRequest(before: CpuSnapshot, after: CpuSnapshot, requests: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [part, end] of Object.entries(after)) {
    const start = before[part];
    if (end === undefined || start === undefined || requests === 0) continue;
    out[part] = (end - start) / requests;
  }
  return out;
}

// ---- measurements ---------------------------------------------------------------------------
interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  first50?: number;
  first99?: number;
  note?: string;
  cpu?: Record<string, number>;
}
const rows: Row[] = [];

function checkAutocannon(name: string, result: Result): string | undefined {
  const problems: string[] = [];
  if (result.errors > 0) problems.push(`${result.errors} errors`);
  if (result.timeouts > 0) problems.push(`${result.timeouts} timeouts`);
  if (result.non2xx > 0)
    problems.push(`${result.non2xx} non-2xx (${JSON.stringify(result.statusCodeStats)})`);
  if (problems.length > 0) log(`WARNING ${name}: ${problems.join(', ')}`);
  return problems.length > 0 ? problems.join(', ') : undefined;
}

async function closedLoop(
  name: string,
  options: Parameters<typeof autocannon>[0],
  meters: Meters,
): Promise<Row> {
  log(`${name}: warming up ${WARMUP}s`);
  await autocannon({ connections: CONNECTIONS, ...options, duration: WARMUP });
  log(`${name}: measuring ${DURATION}s with ${CONNECTIONS} connections`);
  const before = cpuSnapshot(meters);
  const result = await autocannon({ connections: CONNECTIONS, timeout: 30, ...options, duration: DURATION });
  const after = cpuSnapshot(meters);
  const completed = result.requests.total;
  const row: Row = {
    name,
    rps: completed / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpu: cpuPerRequest(before, after, completed),
  };
  const note = checkAutocannon(name, result);
  if (note !== undefined) row.note = note;
  rows.push(row);
  return row;
}

async function openLoop(
  name: string,
  options: Omit<Parameters<typeof paced>[0], 'rate' | 'durationSeconds'>,
  meters: Meters,
): Promise<Row> {
  log(`${name}: warming up ${WARMUP}s at ${RATE}/s`);
  await paced({ ...options, rate: RATE, durationSeconds: WARMUP });
  log(`${name}: measuring ${DURATION}s at ${RATE}/s`);
  const before = cpuSnapshot(meters);
  const result: PacedResult = await paced({ ...options, rate: RATE, durationSeconds: DURATION });
  const after = cpuSnapshot(meters);
  const row: Row = {
    name,
    rps: result.rate,
    p50: percentile(result.latencies, 50),
    p99: percentile(result.latencies, 99),
    cpu: cpuPerRequest(before, after, result.ok),
  };
  if (options.firstWhen !== undefined) {
    row.first50 = percentile(result.firsts, 50);
    row.first99 = percentile(result.firsts, 99);
  }
  const problems: string[] = [];
  if (result.ok !== result.sent)
    problems.push(
      `${result.sent - result.ok} failed (${JSON.stringify(result.statuses)}, ${result.errors} errors)`,
    );
  if (result.maxLagMs > 20) problems.push(`sender fell behind by up to ${result.maxLagMs.toFixed(0)} ms`);
  if (problems.length > 0) {
    row.note = problems.join(', ');
    log(`WARNING ${name}: ${row.note}`);
  }
  rows.push(row);
  return row;
}

// ---- the run ----------------------------------------------------------------------------------
async function main(): Promise<void> {
  const startedAt = new Date();
  const work = mkdtempSync(join(tmpdir(), 'chatbot-bench-'));
  onCleanup('work folder', () => rmSync(work, { recursive: true, force: true }));
  const meters: Meters = {};

  // Postgres and Redis publish their ports on 127.0.0.1; this engine runs without the
  // userland proxy (daemon.json "userland-proxy": false), so the traffic takes iptables'
  // DNAT, not a docker-proxy process. The check below says so when that is not the case.
  // BENCH_NETWORK=host runs both on the host's network on free loopback ports instead.
  const hostNetwork = process.env.BENCH_NETWORK === 'host';
  const [pgName, redisName] = [uniqueName('chatbot-bench-pg'), uniqueName('chatbot-bench-redis')];
  onCleanup(pgName, () => removeContainer(pgName));
  onCleanup(redisName, () => removeContainer(redisName));
  const on = async () => (hostNetwork ? { hostNetwork: await freePort() } : {});
  log(`starting ${POSTGRES_IMAGE} and ${REDIS_IMAGE}${hostNetwork ? ' on the host network' : ''}`);
  const postgresArgs = (process.env.BENCH_POSTGRES_ARGS ?? '').split(' ').filter((a) => a !== '');
  const [pg, redis] = await Promise.all([
    startPostgres({
      name: pgName,
      durable: true,
      ...(await on()),
      args: ['-c', 'max_connections=200', ...postgresArgs],
    }),
    startRedis({ name: redisName, durable: true, ...(await on()) }),
  ]);
  const [databaseUrl, redisUrl] = [pg.url, redis.url];
  const [pgPort, redisPort] = [new URL(databaseUrl).port, new URL(redisUrl).port];
  meters.postgres = await docker(['inspect', '-f', '{{.Id}}', pgName]);
  meters.redis = await docker(['inspect', '-f', '{{.Id}}', redisName]);
  const { stdout: psOut } = await exec('ps', ['-eo', 'args']);
  const proxied = psOut
    .split('\n')
    .filter((l) => l.includes('docker-proxy') && (l.includes(`${pgPort}`) || l.includes(`${redisPort}`)));
  log(
    hostNetwork
      ? `postgres on 127.0.0.1:${pgPort}, redis on 127.0.0.1:${redisPort} (host network)`
      : proxied.length === 0
        ? `postgres on 127.0.0.1:${pgPort}, redis on 127.0.0.1:${redisPort} (iptables-published, no userland proxy)`
        : `WARNING: a docker-proxy process carries the traffic (${proxied.length}); numbers include it`,
  );
  await runMigrations(databaseUrl);

  // The LLM stub of the tests, in its own process, answering at once.
  const stub = await startLlmStubProcess();
  onCleanup('llm stub', () => stub.stop());
  const stubUrl = stub.url;
  meters.stub = stub.child.pid;

  // The service as users run it: its own process, production environment, info logs.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const apiPort = await freePort();
  const logPath = join(work, 'service.log');
  const logFd = openSync(logPath, 'a');
  const service = spawn(process.execPath, [...SERVICE_NODE_ARGS, serviceMain], {
    env: {
      PATH: process.env.PATH ?? '',
      ENVIRONMENT: 'production',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      API_HOST: '127.0.0.1',
      API_PORT: String(apiPort),
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      JWT_PUBLIC_KEY: publicPem,
      OPENROUTER_API_KEY: `sk-bench-${randomBytes(8).toString('hex')}`,
      OPENROUTER_BASE_URL: stubUrl,
      DEFAULT_MODEL: MODEL,
    },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  onCleanup('service', () => stopChild(service));
  meters.service = service.pid;
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const exited = new Promise<never>((_, reject) =>
    service.once('exit', (code) =>
      reject(new Error(`the service exited with ${code}:\n${readFileSync(logPath, 'utf8').slice(-4000)}`)),
    ),
  );
  exited.catch(() => undefined);
  await Promise.race([
    waitFor('the service', async () => (await fetch(`${apiUrl}/health`)).status === 200),
    exited,
  ]);
  log(`service (node src/main.ts, LOG_LEVEL=info) on ${apiUrl}, stub on ${stubUrl}`);

  // Tenants with budgets no run reaches, users, sessions with a full history window.
  const sign = createTokenSigner(privatePem, { issuer: undefined, audience: undefined });
  const platform = (await sign({ sub: 'bench-ops', role: 'platform_admin', tenantId: null }, 7200)).token;
  const client = createApiClient({ baseUrl: apiUrl, getToken: () => null });
  const api = (method: string, path: string, token: string, body?: unknown) =>
    client.request<any>(method, path, { token, ...(body === undefined ? {} : { body }) });
  log(
    `creating ${TENANTS} tenants x ${USERS} users x ${SESSIONS} sessions, ${HISTORY} earlier messages each`,
  );
  const targets: { path: string; authorization: string }[] = [];
  await Promise.all(
    Array.from({ length: TENANTS }, async (_, t) => {
      const tenant = await api('POST', '/v1/tenants', platform, {
        name: `Bench tenant ${t}`,
        settings: { systemPrompt: SYSTEM_PROMPT, rateLimit: { rpm: 10_000_000, tpm: 10_000_000_000 } },
      });
      for (let u = 0; u < USERS; u++) {
        const token = (await sign({ sub: `user-${u}`, role: 'user', tenantId: tenant.id }, 7200)).token;
        for (let s = 0; s < SESSIONS; s++) {
          const session = await api('POST', '/v1/sessions', token, { title: `bench ${s}` });
          targets.push({ path: `/v1/sessions/${session.id}/messages`, authorization: `Bearer ${token}` });
        }
      }
    }),
  );
  // Interleave tenants so consecutive requests go to different tenants and sessions.
  targets.sort((x, y) => (x.path < y.path ? -1 : 1));
  const owner = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await owner`
      insert into messages (tenant_id, session_id, role, content, status, model, prompt_tokens, completion_tokens)
      select s.tenant_id, s.id,
             case when g % 2 = 0 then 'user' else 'assistant' end,
             case when g % 2 = 0 then ${CONTENT} else ${REPLY} end,
             'complete',
             case when g % 2 = 0 then null else ${MODEL} end,
             case when g % 2 = 0 then null else 900 end,
             case when g % 2 = 0 then null else 12 end
        from sessions s cross join generate_series(0, ${HISTORY - 1}) g
       order by s.id, g`;
    await owner`vacuum analyze`;
  } finally {
    await owner.end();
  }

  // The body the service sends the stub for one of these turns (system prompt, history, message).
  const history = Array.from({ length: Math.min(HISTORY, 50) }, (_, i) =>
    i % 2 === 0 ? { role: 'user', content: CONTENT } : { role: 'assistant', content: REPLY },
  );
  const stubMessages = [
    { role: 'system', content: SYSTEM_PROMPT },
    ...history,
    { role: 'user', content: CONTENT },
  ];
  const stubBody = JSON.stringify({ model: MODEL, messages: stubMessages, max_tokens: 1024 });
  const stubStreamBody = JSON.stringify({
    model: MODEL,
    messages: stubMessages,
    max_tokens: 1024,
    stream: true,
    stream_options: { include_usage: true },
  });
  const stubOrigin = new URL(stubUrl).origin;
  const stubHeaders = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
  const turnBody = JSON.stringify({ content: CONTENT });
  const streamBody = JSON.stringify({ content: CONTENT, stream: true });
  let cursor = 0;
  const nextTurn = (body: string) => () => {
    const target = targets[cursor++ % targets.length]!;
    return {
      method: 'POST',
      path: target.path,
      headers: { 'content-type': 'application/json', authorization: target.authorization },
      body,
    };
  };
  /** The stub's first content piece: the second `data:` line (the first carries the role). */
  const stubFirstDelta = (text: string) => text.indexOf('data: ', text.indexOf('data: ') + 1) !== -1;
  const serviceFirstDelta = (text: string) => text.includes('event: delta');

  // (a) the ceiling
  if (wants('bare')) {
    const bare = await startNode('bare server', [bareMain], {}, /bare server listening on (\S+)/);
    await closedLoop(
      '(a) bare Fastify route',
      { url: bare.match[1]! },
      { ...meters, service: bare.child.pid },
    );
    await stopChild(bare.child);
  }
  // (b)
  if (wants('health')) await closedLoop('(b) GET /health', { url: `${apiUrl}/health` }, meters);
  // (e) the stub alone
  if (wants('stub', 'max')) {
    await closedLoop(
      '(e) stub direct, max',
      { url: `${stubOrigin}/v1/chat/completions`, method: 'POST', headers: stubHeaders, body: stubBody },
      meters,
    );
  }
  // (c) chat turns
  if (wants('chat', 'max')) {
    await closedLoop(
      '(c) chat turn, max',
      {
        url: apiUrl,
        requests: [
          {
            method: 'POST',
            setupRequest: (request) => {
              const next = nextTurn(turnBody)();
              return { ...request, method: 'POST', path: next.path, headers: next.headers, body: next.body };
            },
          },
        ],
      },
      meters,
    );
  }
  // Fixed rate: the stub alone, then through the service.
  if (wants('stub', 'rate')) {
    await openLoop(
      `(e) stub direct @${RATE}/s`,
      {
        origin: stubOrigin,
        next: () => ({ method: 'POST', path: '/v1/chat/completions', headers: stubHeaders, body: stubBody }),
      },
      meters,
    );
  }
  if (wants('chat', 'rate')) {
    await openLoop(`(c) chat turn @${RATE}/s`, { origin: apiUrl, next: nextTurn(turnBody) }, meters);
  }
  if (wants('stream')) {
    if (wants('stub', 'rate')) {
      await openLoop(
        `(e) stub stream @${RATE}/s`,
        {
          origin: stubOrigin,
          next: () => ({
            method: 'POST',
            path: '/v1/chat/completions',
            headers: stubHeaders,
            body: stubStreamBody,
          }),
          firstWhen: stubFirstDelta,
        },
        meters,
      );
    }
    await openLoop(
      `(d) streamed turn @${RATE}/s`,
      { origin: apiUrl, next: nextTurn(streamBody), firstWhen: serviceFirstDelta },
      meters,
    );
  }

  // ---- report ----
  const logLines = readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((l) => l !== '').length;
  await stopChild(service);
  report(startedAt, logLines);
}

function report(startedAt: Date, logLines: number): void {
  const f = (n: number | undefined, digits = 2) =>
    n === undefined || Number.isNaN(n) ? '' : n.toFixed(digits);
  const byName = (prefix: string) => rows.find((r) => r.name.startsWith(prefix));
  const lines: string[] = [];
  lines.push('');
  lines.push(
    `chat service benchmark, ${startedAt.toISOString()}, node ${process.version}, ${DURATION}s per measurement`,
  );
  lines.push('');
  lines.push(
    `| measurement | req/s | p50 ms | p99 ms | first delta p50 ms | first delta p99 ms | CPU ms/req: service (kernel part), stub, postgres, redis, load gen |`,
  );
  lines.push('|---|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const cpu = r.cpu ?? {};
    const cpuText = [
      `${f(cpu.service, 3)} (${f(cpu['service kernel'], 3)})`,
      ...['stub', 'postgres', 'redis', 'load generator'].map((k) => f(cpu[k], 3)),
    ].join(' / ');
    lines.push(
      `| ${r.name}${r.note ? ` (${r.note})` : ''} | ${f(r.rps, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.first50)} | ${f(r.first99)} | ${cpuText} |`,
    );
  }
  lines.push('');
  const bare = byName('(a)');
  const chat = byName('(c) chat turn, max');
  if (bare && chat)
    lines.push(
      `chat turn throughput: ${((chat.rps / bare.rps) * 100).toFixed(1)}% of the bare route (${f(chat.rps, 0)} / ${f(bare.rps, 0)} req/s)`,
    );
  const stubAtRate = byName(`(e) stub direct @`);
  const chatAtRate = byName(`(c) chat turn @`);
  if (stubAtRate && chatAtRate) {
    lines.push(
      `a chat turn adds ${f(chatAtRate.p50 - stubAtRate.p50)} ms at p50 and ${f(chatAtRate.p99 - stubAtRate.p99)} ms at p99 over calling the stub directly, at ${RATE} turns/s`,
    );
  }
  const stubStream = byName('(e) stub stream');
  const stream = byName('(d)');
  if (stubStream && stream) {
    lines.push(
      `a streamed turn's first delta comes ${f((stream.first50 ?? 0) - (stubStream.first50 ?? 0))} ms later at p50 than the stub's own (${f(stream.first50)} vs ${f(stubStream.first50)} ms), at ${RATE} turns/s`,
    );
  }
  lines.push(`service log: ${logLines} lines at LOG_LEVEL=info`);
  process.stdout.write(lines.join('\n') + '\n');
  if (process.env.BENCH_JSON)
    writeFileSync(process.env.BENCH_JSON, JSON.stringify({ startedAt, rows }, null, 2));
}

try {
  await main();
} catch (error) {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  if (!interrupted) await cleanUp();
}
