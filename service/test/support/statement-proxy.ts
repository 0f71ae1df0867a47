// A TCP proxy in front of Postgres that counts the statements clients send through it: each
// extended-protocol Bind ('B') or simple Query ('Q') message is one statement run, and its SQL
// text is known (a Bind names a statement an earlier Parse ('P') on the connection prepared).
// For tests that measure how much database work something costs. It can also hold a statement
// back: a connection that sends one matching `hold` goes silent from then on, as a connection
// whose answers are never read does.
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

export interface StatementProxy {
  port: number;
  /** Statements sent through the proxy so far; with `matching`, those whose SQL matches it. */
  statements(matching?: RegExp): number;
  /** From now on, holds back every statement whose SQL matches (undefined: none). */
  hold(matching: RegExp | undefined): void;
  /** Statements held back so far. */
  held(): number;
  /** Client connections open through the proxy. */
  connections(): number;
  close(): Promise<void>;
}

/** A NUL-terminated string of a message, from `start`: its text and where the next field starts. */
function cString(message: Buffer, start: number): [string, number] {
  const end = message.indexOf(0, start);
  return end === -1 ? ['', message.length] : [message.toString('utf8', start, end), end + 1];
}

/**
 * Splits a client's byte stream into protocol messages, reports each Parse, Bind and Query
 * with its SQL text, and answers how many of the bytes to pass on: all the complete messages,
 * up to the first one `pass` refuses (none after it).
 */
function splitter(pass: (type: 'P' | 'B' | 'Q', sql: string) => boolean) {
  let buffer: Buffer = Buffer.alloc(0);
  /** Prepared statements of this connection: name -> SQL. */
  const prepared = new Map<string, string>();
  // The startup packet (and an SSL or GSS request before it) has no type byte.
  let startup = true;
  let stopped = false;
  return (chunk: Buffer): Buffer => {
    if (stopped) return Buffer.alloc(0);
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    let end = 0;
    for (;;) {
      const rest = buffer.subarray(end);
      if (startup) {
        if (rest.length < 8) break;
        const length = rest.readInt32BE(0);
        if (rest.length < length) break;
        const code = rest.readInt32BE(4);
        // 80877103: SSLRequest, 80877104: GSSENCRequest; anything else is the startup message.
        if (code !== 80877103 && code !== 80877104) startup = false;
        end += length;
        continue;
      }
      if (rest.length < 5) break;
      const length = rest.readInt32BE(1);
      if (rest.length < 1 + length) break;
      const type = String.fromCharCode(rest[0]!);
      const message = rest.subarray(5, 1 + length);
      let passed = true;
      if (type === 'P') {
        const [name, next] = cString(message, 0);
        const text = cString(message, next)[0];
        prepared.set(name, text);
        passed = pass('P', text);
      } else if (type === 'B') {
        const [, next] = cString(message, 0); // the portal
        passed = pass('B', prepared.get(cString(message, next)[0]) ?? '');
      } else if (type === 'Q') {
        passed = pass('Q', cString(message, 0)[0]);
      }
      if (!passed) {
        stopped = true;
        break;
      }
      end += 1 + length;
    }
    const out = buffer.subarray(0, end);
    buffer = stopped ? Buffer.alloc(0) : buffer.subarray(end);
    return out;
  };
}

export async function startStatementProxy(target: { host: string; port: number }): Promise<StatementProxy> {
  /** The SQL of every statement run, in order. */
  const statements: string[] = [];
  let holding: RegExp | undefined;
  let held = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    connections += 1;
    const split = splitter((type, sql) => {
      if ((type === 'P' || type === 'Q') && holding?.test(sql) === true) {
        held += 1;
        return false;
      }
      if (type !== 'P') statements.push(sql);
      return true;
    });
    client.on('data', (chunk: Buffer) => {
      const out = split(chunk);
      if (out.length > 0) upstream.write(out);
    });
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      connections -= 1;
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    statements: (matching) =>
      matching === undefined ? statements.length : statements.filter((sql) => matching.test(sql)).length,
    hold: (matching) => {
      holding = matching;
    },
    held: () => held,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
