// A TCP proxy in front of Postgres that counts the statements clients send through it: each
// extended-protocol Bind ('B') or simple Query ('Q') message is one statement run, and its SQL
// text is known (a Bind names a statement an earlier Parse ('P') on the connection prepared).
// For tests that measure how much database work something costs.
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

export interface StatementProxy {
  port: number;
  /** Statements sent through the proxy so far; with `matching`, those whose SQL matches it. */
  statements(matching?: RegExp): number;
  close(): Promise<void>;
}

/** A NUL-terminated string of a message, from `start`: its text and where the next field starts. */
function cString(message: Buffer, start: number): [string, number] {
  const end = message.indexOf(0, start);
  return end === -1 ? ['', message.length] : [message.toString('utf8', start, end), end + 1];
}

/**
 * Splits a client's byte stream into protocol messages and reports each Bind and Query with
 * its SQL text.
 */
function counter(onStatement: (sql: string) => void) {
  let buffer: Buffer = Buffer.alloc(0);
  /** Prepared statements of this connection: name -> SQL. */
  const prepared = new Map<string, string>();
  // The startup packet (and an SSL or GSS request before it) has no type byte.
  let startup = true;
  return (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    for (;;) {
      if (startup) {
        if (buffer.length < 8) return;
        const length = buffer.readInt32BE(0);
        if (buffer.length < length) return;
        const code = buffer.readInt32BE(4);
        // 80877103: SSLRequest, 80877104: GSSENCRequest; anything else is the startup message.
        if (code !== 80877103 && code !== 80877104) startup = false;
        buffer = buffer.subarray(length);
        continue;
      }
      if (buffer.length < 5) return;
      const length = buffer.readInt32BE(1);
      if (buffer.length < 1 + length) return;
      const type = String.fromCharCode(buffer[0]!);
      const message = buffer.subarray(5, 1 + length);
      if (type === 'P') {
        const [name, next] = cString(message, 0);
        prepared.set(name, cString(message, next)[0]);
      } else if (type === 'B') {
        const [, next] = cString(message, 0); // the portal
        onStatement(prepared.get(cString(message, next)[0]) ?? '');
      } else if (type === 'Q') {
        onStatement(cString(message, 0)[0]);
      }
      buffer = buffer.subarray(1 + length);
    }
  };
}

export async function startStatementProxy(target: { host: string; port: number }): Promise<StatementProxy> {
  /** The SQL of every statement run, in order. */
  const statements: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    const count = counter((sql) => statements.push(sql));
    client.on('data', (chunk: Buffer) => {
      count(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    statements: (matching) =>
      matching === undefined ? statements.length : statements.filter((sql) => matching.test(sql)).length,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
