// A parser for `text/event-stream` (the WHATWG "server-sent events" format) that is fed
// the body piece by piece: events may be split across chunks, and one chunk may hold many.

export interface SseEvent {
  /** The `event:` field; `message` when the event named none. */
  event: string;
  /** The `data:` lines joined with a line feed. */
  data: string;
  /** The last `id:` seen, if any. */
  id: string | undefined;
}

export interface SseParser {
  /** Feeds decoded text; returns the events it completed. */
  push(text: string): SseEvent[];
  /** The stream ended: an event without its closing blank line is discarded, as the format says. */
  end(): SseEvent[];
}

export function createSseParser(): SseParser {
  let buffer = '';
  let atStart = true;
  let eventType = '';
  let dataLines: string[] = [];
  let lastId: string | undefined;

  function processLine(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (dataLines.length > 0) {
        out.push({ event: eventType === '' ? 'message' : eventType, data: dataLines.join('\n'), id: lastId });
      }
      eventType = '';
      dataLines = [];
      return;
    }
    if (line.startsWith(':')) return; // a comment (often a keep-alive)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        eventType = value;
        break;
      case 'data':
        dataLines.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) lastId = value;
        break;
      default:
        // `retry` and unknown fields do not matter to a fetch-based reader.
        break;
    }
  }

  function drain(final: boolean): SseEvent[] {
    const out: SseEvent[] = [];
    let lineStart = 0;
    let i = 0;
    while (i < buffer.length) {
      const ch = buffer[i];
      if (ch === '\n' || ch === '\r') {
        // A CR at the very end may be the first half of a CRLF split across chunks: wait.
        if (ch === '\r' && i + 1 === buffer.length && !final) break;
        processLine(buffer.slice(lineStart, i), out);
        i += ch === '\r' && buffer[i + 1] === '\n' ? 2 : 1;
        lineStart = i;
      } else {
        i += 1;
      }
    }
    buffer = buffer.slice(lineStart);
    return out;
  }

  return {
    push(text) {
      buffer += text;
      if (atStart && buffer.length > 0) {
        atStart = false;
        if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
      }
      return drain(false);
    },
    end() {
      const out = drain(true);
      buffer = '';
      eventType = '';
      dataLines = [];
      return out;
    },
  };
}

/** Reads a byte stream as server-sent events, decoding UTF-8 across chunk boundaries. */
export async function* readSseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  const parser = createSseParser();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        yield* parser.push(decoder.decode());
        yield* parser.end();
        return;
      }
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    // The consumer stopped early (a `done` event, an error, an abort): release the connection.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
