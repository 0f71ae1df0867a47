// Issue 16, item 10: a property-based fuzz suite over every route of docs/API.md (read from the
// document itself, and checked against the routes the app serves). fast-check makes requests of
// random methods, credentials, ids, query strings, headers, content types and bodies (JSON shaped
// like the API's, arbitrary JSON, text, multipart, sizes up to the body limit and just past it);
// every answer must carry a status API.md documents and never 500, errors in API.md's shape with
// the status of their code. 10,000 requests through app.inject (the whole Fastify pipeline, no
// sockets), with a fixed seed (FUZZ_SEED overrides it): heap after a full GC is measured every
// 2,000 requests once warm, and must stay flat. A load test (vitest.config.ts, project "load",
// run with --expose-gc).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMIT_BYTES } from '../src/app.ts';
import { startTestService, type TestService } from './support/harness.ts';

const RUNS = 10_000;
const CHUNK = 2_000;
const SEED = Number(process.env['FUZZ_SEED'] ?? 160_010);
/** Heap growth allowed from the first measurement (warm) to the last, after a full GC. */
const FLAT_BYTES = 8 * 1024 * 1024;

const API_MD = new URL('../../docs/API.md', import.meta.url);
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];
interface Route {
  method: Method;
  /** With `{name}` parameters, as API.md writes it. */
  path: string;
}

/** Every route of API.md's endpoint tables: rows starting with a `METHOD /path` cell. */
function documentedRoutes(markdown: string): Route[] {
  const routes: Route[] = [];
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cell = line.split('|')[1] ?? '';
    const parts = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const path = parts
      .find((p) => p.includes('/'))
      ?.split(' ')
      .at(-1)
      ?.split('?')[0];
    if (path === undefined) continue;
    for (const part of parts) {
      const method = part.split(' ')[0] as Method;
      if (METHODS.includes(method)) routes.push({ method, path });
    }
  }
  return routes;
}

/** API.md's error table: code -> status. */
function documentedErrors(markdown: string): Map<string, number> {
  const errors = new Map<string, number>();
  for (const match of markdown.matchAll(/^\| ([a-z_]+) +\| (\d{3}) +\|/gm))
    errors.set(match[1]!, Number(match[2]));
  return errors;
}

let svc: TestService;
let uploads: string;
let routes: Route[];
let errors: Map<string, number>;
/** The ids and credentials requests draw from, renewed every chunk (requests delete things). */
let world: Awaited<ReturnType<typeof makeWorld>>;

async function makeWorld() {
  const a = await svc.createTenant({ settings: { rateLimit: { rpm: 1_000_000, tpm: 1_000_000_000 } } });
  const b = await svc.createTenant();
  const session = (await svc.request('POST', '/v1/sessions', { token: a.userToken, body: {} })).body.id;
  const key = (await svc.request('POST', `/v1/tenants/${a.id}/api-keys`, { token: a.adminToken, body: {} }))
    .body;
  const kb = (
    await svc.request('POST', '/v1/knowledge-bases', {
      token: a.adminToken,
      body: { name: `kb ${randomBytes(3).toString('hex')}` },
    })
  ).body.id;
  const form = new FormData();
  form.append('file', new Blob(['# Notes\n\nSome text to find.'], { type: 'text/markdown' }), 'notes.md');
  const uploaded = await fetch(`${svc.url}/v1/knowledge-bases/${kb}/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${a.adminToken}` },
    body: form,
  });
  const document = ((await uploaded.json()) as { id: string }).id;
  return {
    ids: [a.id, b.id, session, key.id as string, kb, document],
    credentials: [a.userToken, a.adminToken, key.key as string, b.userToken, b.adminToken, svc.platformToken],
  };
}

beforeAll(async () => {
  const markdown = await readFile(API_MD, 'utf8');
  routes = documentedRoutes(markdown);
  errors = documentedErrors(markdown);
  uploads = await mkdtemp(join(tmpdir(), 'chatbot-fuzz-uploads-'));
  svc = await startTestService({ env: { UPLOADS_DIR: uploads, LOG_LEVEL: 'silent' } });
  world = await makeWorld();
});
afterAll(async () => {
  await svc?.close();
  if (uploads !== undefined) await rm(uploads, { recursive: true, force: true });
});

