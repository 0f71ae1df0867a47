// SIGTERM on a real process: stop accepting, let open streams finish, close the pools, exit 0.
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
});
