// SIGTERM on a real process: stop accepting, let open streams finish, close the pools, exit 0.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents, startServiceProcess, startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => svc?.close());

describe('graceful shutdown', () => {
  it('lets 20 open streams finish with done after SIGTERM, refuses new connections, and exits 0', async () => {
    const t = await svc.createTenant();
    const proc = await startServiceProcess({ ...svc.env, SHUTDOWN_GRACE_MS: '15000' });
    try {
      svc.stub.setDefault({
        kind: 'reply',
        chunks: Array.from({ length: 20 }, (_, i) => `p${i} `),
        delayMs: 100,
      });
      const sessions = await Promise.all(
        Array.from(
          { length: 20 },
          async () => (await svc.request('POST', '/v1/sessions', { token: t.userToken, body: {} })).body.id,
        ),
      );
      let firstDeltas = 0;
      let allStarted!: () => void;
      const started = new Promise<void>((resolve) => (allStarted = resolve));
      const streams = sessions.map(async (id) => {
        const res = await fetch(`${proc.url}/v1/sessions/${id}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t.userToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ content: 'slow one', stream: true }),
        });
        expect(res.status).toBe(200);
        let counted = false;
        return readEvents(res, (e) => {
          if (e.event === 'delta' && !counted) {
            counted = true;
            if (++firstDeltas === 20) allStarted();
          }
        });
      });
      await started;
      proc.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      const refused = await fetch(`${proc.url}/health/live`).then(
        (r) => `answered ${r.status}`,
        (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message,
      );
      expect(refused).toBe('ECONNREFUSED');

      const results = await Promise.all(streams);
      for (const events of results) {
        expect(events.at(-1)!.event).toBe('done');
        expect(events.at(-1)!.data.content).toBe(Array.from({ length: 20 }, (_, i) => `p${i} `).join(''));
      }
      expect(await proc.exited).toBe(0);
      expect(proc.logs.join('\n')).toContain('shut down cleanly');
    } finally {
      svc.stub.reset();
      await proc.stop('SIGKILL');
    }
  });
  it('does not wait for connections that never sent a request, nor for idle keep-alive ones', async () => {
    const grace = 10_000;
    const proc = await startServiceProcess({ ...svc.env, SHUTDOWN_GRACE_MS: String(grace) });
    const sockets: Socket[] = [];
    try {
      const { port } = new URL(proc.url);
      const open = () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(Number(port), '127.0.0.1', () => resolve(socket)).on('error', reject);
          sockets.push(socket);
        });
      // A client (a TCP health probe, a browser's speculative connection) that connects and
      // sends nothing, and one that sent a request and keeps its connection open.
      const silent = await open();
      const keptAlive = await open();
      const answered = new Promise<string>((resolve) => keptAlive.once('data', (d) => resolve(String(d))));
      keptAlive.write(`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
      expect(await answered).toMatch(/^HTTP\/1\.1 200/);
      const closed = (socket: Socket) =>
        new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const bothClosed = Promise.all([closed(silent), closed(keptAlive)]);

      const started = Date.now();
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      const took = Date.now() - started;
      await bothClosed;
      expect(took).toBeLessThan(grace / 2);
      expect(proc.logs.join('\n')).toContain('shut down cleanly');
    } finally {
      for (const socket of sockets) socket.destroy();
      await proc.stop('SIGKILL');
    }
  });
});