// --- what requests are made of ---------------------------------------------------------

/** Printable ASCII: what a header value may hold. */
const printable = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** An id in the path: one of the world's (by index, the world changes), or anything else. */
const idArb = fc.oneof(
  { weight: 6, arbitrary: fc.nat(5).map((i) => ({ world: i })) },
  { weight: 1, arbitrary: fc.uuid().map((v) => ({ raw: v })) },
  { weight: 1, arbitrary: fc.uuid().map((v) => ({ raw: `urn:uuid:${v}` })) },
  { weight: 1, arbitrary: fc.uuid().map((v) => ({ raw: v.toUpperCase() })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((v) => ({ raw: v })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('', '..', '%zz', '0', '-1', 'null', '{id}', 'x'.repeat(300))
      .map((v) => ({ raw: v })),
  },
  // Into the path as written, not percent-encoded: broken encodings.
  { weight: 1, arbitrary: fc.constantFrom('%zz', '%', '%E0%A4%A', '%C0%AF').map((v) => ({ verbatim: v })) },
);

const credentialArb = fc.oneof(
  { weight: 8, arbitrary: fc.nat(5).map((i) => ({ world: i })) },
  { weight: 1, arbitrary: fc.constant({ none: true as const }) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        printable(80).map((v) => `Bearer ${v}`),
        fc.constantFrom('cbk_', 'eyJ', 'a.b.c').chain((p) => printable(60).map((v) => `Bearer ${p}${v}`)),
        fc.constantFrom('Basic dXNlcjpwYXNz', 'Bearer', 'bearer  x', 'Token abc'),
        // A few unknown API keys, again and again (they are remembered: bounded).
        fc.nat(20).map((i) => `Bearer cbk_fuzz${String(i).padStart(40, '0')}`),
      )
      .map((header) => ({ header })),
  },
);

/** Values for the API's own field names: right, wrong type, out of range, empty. */
const fieldValue = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.integer({ min: -5, max: 200_000 }),
  fc.boolean(),
  fc.constant(null),
  fc.uuid(),
  fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.uuid()), { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const FIELDS = [
  'content',
  'title',
  'stream',
  'model',
  'name',
  'slug',
  'settings',
  'apiKey',
  'sub',
  'role',
  'ttlSeconds',
  'messages',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'stop',
  'query',
  'k',
  'description',
  'embeddingModel',
  'embeddingDimensions',
  'chunkSize',
  'chunkOverlap',
  'rateLimit',
] as const;
const fieldsArb = fc.dictionary(fc.constantFrom(...FIELDS), fieldValue, { maxKeys: 5 });
/** Bodies that are nearly right, so requests get past validation and into the handlers. */
const plausibleArb = fc.oneof(
  fc.record(
    { content: fc.string({ minLength: 1, maxLength: 200 }), stream: fc.boolean() },
    { requiredKeys: ['content'] },
  ),
  fc.record(
    {
      model: fc.constantFrom('test/model', 'other/model'),
      messages: fc.array(
        fc.record({
          role: fc.constantFrom('user', 'system', 'assistant', 'tool', 'developer'),
          content: fc.string({ maxLength: 80 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      stream: fc.boolean(),
      max_tokens: fc.integer({ min: 1, max: 5000 }),
    },
    { requiredKeys: ['model', 'messages'] },
  ),
  fc.record({ name: fc.string({ minLength: 1, maxLength: 40 }) }),
  fc.record(
    {
      sub: fc.string({ minLength: 1, maxLength: 30 }),
      role: fc.constantFrom('user', 'tenant_admin', 'platform_admin'),
      ttlSeconds: fc.integer({ min: 1, max: 90_000 }),
    },
    { requiredKeys: ['sub'] },
  ),
  fc.record(
    { query: fc.string({ minLength: 1, maxLength: 50 }), k: fc.integer({ min: 0, max: 60 }) },
    { requiredKeys: ['query'] },
  ),
  fc.record({
    settings: fc.record(
      {
        model: fc.option(fc.string({ maxLength: 20 })),
        systemPrompt: fc.option(fc.string({ maxLength: 40 })),
        knowledgeTopK: fc.integer({ min: 0, max: 30 }),
      },
      { requiredKeys: [] },
    ),
  }),
  fc.record({ apiKey: fc.constantFrom('sk-or-v1-fuzz', 'sk fuzz', '') }),
);

/** Bodies near the limit and past it (made once: they are large). */
const nearLimit = JSON.stringify({ content: 'x'.repeat(BODY_LIMIT_BYTES - 40) });
const pastLimit = JSON.stringify({ content: 'x'.repeat(BODY_LIMIT_BYTES + 10) });

function multipart(
  boundary: string,
  parts: { name: string; filename?: string; type?: string; data: string }[],
) {
  return (
    parts
      .map(
        (p) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"` +
          (p.filename === undefined ? '' : `; filename="${p.filename}"`) +
          `\r\n${p.type === undefined ? '' : `Content-Type: ${p.type}\r\n`}\r\n${p.data}\r\n`,
      )
      .join('') + `--${boundary}--\r\n`
  );
}

const bodyArb: fc.Arbitrary<{ payload?: string; type?: string }> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  {
    weight: 4,
    arbitrary: plausibleArb.map((v) => ({ payload: JSON.stringify(v), type: 'application/json' })),
  },
  { weight: 3, arbitrary: fieldsArb.map((v) => ({ payload: JSON.stringify(v), type: 'application/json' })) },
  {
    weight: 2,
    arbitrary: fc
      .jsonValue({ maxDepth: 3 })
      .map((v) => ({ payload: JSON.stringify(v) ?? 'null', type: 'application/json' })),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }).map((v) => ({ payload: v })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        name: fc.constantFrom('notes.md', 'page.html', 'doc.pdf', 'x.exe', 'noext', ''),
        type: fc.constantFrom(
          'text/plain',
          'text/markdown',
          'application/pdf',
          'application/octet-stream',
          'image/png',
        ),
        data: fc.string({ maxLength: 200 }),
        parts: fc.integer({ min: 0, max: 2 }),
      })
      .map(({ name, type, data, parts }) => ({
        payload: multipart(
          'fuzzBoundary',
          Array.from({ length: parts }, (_, i) => ({ name: `file${i}`, filename: name, type, data })),
        ),
        type: 'multipart/form-data; boundary=fuzzBoundary',
      })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { payload: nearLimit, type: 'application/json' },
      { payload: pastLimit, type: 'application/json' },
    ),
  },
);

const contentTypeArb = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'text/plain',
    'text/event-stream',
    'application/x-www-form-urlencoded',
    'multipart/form-data',
    'multipart/form-data; boundary=fuzzBoundary',
    'application/octet-stream',
    'application/json; charset=utf-16',
  ),
  printable(40),
);

