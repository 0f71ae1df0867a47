// A flood of unauthenticated requests, run by bench/flood.ts as a process of its own (so its
// work does not slow the benchmark's own process):
// `node flood-client.ts <base url> <requests a second> <connections>`.
// Requests go out paced at that rate over keep-alive connections, cycling through what a
// hostile client sends without a valid credential: the same unknown API key, /health, a
// malformed JWT, no credential. On SIGTERM it prints one JSON line, {"sent","byStatus"}, and exits.
import { Agent, request } from 'node:http';

const [base = '', rateText = '1000', connectionsText = '32'] = process.argv.slice(2);
const rate = Number(rateText);
const agent = new Agent({ keepAlive: true, maxSockets: Number(connectionsText) });
const unknownKey = `cbk_flood${'x'.repeat(39)}`;
const kinds: { path: string; authorization?: string }[] = [
  { path: '/v1/me', authorization: `Bearer ${unknownKey}` },
  { path: '/health' },
  { path: '/v1/sessions', authorization: `Bearer ${unknownKey}` },
  { path: '/v1/me', authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.bm90LWEtc2lnbmF0dXJl' },
  { path: '/v1/sessions' },
];

let sent = 0;
const byStatus: Record<string, number> = {};

function send(): void {
  const kind = kinds[sent % kinds.length]!;
  sent++;
  const req = request(
    `${base}${kind.path}`,
    { agent, headers: kind.authorization === undefined ? {} : { authorization: kind.authorization } },
    (res) => {
      res.resume();
      res.on('end', () => {
        const status = String(res.statusCode ?? 0);
        byStatus[status] = (byStatus[status] ?? 0) + 1;
      });
    },
  );
  req.on('error', () => {
    byStatus['error'] = (byStatus['error'] ?? 0) + 1;
  });
  req.end();
}

// Paced: each tick sends what the rate allows since the last one (a paused process does not
// catch up in a burst when it resumes).
let last = performance.now();
let credit = 0;
const timer = setInterval(() => {
  const now = performance.now();
  credit = Math.min(credit + ((now - last) / 1000) * rate, rate / 20);
  last = now;
  for (; credit >= 1; credit--) send();
}, 5);

process.on('SIGTERM', () => {
  clearInterval(timer);
  process.stdout.write(`${JSON.stringify({ sent, byStatus })}\n`, () => process.exit(0));
});
process.stdout.write('ready\n');
