// HTTPS to the stack's nginx (on 127.0.0.1, or on a remote engine's host), as the stack's
// domain (localhost: SNI, certificate check and Host header), trusting only the stack's own
// self-signed certificate (an Agent with `ca`; verification stays on), plain HTTP for the
// redirect, server-sent events (read with the API client's parser), and a bounded load loop
// of chat and health requests.
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { createSseParser } from '@chatbot/api-client/sse';

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SseEvent {
  event: string;
  data: string;
  /** ms after the request was sent. */
  at: number;
}

export class StackClient {
  /** Where the published ports are (127.0.0.1 with a local engine). */
  readonly host: string;
  /** The stack's domain (dev: localhost), for SNI, the certificate check and Host. */
  readonly domain: string;
  readonly httpsPort: number;
  readonly httpPort: number;
  private readonly agent: Agent;

  constructor(opts: { host: string; domain: string; httpsPort: number; httpPort: number; ca: string }) {
    this.host = opts.host;
    this.domain = opts.domain;
    this.httpsPort = opts.httpsPort;
    this.httpPort = opts.httpPort;
    // A fresh connection per request: a request never races nginx closing an idle keepalive
    // connection during a reload (a client-side retry matter, not the switch's).
    this.agent = new Agent({ ca: opts.ca, keepAlive: false });
  }