/** `arbitrary` one time in `oneIn`, else null. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number) =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });

const requestArb = fc.record({
  route: fc.nat(10_000),
  method: sometimes(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'), 10),
  ids: fc.array(idArb, { minLength: 2, maxLength: 2 }),
  credential: credentialArb,
  query: fc.dictionary(
    fc.constantFrom('limit', 'cursor', 'all', 'from', 'to', 'tenantId', 'k', 'stream'),
    fc.oneof(
      printable(30),
      fc.integer({ min: -10, max: 500 }).map(String),
      fc.uuid(),
      fc.constantFrom('true', 'false', '2025-01-01', ''),
    ),
    { maxKeys: 3 },
  ),
  body: bodyArb,
  contentType: sometimes(contentTypeArb, 5),
  idempotencyKey: sometimes(printable(220), 4),
  accept: sometimes(fc.constantFrom('text/event-stream', 'application/json', '*/*', 'text/html'), 4),
});

type FuzzRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function toInject(r: FuzzRequest) {
  const route = routes[r.route % routes.length]!;
  let n = 0;
  const path = route.path.replace(/\{[^}]+\}/g, () => {
    const id = r.ids[n++ % r.ids.length]!;
    if ('verbatim' in id) return id.verbatim;
    return encodeURIComponent('world' in id ? world.ids[id.world % world.ids.length]! : id.raw);
  });
  const headers: Record<string, string> = {};
  if ('world' in r.credential) {
    headers['authorization'] = `Bearer ${world.credentials[r.credential.world % world.credentials.length]!}`;
  } else if ('header' in r.credential) headers['authorization'] = r.credential.header;
  const type = r.contentType ?? r.body.type;
  if (type !== undefined && r.body.payload !== undefined) headers['content-type'] = type;
  if (r.idempotencyKey !== null) headers['idempotency-key'] = r.idempotencyKey;
  if (r.accept !== null) headers['accept'] = r.accept;
  return {
    method: (r.method ?? route.method) as Method | 'HEAD' | 'OPTIONS',
    url: path,
    query: r.query,
    headers,
    ...(r.body.payload === undefined ? {} : { payload: r.body.payload }),
  };
}

