// A stand-in for `fetch` at the unit level: routes like 'GET /v1/sessions/:id/messages'
// answer with real Response objects; every call is recorded.
import { vi } from 'vitest';

export interface Call {
  method: string;
  path: string;
  search: URLSearchParams;
  headers: Headers;
  body: unknown;
  signal: AbortSignal | undefined;
}

export type Handler = (call: Call, params: Record<string, string>) => Response | Promise<Response>;

export function json(status: number, body?: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
  });
}

export function apiError(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  return json(status, { error: { code, message } }, headers);
}

function matcher(pattern: string): (method: string, path: string) => Record<string, string> | null {
  const [wantMethod, wantPath] = pattern.split(' ') as [string, string];
  const names: string[] = [];
  const regex = new RegExp(
    `^${wantPath.replace(/:([a-zA-Z]+)/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}$`,
  );
  return (method, path) => {
    if (method !== wantMethod) return null;
    const match = regex.exec(path);
    if (!match) return null;
    return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]));
  };
}

export function installFakeApi(initial: Record<string, Handler> = {}) {
  const routes: Record<string, Handler> = { ...initial };
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), 'http://localhost');
    const call: Call = {
      method: init.method ?? 'GET',
      path: url.pathname,
      search: url.searchParams,
      headers: new Headers(init.headers),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      signal: init.signal ?? undefined,
    };
    calls.push(call);
    if (call.signal?.aborted) throw new DOMException('The operation was aborted.', 'AbortError');
    for (const [pattern, handler] of Object.entries(routes)) {
      const params = matcher(pattern)(call.method, call.path);
      if (params) return handler(call, params);
    }
    return apiError(404, 'not_found', `no test route for ${call.method} ${call.path}`);
  });
  vi.stubGlobal('fetch', fetchMock);
  return {
    routes,
    calls,
    fetch: fetchMock,
    callsTo(method: string, path: string | RegExp): Call[] {
      return calls.filter(
        (c) => c.method === method && (typeof path === 'string' ? c.path === path : path.test(c.path)),
      );
    },
  };
}

/** A `text/event-stream` answer the test writes to event by event. */
export function sseStream(signal?: AbortSignal) {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  signal?.addEventListener('abort', () => {
    if (closed) return;
    closed = true;
    controller.error(new DOMException('The operation was aborted.', 'AbortError'));
  });
  return {
    response: new Response(body, {
      status: 200,
      headers: { 'Content-Type': 'text/event-stream', 'X-Accel-Buffering': 'no' },
    }),
    raw(text: string) {
      controller.enqueue(encoder.encode(text));
    },
    send(event: string, data: unknown) {
      controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    },
    close() {
      if (closed) return;
      closed = true;
      controller.close();
    },
  };
}
