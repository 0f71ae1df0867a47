// SIGTERM on a real process: stop accepting, let open streams finish, close the pools, exit 0.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readEvents } from '@chatbot/test-kit/events';
import { startServiceProcess, startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => svc?.close());

describe('graceful shutdown', () => {
  it('lets 20 open streams finish with done after SIGTERM, refuses new connections, and exits 0', async () => {
    const t = await svc.createTenant();
    const proc = await startServiceProcess({
      ...svc.env,
      SHUTDOWN_GRACE_MS: '15000',
      LLM_TIMEOUT_MS: '60000',
    });
    // Each stream stops halfway until the test has seen new connections refused.
    let refusalSeen!: () => void;
    const halfway = new Promise<void>((resolve) => (refusalSeen = resolve));
    try {
      svc.stub.setDefault({
        kind: 'reply',
        chunks: Array.from({ length: 20 }, (_, i) => `p${i} `),
        holds: Array.from({ length: 20 }, (_, i) => (i === 10 ? halfway : undefined)),
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
      // The listener closes soon after the signal (how soon depends on the machine): poll for
      // the first refused connection while the streams are still running.
      let streamsDone = 0;
      for (const stream of streams)
        void stream.then(
          () => streamsDone++,
          () => streamsDone++,
        );
      const { port } = new URL(proc.url);
      await vi.waitFor(
        async () => {
          const outcome = await new Promise<string>((resolve) => {
            const socket = connect(Number(port), '127.0.0.1', () => {
              socket.destroy();
              resolve('connected');
            }).on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
          });
          expect(outcome).toBe('ECONNREFUSED');
        },
        { timeout: 10_000, interval: 25 },
      );
      expect(streamsDone).toBe(0);
      refusalSeen();

      const results = await Promise.all(streams);
      for (const events of results) {
        expect(events.at(-1)!.event).toBe('done');
        expect(events.at(-1)!.data.content).toBe(Array.from({ length: 20 }, (_, i) => `p${i} `).join(''));
      }
      expect(await proc.exited).toBe(0);
      expect(proc.logs.join('\n')).toContain('shut down cleanly');
    } finally {
      refusalSeen();
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

      proc.child.kill('SIGTERM');
      // close-with-grace exits 1 when the drain outlives SHUTDOWN_GRACE_MS: exit 0 and the
      // clean-shutdown line mean the drain did not wait for these connections.
      expect(await proc.exited).toBe(0);
      await bothClosed;
      expect(proc.logs.join('\n')).toContain('shut down cleanly');
      expect(proc.logs.join('\n')).not.toContain('killed by timeout');
    } finally {
      for (const socket of sockets) socket.destroy();
      await proc.stop('SIGKILL');
    }
    // A deadline, not a measure: starting a service process and its drain take longer on a
    // loaded machine.
  }, 120_000);
});