const SUCCESS = new Set([200, 201, 202, 204]);

describe('fuzzing every route of API.md', () => {
  it('serves the routes API.md documents (the suite covers them all)', () => {
    const served = new Set<string>();
    for (const route of routes) {
      const found = svc.app.hasRoute({
        method: route.method,
        url: route.path.replace(/\{([^}]+)\}/g, ':$1'),
      });
      if (!found) served.add(`${route.method} ${route.path}`);
    }
    expect(routes.length).toBeGreaterThanOrEqual(35);
    expect([...served], 'documented but not served').toEqual([]);
  });

  it(`a property-based fuzz suite: ${RUNS.toLocaleString('en')} random requests over every route get documented codes, never 500, and the heap stays flat`, async () => {
    const counts = new Map<number, number>();
    const heap: number[] = [];
    let sent = 0;
    const started = performance.now();
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'the load project runs with --expose-gc').toBeTypeOf('function');

    for (let chunk = 0; chunk < RUNS / CHUNK; chunk++) {
      await fc.assert(
        fc.asyncProperty(requestArb, async (r) => {
          const req = toInject(r);
          const res = await svc.app.inject(req);
          sent++;
          counts.set(res.statusCode, (counts.get(res.statusCode) ?? 0) + 1);
          const what = `${req.method} ${req.url} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
          expect(res.statusCode, what).not.toBe(500);
          if (SUCCESS.has(res.statusCode)) return;
          expect([...errors.values()], what).toContain(res.statusCode);
          if (req.method === 'HEAD') return;
          const body = JSON.parse(res.body) as { error?: { code?: string; message?: unknown } };
          expect(typeof body.error?.message, what).toBe('string');
          expect(errors.get(body.error?.code ?? ''), what).toBe(res.statusCode);
        }),
        { numRuns: CHUNK, seed: SEED + chunk, endOnFailure: true },
      );
      // What requests delete or spend (sessions, keys, the tenant itself) is made anew; what
      // the test keeps is let go before the heap is weighed.
      world = await makeWorld();
      svc.stub.reset();
      gc!();
      await new Promise((resolve) => setImmediate(resolve));
      gc!();
      heap.push(process.memoryUsage().heapUsed);
    }
    const seconds = (performance.now() - started) / 1000;
    const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    process.stdout.write(
      `fuzz (seed ${SEED}): ${sent} requests in ${seconds.toFixed(0)} s; statuses ` +
        `${JSON.stringify(Object.fromEntries([...counts].sort(([x], [y]) => x - y)))}; ` +
        `heap after GC every ${CHUNK} requests: ${heap.map(mb).join(', ')} MB\n`,
    );
    expect(sent).toBe(RUNS);
    // Flat once warm: from the first measurement to the last.
    expect(heap.at(-1)! - heap[0]!).toBeLessThan(FLAT_BYTES);
    // And the service still answers.
    expect((await svc.request('GET', '/health')).status).toBe(200);
  }, 600_000);
});
