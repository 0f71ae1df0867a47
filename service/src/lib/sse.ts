// Server-sent events over a Fastify reply: each event is written in the tick it is produced
// (X-Accel-Buffering: no keeps nginx from holding it back); `signal` aborts when the
// client goes away before the stream ends.
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';

export interface EventStream {
  send(event: string, data: unknown): void;
  /** Writes an SSE comment, which clients ignore; keeps idle proxies from closing the stream. */
  comment(text: string): void;
  end(): void;
  /** Aborts when the client disconnects before `end`. */
  signal: AbortSignal;
}

export function openEventStream(reply: FastifyReply, headers: Record<string, string> = {}): EventStream {
  const body = new PassThrough();
  const gone = new AbortController();
  let ended = false;
  reply.raw.on('close', () => {
    if (!ended || !reply.raw.writableFinished) gone.abort(new Error('client disconnected'));
  });
  reply
    .code(200)
    .headers({
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    })
    .send(body);
  // Events produced in the same tick (a provider's pieces often arrive together) leave in
  // one write at the end of that tick: nothing waits for later events.
  let pending = '';
  const flush = () => {
    if (pending === '') return;
    const chunk = pending;
    pending = '';
    if (!gone.signal.aborted) body.write(chunk);
  };
  const queue = (text: string) => {
    if (ended || gone.signal.aborted) return;
    if (pending === '') process.nextTick(flush);
    pending += text;
  };
  return {
    send(event, data) {
      queue(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    comment(text) {
      queue(`: ${text}\n\n`);
    },
    end() {
      if (ended) return;
      flush();
      ended = true;
      body.end();
    },
    signal: gone.signal,
  };
}
