// An open-loop client that sends requests at a fixed rate, evenly spaced (autocannon's
// rate options send each connection's quota for the second back to back, in bursts), and
// measures each request from the moment it is sent: until the response ends, and until
// the body first satisfies `firstWhen` (the first streamed delta).
import { Agent, request } from 'node:http';

export interface PacedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface PacedOptions {
  /** http://host:port */
  origin: string;
  rate: number;
  durationSeconds: number;
  next: () => PacedRequest;
  /** Called with the body received so far; true marks the "first" moment. */
  firstWhen?: (bodySoFar: string) => boolean;
  timeoutMs?: number;
}

export interface PacedResult {
  sent: number;
  /** Requests that ended with a 2xx status. */
  ok: number;
  statuses: Record<string, number>;
  errors: number;
  /** Achieved rate of completed requests per second. */
  rate: number;
  /** Milliseconds, sorted. */
  latencies: number[];
  firsts: number[];
  /** How late the sender fired, worst case (ms): a large value means the client fell behind. */
  maxLagMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function paced(options: PacedOptions): Promise<PacedResult> {
  const origin = new URL(options.origin);
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const total = Math.round(options.rate * options.durationSeconds);
  const interval = 1000 / options.rate;
  const latencies: number[] = [];
  const firsts: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  let maxLagMs = 0;
  const pending: Promise<void>[] = [];

  const fire = (spec: PacedRequest): Promise<void> =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      let firstSeen = options.firstWhen === undefined;
      let text = '';
      const req = request(
        {
          agent,
          host: origin.hostname,
          port: origin.port,
          method: spec.method,
          path: spec.path,
          headers: { ...spec.headers, 'content-length': Buffer.byteLength(spec.body) },
          timeout: options.timeoutMs ?? 30_000,
        },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (firstSeen) return;
            text += chunk;
            if (options.firstWhen!(text)) {
              firstSeen = true;
              firsts.push(performance.now() - started);
            }
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (status >= 200 && status < 300) {
              ok++;
              latencies.push(performance.now() - started);
            }
            resolve();
          });
          res.on('error', () => {
            errors++;
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(spec.body);
    });

  const begin = performance.now();
  for (let i = 0; i < total;) {
    const now = performance.now();
    const due = begin + i * interval;
    if (now < due) {
      await sleep(due - now);
      continue;
    }
    maxLagMs = Math.max(maxLagMs, now - due);
    // Everything that is due (a late timer fires the backlog at once, as an open loop must).
    while (i < total && begin + i * interval <= performance.now()) {
      pending.push(fire(options.next()));
      i++;
    }
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - begin) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  firsts.sort((a, b) => a - b);
  return { sent: total, ok, statuses, errors, rate: ok / elapsed, latencies, firsts, maxLagMs };
}
