// A stand-in for OpenRouter: speaks the OpenAI chat completions protocol (JSON and
// server-sent-event streaming, usage included) on loopback. Tests script its behaviour per
// request; run directly (`node llm-stub.ts`) it serves in a container, where a few model
// names choose the behaviour: `stub/error` answers 500, `stub/hang` never answers,
// `stub/slow` streams with STUB_SLOW_DELAY_MS (default 300) between pieces, and
// `stub/held:NAME` sends its first piece, then the rest only after `POST /control/release/NAME`
// (a test outside the container decides when, e.g. after a deploy switched colors).
// `startLlmStubProcess` runs it so, as a process of its own (benchmarks). It imports nothing
// but Node's own modules: the infra end-to-end test copies this one file into a container.
// It also answers OpenAI's `/v1/embeddings` deterministically: words hashed into a vector of
// `dimensions` (the request's, else 256), normalised, so texts sharing words are near; tests
// script failures (429, 5xx) per request like the chat behaviours.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type StubBehavior =
  | {
      kind: 'reply';
      content?: string;
      chunks?: string[];
      /** Pause before each piece; `delaysMs[i]` overrides it for piece i. */
      delayMs?: number;
      delaysMs?: number[];
      firstByteDelayMs?: number;
      /** Answers only once this settles: holds admitted calls open for as long as a test needs. */
      hold?: Promise<unknown>;
      /** `holds[i]`: piece i is sent only once this settles (a test decides when, not a clock). */
      holds?: (Promise<unknown> | undefined)[];
      usage?: boolean;
    }
  | { kind: 'error'; status: number; message?: string }
  | { kind: 'hang' }
  /** Streams `chunks` then drops the connection without finishing. */
  | { kind: 'drop'; chunks: string[]; delayMs?: number };

export interface StubRequest {
  body: {
    model: string;
    messages: { role: string; content: string }[];
    stream?: boolean;
    max_tokens?: number;
    stream_options?: { include_usage?: boolean };
    [key: string]: unknown;
  };
  authorization: string | undefined;
  receivedAt: number;
}

/** How the stub answers one `/v1/embeddings` request. */
export type EmbeddingBehavior = (
  | {
      kind: 'embed';
      /** Answers only once this settles. */
      hold?: Promise<unknown>;
    }
  /** `retryAfterMs` becomes a `retry-after-ms` header (the SDK waits that long before retrying). */
  | { kind: 'error'; status: number; message?: string; retryAfterMs?: number }
) & {
  /** A queued behaviour with a model applies to the next request for that model only. */
  model?: string;
};

export interface EmbeddingRequest {
  body: { model: string; input: string | string[]; dimensions?: number; encoding_format?: string };
  authorization: string | undefined;
}

export interface LlmStub {
  /** Base URL ending in /v1, for OPENROUTER_BASE_URL. */
  url: string;
  requests: StubRequest[];
  /** `/v1/embeddings` requests, in arrival order. */
  embeddingRequests: EmbeddingRequest[];
  /** Behaviours for the next embedding requests, in order; then the default. */
  enqueueEmbeddings(...behaviors: EmbeddingBehavior[]): void;
  setEmbeddingsDefault(behavior: EmbeddingBehavior): void;
  enqueue(...behaviors: StubBehavior[]): void;
  setDefault(behavior: StubBehavior): void;
  /** Requests whose response has not ended (streams in flight, hanging calls). */
  openResponses(): number;
  reset(): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stub's default answer: "Echo: " and the last user message, one piece per word. */
export function echoOf(messages: StubRequest['body']['messages']): string {
  const last = [...messages].reverse().find((m) => m.role === 'user');
  return `Echo: ${last?.content ?? ''}`;
}

export function splitWords(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [text];
}

/** Dimensions of the stub's embeddings when a request names none. */
export const STUB_EMBEDDING_DIMENSIONS = 256;

/**
 * The stub's embedding of a text: each word (lower case) hashed, with the model's name, to a
 * dimension and a sign; the sum normalised to length 1. Texts sharing words are near; another
 * model gives other vectors.
 */
export function stubEmbedding(text: string, dimensions: number, model: string): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    let hash = 0x811c9dc5;
    for (const c of `${model}\u0000${word}`) {
      hash ^= c.codePointAt(0)!;
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    vector[hash % dimensions]! += hash & 0x80000000 ? -1 : 1;
  }
  const norm = Math.hypot(...vector);
  if (norm === 0) {
    vector[0] = 1;
    return vector;
  }
  return vector.map((x) => x / norm);
}

