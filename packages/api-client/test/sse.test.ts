import { describe, expect, it } from 'vitest';
import { createSseParser, readSseEvents, type SseEvent } from '../src/sse.ts';

function parseChunks(chunks: string[]): SseEvent[] {
  const parser = createSseParser();
  const events = chunks.flatMap((chunk) => parser.push(chunk));
  return [...events, ...parser.end()];
}

const stream =
  'event: message\ndata: {"id":"u1"}\n\n' +
  'event: delta\ndata: {"content":"Hel"}\n\n' +
  'event: delta\ndata: {"content":"lo"}\n\n' +
  'event: done\ndata: {"id":"a1"}\n\n';

const expected: SseEvent[] = [
  { event: 'message', data: '{"id":"u1"}', id: undefined },
  { event: 'delta', data: '{"content":"Hel"}', id: undefined },
  { event: 'delta', data: '{"content":"lo"}', id: undefined },
  { event: 'done', data: '{"id":"a1"}', id: undefined },
];

describe('SSE parser', () => {
  it('reads several events from one chunk', () => {
    expect(parseChunks([stream])).toEqual(expected);
  });

  it('reads the same events whichever two places the stream is split at', () => {
    for (let i = 0; i <= stream.length; i += 1) {
      for (let j = i; j <= stream.length; j += 7) {
        expect(parseChunks([stream.slice(0, i), stream.slice(i, j), stream.slice(j)])).toEqual(expected);
      }
    }
  });

  it('reads a stream fed one character at a time', () => {
    expect(parseChunks([...stream])).toEqual(expected);
  });

  it('emits an event only once its closing blank line arrived', () => {
    const parser = createSseParser();
    expect(parser.push('event: delta\ndata: {"content":"a"}\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ event: 'delta', data: '{"content":"a"}', id: undefined }]);
  });

  it('accepts CRLF and CR line endings, also with a CRLF split across chunks', () => {
    const crlf = stream.replaceAll('\n', '\r\n');
    const cr = stream.replaceAll('\n', '\r');
    expect(parseChunks([crlf])).toEqual(expected);
    expect(parseChunks([cr])).toEqual(expected);
    // between the CR and the LF that end `event: delta`: read as two line ends, the
    // event name would be lost
    const cut = crlf.indexOf('event: delta\r\n') + 'event: delta\r'.length;
    expect(parseChunks([crlf.slice(0, cut), crlf.slice(cut)])).toEqual(expected);
  });

  it('joins multi-line data with a line feed and keeps the value after one optional space', () => {
    expect(parseChunks(['data: line one\ndata:line two\ndata:  indented\n\n'])).toEqual([
      { event: 'message', data: 'line one\nline two\n indented', id: undefined },
    ]);
  });

  it('ignores comments and unknown fields, skips a leading BOM and remembers the id', () => {
    expect(
      parseChunks(['\uFEFF: keep-alive\nretry: 10\nfoo: bar\nid: 7\nevent: delta\ndata: x\n\n']),
    ).toEqual([{ event: 'delta', data: 'x', id: '7' }]);
  });

  it('does not dispatch an event without data, and resets the event name after it', () => {
    expect(parseChunks(['event: delta\n\ndata: y\n\n'])).toEqual([
      { event: 'message', data: 'y', id: undefined },
    ]);
  });

  it('discards an event the stream ended in the middle of', () => {
    expect(parseChunks(['event: done\ndata: {"id":"a1"}\n\nevent: delta\ndata: {"content":"cut'])).toEqual([
      { event: 'done', data: '{"id":"a1"}', id: undefined },
    ]);
  });

  it('decodes UTF-8 characters split across byte chunks', async () => {
    const bytes = new TextEncoder().encode('event: delta\ndata: {"content":"héllo 👋"}\n\n');
    const cut = bytes.indexOf(0xf0) + 2; // inside the emoji's four bytes
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 3));
        controller.enqueue(bytes.slice(3, cut));
        controller.enqueue(bytes.slice(cut));
        controller.close();
      },
    });
    const events: SseEvent[] = [];
    for await (const event of readSseEvents(body)) events.push(event);
    expect(events).toEqual([{ event: 'delta', data: '{"content":"héllo 👋"}', id: undefined }]);
  });
});
