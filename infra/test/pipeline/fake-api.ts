// A loopback HTTP server answering the few API.md endpoints the smoke check calls, the way the
// service answers them, with switches for the failures the check must catch.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeApiOptions {
  /** Answers 503 unhealthy to this many /health requests first. */
  unhealthyFirst?: number;
  /** The credential the chat endpoints accept. */
  token?: string;
  /** How the message endpoint answers: a complete reply, or the provider failing (502). */
  chat?: 'complete' | 'upstream_error';
}

export interface FakeApi {
  url: string;
  requests: { method: string; path: string; authorization: string | undefined; body: string }[];
  sessions: Set<string>;
  close(): Promise<void>;
}

const now = () => new Date().toISOString();

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

export async function startFakeApi(options: FakeApiOptions = {}): Promise<FakeApi> {
  let unhealthy = options.unhealthyFirst ?? 0;
  const requests: FakeApi['requests'] = [];
  const sessions = new Set<string>();
  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const path = req.url ?? '/';
      requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body });
      const send = (status: number, json?: unknown) => {
        res.writeHead(status, json === undefined ? {} : { 'content-type': 'application/json' });
        res.end(json === undefined ? undefined : JSON.stringify(json));
      };
      const error = (status: number, code: string, message: string) =>
        send(status, { error: { code, message } });

      if (req.method === 'GET' && path === '/health') {
        if (unhealthy > 0) {
          unhealthy--;
          return send(503, {
            status: 'unhealthy',
            checks: { database: 'error', redis: 'ok' },
            version: 'test',
            timestamp: now(),
          });
        }
        return send(200, {
          status: 'healthy',
          checks: { database: 'ok', redis: 'ok' },
          version: 'test',
          timestamp: now(),
        });
      }
      if (req.headers.authorization !== `Bearer ${options.token ?? 'cbk_smoke'}`) {
        return error(401, 'unauthorized', 'bad credentials');
      }
      if (req.method === 'POST' && path === '/v1/sessions') {
        const id = randomUUID();
        sessions.add(id);
        return send(201, { id, title: 'pipeline smoke check', createdAt: now(), updatedAt: now() });
      }
      const message = /^\/v1\/sessions\/([^/]+)\/messages$/.exec(path);
      if (req.method === 'POST' && message !== null) {
        if (!sessions.has(message[1] as string)) return error(404, 'not_found', 'no such session');
        const content = (JSON.parse(body) as { content?: unknown }).content;
        if (typeof content !== 'string' || content.length === 0) {
          return error(400, 'invalid_request', 'content is required');
        }
        if (options.chat === 'upstream_error')
          return error(502, 'upstream_error', 'the model provider failed');
        const msg = (role: string, text: string) => ({
          id: randomUUID(),
          role,
          content: text,
          status: 'complete',
          createdAt: now(),
        });
        return send(201, {
          message: msg('user', content),
          reply: {
            ...msg('assistant', 'OK'),
            model: 'openai/gpt-4o-mini',
            usage: { promptTokens: 20, completionTokens: 1 },
          },
        });
      }
      const session = /^\/v1\/sessions\/([^/]+)$/.exec(path);
      if (req.method === 'DELETE' && session !== null) {
        return sessions.delete(session[1] as string) ? send(204) : error(404, 'not_found', 'no such session');
      }
      return error(404, 'not_found', 'no such route');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    sessions,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
