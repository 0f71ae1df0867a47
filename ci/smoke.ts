// The deploy jobs' smoke check of a stack through its public URL (API.md):
//
//   node ci/smoke.ts https://staging.chat.example.com
//
// 1. GET /health answers 200 with status "healthy" (retried for a while: the switch has just
//    happened, and a rollback may still be draining).
// 2. When SMOKE_TOKEN is set (a credential of a tenant kept for this, e.g. a tenant API key
//    `cbk_...`), one chat turn: POST /v1/sessions, POST /v1/sessions/{id}/messages, which must
//    answer 201 with a complete reply; the session is deleted afterwards.
//
// The token comes from the environment only and is never printed. Exit status 1 on failure,
// with the step, the status and the API's error code.
import { pathToFileURL } from 'node:url';

export interface SmokeOptions {
  url: string;
  token?: string | undefined;
  /** /health attempts before giving up, and the pause between them. */
  healthAttempts?: number;
  healthIntervalMs?: number;
  /** Per request. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export class SmokeError extends Error {}

interface Answer {
  status: number;
  body: unknown;
}

async function call(
  url: string,
  init: { method: string; token?: string | undefined; body?: unknown; timeoutMs: number },
): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.token !== undefined) headers['authorization'] = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method: init.method,
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    signal: AbortSignal.timeout(init.timeoutMs),
    redirect: 'error',
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text for the message
  }
  return { status: res.status, body };
}

/** "503 unavailable: database down" from an API error body, or the status alone. */
function describe(answer: Answer): string {
  const error = (answer.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (error !== undefined && typeof error.code === 'string') {
    return `${answer.status} ${error.code}${typeof error.message === 'string' ? `: ${error.message}` : ''}`;
  }
  return String(answer.status);
}

const field = (body: unknown, key: string): unknown =>
  typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;

export async function smoke(options: SmokeOptions): Promise<void> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const attempts = options.healthAttempts ?? 20;
  const interval = options.healthIntervalMs ?? 3_000;
  let base: URL;
  try {
    base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
  } catch {
    throw new SmokeError(`not a URL: "${options.url}"`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new SmokeError(`not an http(s) URL: "${options.url}"`);
  }
  const at = (path: string) => new URL(path.replace(/^\//, ''), base).href;

  let last: string;
  for (let attempt = 1; ; attempt++) {
    try {
      const health = await call(at('/health'), { method: 'GET', timeoutMs });
      if (health.status === 200 && field(health.body, 'status') === 'healthy') {
        log(`smoke: GET /health 200 healthy (version ${String(field(health.body, 'version') ?? '?')})`);
        break;
      }
      last = `${health.status} ${JSON.stringify(field(health.body, 'checks') ?? health.body)}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (attempt >= attempts) throw new SmokeError(`GET /health: ${last} (after ${attempts} attempts)`);
    await new Promise((r) => setTimeout(r, interval));
  }

  const token = options.token;
  if (token === undefined || token === '') {
    log('smoke: SMOKE_TOKEN not set, no chat turn');
    return;
  }
  const session = await call(at('/v1/sessions'), {
    method: 'POST',
    token,
    body: { title: 'pipeline smoke check' },
    timeoutMs,
  });
  const sessionId = field(session.body, 'id');
  if (session.status !== 201 || typeof sessionId !== 'string') {
    throw new SmokeError(`POST /v1/sessions: ${describe(session)}`);
  }
  try {
    const turn = await call(at(`/v1/sessions/${encodeURIComponent(sessionId)}/messages`), {
      method: 'POST',
      token,
      body: { content: 'Smoke check from the deploy pipeline: please answer with one word.' },
      timeoutMs: Math.max(timeoutMs, 120_000),
    });
    const reply = field(turn.body, 'reply');
    if (turn.status !== 201 || field(reply, 'status') !== 'complete') {
      throw new SmokeError(`POST /v1/sessions/{id}/messages: ${describe(turn)}`);
    }
    const usage = field(reply, 'usage');
    log(
      `smoke: chat turn 201, reply complete (model ${String(field(reply, 'model') ?? '?')}, ` +
        `${String(field(usage, 'completionTokens') ?? '?')} completion tokens)`,
    );
  } finally {
    const removed = await call(at(`/v1/sessions/${encodeURIComponent(sessionId)}`), {
      method: 'DELETE',
      token,
      timeoutMs,
    }).catch(() => undefined);
    if (removed?.status !== 204) log(`smoke: could not delete the smoke session ${sessionId}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const url = process.argv[2];
  const number = (name: string) =>
    process.env[name] !== undefined && process.env[name] !== '' ? Number(process.env[name]) : undefined;
  if (url === undefined || url === '') {
    process.stderr.write(
      'usage: node ci/smoke.ts <stack URL>   (SMOKE_TOKEN in the environment: one chat turn)\n',
    );
    process.exit(2);
  }
  smoke({
    url,
    token: process.env['SMOKE_TOKEN'],
    healthAttempts: number('SMOKE_HEALTH_ATTEMPTS'),
    healthIntervalMs: number('SMOKE_HEALTH_INTERVAL_MS'),
  }).then(
    () => process.stdout.write(`smoke: ${url} passed\n`),
    (err: unknown) => {
      process.stderr.write(`smoke: ${url} FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
