// Server-sent events over a Fastify reply, in two formats: named events (`event:` and
// `data:` lines, the sessions API) or OpenAI's `data:`-only chunks, which end with
// `data: [DONE]`. The response starts with the first event, so until then the route may
// still answer with a plain HTTP error. Each event is written in the tick it is produced
// (X-Accel-Buffering: no keeps nginx from holding it back); `signal` aborts when the client
// goes away before the stream ends.
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';

interface StreamControl {
  /** Writes an SSE comment, which clients ignore; keeps idle proxies from closing the stream. */
  comment(text: string): void;
  /** Ends the stream (`data: [DONE]` first in the data-only format); nothing when it never started. */
  end(): void;
  /** Whether the response started (an event was sent). */
  readonly started: boolean;
  /** Aborts when the client disconnects before `end`. */
  readonly signal: AbortSignal;
}

/** Named events: `event: <event>` and `data: <json>`. */
export interface EventStream extends StreamControl {
  send(event: string, data: unknown): void;
}

/** OpenAI's format: `data: <json>` alone, and `data: [DONE]` at the end. */
export interface DataStream extends StreamControl {
  send(data: unknown): void;
}

interface StreamOptions {
  /** Counts the streams open (from the first event to the end). */
  openStreams?: { inc(): void; dec(): void };
}

/**
 * Aborts when the client goes away before its response is complete: it closed the connection,
 * or a proxy did (nginx when its read timeout passes).
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort(new Error('the client went away'));
  });
  return gone.signal;
}

export function openEventStream(
  reply: FastifyReply,
  options?: StreamOptions & { format?: 'events' },
): EventStream;
export function openEventStream(reply: FastifyReply, options: StreamOptions & { format: 'data' }): DataStream;
export function openEventStream(
  reply: FastifyReply,
  options: StreamOptions & { format?: 'events' | 'data' } = {},
): EventStream | DataStream {
  const body = new PassThrough();
  const gone = clientGone(reply);
  let started = false;
  let ended = false;
  const start = () => {
    started = true;
    options.openStreams?.inc();
    reply
      .code(200)
      .headers({
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      })
      .send(body);
  };
  // Events produced in the same tick (a provider's pieces often arrive together) leave in
  // one write at the end of that tick: nothing waits for later events.
  let pending = '';
  const flush = () => {
    if (pending === '') return;
    const chunk = pending;
    pending = '';
    if (!gone.aborted) body.write(chunk);
  };
  const queue = (text: string) => {
    if (ended) return;
    if (!started) start();
    if (gone.aborted) return;
    if (pending === '') process.nextTick(flush);
    pending += text;
  };
  const dataOnly = options.format === 'data';
  const control: StreamControl = {
    comment(text) {
      queue(`: ${text}\n\n`);
    },
    end() {
      if (ended) return;
      if (started && dataOnly) queue('data: [DONE]\n\n');
      ended = true;
      if (!started) return;
      flush();
      body.end();
      options.openStreams?.dec();
    },
    get started() {
      return started;
    },
    signal: gone,
  };
  if (dataOnly) {
    return Object.assign(control, {
      send(data: unknown) {
        queue(`data: ${JSON.stringify(data)}\n\n`);
      },
    });
  }
  return Object.assign(control, {
    send(event: string, data: unknown) {
      queue(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
  });
}