export async function startLlmStub(
  options: { port?: number; host?: string; slowDelayMs?: number } = {},
): Promise<LlmStub> {
  const queue: StubBehavior[] = [];
  let fallback: StubBehavior = { kind: 'reply' };
  const requests: StubRequest[] = [];
  const embeddingRequests: EmbeddingRequest[] = [];
  const embeddingQueue: EmbeddingBehavior[] = [];
  let embeddingFallback: EmbeddingBehavior = { kind: 'embed' };
  const open = new Set<ServerResponse>();
  /** `stub/held:NAME` calls wait on these until released. */
  const held = new Map<string, { promise: Promise<void>; release: () => void }>();
  const heldGate = (name: string) => {
    let gate = held.get(name);
    if (gate === undefined) {
      let release!: () => void;
      const promise = new Promise<void>((resolve) => (release = resolve));
      gate = { promise, release };
      held.set(name, gate);
    }
    return gate;
  };

  function behaviorFor(body: StubRequest['body']): StubBehavior {
    const queued = queue.shift();
    if (queued !== undefined) return queued;
    if (body.model === 'stub/error') return { kind: 'error', status: 500 };
    if (body.model === 'stub/hang') return { kind: 'hang' };
    if (body.model === 'stub/slow') return { kind: 'reply', delayMs: options.slowDelayMs ?? 300 };
    if (body.model.startsWith('stub/held:')) {
      const gate = heldGate(body.model.slice('stub/held:'.length)).promise;
      return { kind: 'reply', holds: [undefined, gate] };
    }
    return fallback;
  }

  async function embeddings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw) as EmbeddingRequest['body'];
    embeddingRequests.push({ body, authorization: req.headers.authorization });
    const queued = embeddingQueue.findIndex((b) => b.model === undefined || b.model === body.model);
    const behavior = queued === -1 ? embeddingFallback : embeddingQueue.splice(queued, 1)[0]!;
    if (behavior.kind === 'error') {
      res
        .writeHead(behavior.status, {
          'content-type': 'application/json',
          ...(behavior.retryAfterMs === undefined ? {} : { 'retry-after-ms': String(behavior.retryAfterMs) }),
        })
        .end(
          JSON.stringify({ error: { message: behavior.message ?? 'stub failure', type: 'server_error' } }),
        );
      return;
    }
    if (behavior.hold !== undefined) await behavior.hold;
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
    const dimensions = body.dimensions ?? STUB_EMBEDDING_DIMENSIONS;
    const vectors = inputs.map((text) => stubEmbedding(text, dimensions, body.model));
    const data = vectors.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding:
        body.encoding_format === 'base64'
          ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
          : vector,
    }));
    const tokens = inputs.reduce((n, text) => n + Math.ceil(text.length / 4), 0);
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        object: 'list',
        data,
        model: body.model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      }),
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (req.method === 'GET' && url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    const release = /^\/control\/release\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'POST' && release !== null) {
      heldGate(decodeURIComponent(release[1]!)).release();
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/embeddings') {
      await embeddings(req, res);
      return;
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw) as StubRequest['body'];
    requests.push({ body, authorization: req.headers.authorization, receivedAt: Date.now() });
    const behavior = behaviorFor(body);

    if (behavior.kind === 'hang') return; // keeps the response open until the client gives up
    if (behavior.kind === 'error') {
      res
        .writeHead(behavior.status, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ error: { message: behavior.message ?? 'stub failure', type: 'server_error' } }),
        );
      return;
    }

    const content = behavior.kind === 'reply' ? (behavior.content ?? echoOf(body.messages)) : '';
    const chunks = behavior.chunks ?? splitWords(content);
    const full = chunks.join('');
    const promptChars = body.messages.reduce((n, m) => n + String(m.content).length, 0);
    const usage = {
      prompt_tokens: Math.ceil(promptChars / 4),
      completion_tokens: chunks.length,
      total_tokens: Math.ceil(promptChars / 4) + chunks.length,
    };
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const delayMs = behavior.delayMs ?? 0;
    if (behavior.kind === 'reply' && behavior.hold !== undefined) await behavior.hold;
    if (behavior.kind === 'reply' && behavior.firstByteDelayMs) await sleep(behavior.firstByteDelayMs);

    if (body.stream !== true) {
      if (delayMs > 0) await sleep(delayMs);
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: full }, finish_reason: 'stop' }],
          ...(behavior.kind === 'reply' && behavior.usage === false ? {} : { usage }),
        }),
      );
      return;
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const send = (payload: unknown) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finishReason: string | null) =>
      send({
        id,
        object: 'chat.completion.chunk',
        created,
        model: body.model,
        choices: [{ index: 0, delta, finish_reason: finishReason }],
      });
    chunk({ role: 'assistant', content: '' }, null);
    for (const [i, piece] of chunks.entries()) {
      const pause = (behavior.kind === 'reply' ? behavior.delaysMs?.[i] : undefined) ?? delayMs;
      if (pause > 0) await sleep(pause);
      const gate = behavior.kind === 'reply' ? behavior.holds?.[i] : undefined;
      if (gate !== undefined) await gate;
      if (res.destroyed) return;
      chunk({ content: piece }, null);
    }
    if (behavior.kind === 'drop') {
      await sleep(50);
      res.destroy();
      return;
    }
    chunk({}, 'stop');
    if (body.stream_options?.include_usage === true && behavior.usage !== false) {
      send({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage });
    }
    res.end('data: [DONE]\n\n');
  }

  const server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const { port } = server.address() as AddressInfo;
  const host = options.host === undefined || options.host === '0.0.0.0' ? '127.0.0.1' : options.host;

  return {
    url: `http://${host}:${port}/v1`,
    requests,
    embeddingRequests,
    enqueueEmbeddings: (...behaviors) => embeddingQueue.push(...behaviors),
    setEmbeddingsDefault: (behavior) => {
      embeddingFallback = behavior;
    },
    enqueue: (...behaviors) => queue.push(...behaviors),
    setDefault: (behavior) => {
      fallback = behavior;
    },
    openResponses: () => open.size,
    reset: () => {
      queue.length = 0;
      requests.length = 0;
      fallback = { kind: 'reply' };
      embeddingQueue.length = 0;
      embeddingRequests.length = 0;
      embeddingFallback = { kind: 'embed' };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** This file as a process of its own (no delay unless `env` says), on a free loopback port. */
export async function startLlmStubProcess(
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname], {
    env: { PATH: process.env.PATH ?? '', STUB_HOST: '127.0.0.1', STUB_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      out += text;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    void exited.then(() => reject(new Error(`the LLM stub exited with ${child.exitCode}`)));
  });
  child.stdout!.resume();
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return { url, child, stop };
}

if (import.meta.main) {
  const stub = await startLlmStub({
    host: process.env.STUB_HOST ?? '0.0.0.0',
    port: Number(process.env.STUB_PORT ?? 8080),
    slowDelayMs: Number(process.env.STUB_SLOW_DELAY_MS ?? 300),
  });
  const delay = Number(process.env.STUB_DELAY_MS ?? 0);
  if (delay > 0) stub.setDefault({ kind: 'reply', delayMs: delay });
  process.stdout.write(`llm stub listening on ${stub.url}\n`);
  const stop = () => void stub.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