  request(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; form?: FormData; timeoutMs?: number } = {},
  ): Promise<Response> {
    if (opts.form !== undefined) {
      // multipart/form-data as fetch encodes it (its boundary in the content type).
      const encoded = new globalThis.Response(opts.form);
      const type = encoded.headers.get('content-type')!;
      return encoded.arrayBuffer().then((bytes) => this.send(method, path, opts, Buffer.from(bytes), type));
    }
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    return this.send(method, path, opts, payload, 'application/json');
  }

  private send(
    method: string,
    path: string,
    opts: { token?: string; timeoutMs?: number },
    payload: Buffer | undefined,
    contentType: string,
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: this.host,
          servername: this.domain,
          port: this.httpsPort,
          method,
          path,
          agent: this.agent,
          headers: {
            host: `${this.domain}:${this.httpsPort}`,
            accept: 'application/json',
            ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}),
            ...(payload !== undefined
              ? { 'content-type': contentType, 'content-length': payload.length }
              : {}),
          },
          timeout: opts.timeoutMs ?? 30_000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async json<T = Record<string, unknown>>(
    method: string,
    path: string,
    expected: number,
    opts: { token?: string; body?: unknown; form?: FormData } = {},
  ): Promise<T> {
    const res = await this.request(method, path, opts);
    if (res.status !== expected) {
      throw new Error(
        `${method} ${path}: expected ${expected}, got ${res.status}: ${res.body.slice(0, 500)}`,
      );
    }
    return JSON.parse(res.body) as T;
  }

  /**
   * POST with `stream: true`; resolves when the server ends the response. `onEvent` sees each
   * event as it arrives; `idleMs` is how long the socket may stay silent (default 60 s).
   */
  stream(
    path: string,
    token: string,
    body: Record<string, unknown>,
    opts: { onEvent?: (event: SseEvent) => void; idleMs?: number } = {},
  ): Promise<{ status: number; headers: Response['headers']; events: SseEvent[]; ms: number }> {
    return new Promise((resolve, reject) => {
      const payload = Buffer.from(JSON.stringify({ ...body, stream: true }));
      const sent = Date.now();
      const req = httpsRequest(
        {
          host: this.host,
          servername: this.domain,
          port: this.httpsPort,
          method: 'POST',
          path,
          agent: this.agent,
          headers: {
            host: `${this.domain}:${this.httpsPort}`,
            accept: 'text/event-stream',
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'content-length': payload.length,
          },
          timeout: opts.idleMs ?? 60_000,
        },
        (res) => {
          const events: SseEvent[] = [];
          const parser = createSseParser();
          const received = (parsed: { event: string; data: string }[]) => {
            for (const { event, data } of parsed) {
              const at = { event, data, at: Date.now() - sent };
              events.push(at);
              opts.onEvent?.(at);
            }
          };
          res.setEncoding('utf8').on('data', (chunk: string) => received(parser.push(chunk)));
          res.on('end', () => {
            received(parser.end());
            resolve({ status: res.statusCode ?? 0, headers: res.headers, events, ms: Date.now() - sent });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`stream ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Plain HTTP on the published port 80 (no redirects followed). */
  plain(path: string): Promise<Response> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: this.host,
          port: this.httpPort,
          path,
          headers: { host: `${this.domain}:${this.httpPort}` },
          timeout: 10_000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
}

export interface LoadReport {
  sent: number;
  failed: number;
  failures: string[];
  /** Which version /health reported, and when (ms since the epoch). */
  versions: { at: number; version: string }[];
  streams: { start: number; end: number; ok: boolean; deltas: number }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Health, chat and streaming requests through nginx until stop() (and at most `maxMs`):
 * two health loops, one loop of plain chat turns and (staggered) loops of slow streamed turns. Anything
 * but the expected status, or a stream without its `done` event, is a failure.
 */
export function startLoad(
  client: StackClient,
  user: { token: string },
  opts: { maxMs: number; streamWords: number; streamWorkers?: number },
): { stop(): Promise<LoadReport>; progress(): LoadReport } {
  const report: LoadReport = { sent: 0, failed: 0, failures: [], versions: [], streams: [] };
  const deadline = Date.now() + opts.maxMs;
  let stopping = false;
  const running = () => !stopping && Date.now() < deadline;
  const fail = (what: string) => {
    report.failed++;
    if (report.failures.length < 20) report.failures.push(`${new Date().toISOString()} ${what}`);
  };
  async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    report.sent++;
    try {
      return await fn();
    } catch (err) {
      fail(`${what}: ${(err as Error).message}`);
      return undefined;
    }
  }

  const health = async () => {
    while (running()) {
      const res = await attempt('GET /health', () => client.json<{ version: string }>('GET', '/health', 200));
      if (res !== undefined) report.versions.push({ at: Date.now(), version: res.version });
      await sleep(40);
    }
  };
  const newSession = () =>
    attempt('POST /v1/sessions', () =>
      client.json<{ id: string }>('POST', '/v1/sessions', 201, {
        token: user.token,
        body: { title: 'load' },
      }),
    );
  const chat = async () => {
    let session: { id: string } | undefined;
    let turns = 0;
    while (running()) {
      if (session === undefined || turns >= 8) {
        session = await newSession();
        turns = 0;
        if (session === undefined) {
          await sleep(100);
          continue;
        }
      }
      const id = session.id;
      turns++;
      await attempt('POST messages', () =>
        client.json('POST', `/v1/sessions/${id}/messages`, 201, {
          token: user.token,
          body: { content: `load turn ${turns}` },
        }),
      );
    }
  };
  const streams = async () => {
    const words = Array.from({ length: opts.streamWords }, (_, i) => `w${i}`).join(' ');
    while (running()) {
      const session = await newSession();
      if (session === undefined) {
        await sleep(100);
        continue;
      }
      const start = Date.now();
      report.sent++;
      try {
        const res = await client.stream(`/v1/sessions/${session.id}/messages`, user.token, {
          content: words,
          model: 'stub/slow',
        });
        const ok = res.status === 200 && res.events.some((e) => e.event === 'done');
        const deltas = res.events.filter((e) => e.event === 'delta').length;
        report.streams.push({ start, end: Date.now(), ok, deltas });
        if (!ok) {
          fail(`stream: status ${res.status}, events ${res.events.map((e) => e.event).join(',')}`);
        }
      } catch (err) {
        report.streams.push({ start, end: Date.now(), ok: false, deltas: 0 });
        fail(`stream: ${(err as Error).message}`);
      }
    }
  };

  const workers = [health(), health(), chat()];
  // Staggered stream loops: one of them always has a stream open.
  for (let i = 0; i < (opts.streamWorkers ?? 2); i++) workers.push(sleep(i * 700).then(streams));
  return {
    async stop() {
      stopping = true;
      await Promise.all(workers);
      return report;
    },
    progress: () => report,
  };
}
