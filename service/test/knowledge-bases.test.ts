// Knowledge bases end to end: uploads become jobs in Redis, workers extract, chunk, embed
// (the LLM stub's deterministic /v1/embeddings) and store chunks in Postgres; search and chat
// turns answer from them with sources. Every wait is on an observed state, never a clock.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readEvents } from '@chatbot/test-kit/events';
import { startTestService, type TestService } from './support/harness.ts';
import { pdfOf, upload, type UploadFile } from './support/documents.ts';

const WAIT = { timeout: 60_000, interval: 50 };

const HANDBOOK = `# Employee handbook

## Refunds

Customers may return damaged items within 30 days for a full refund. The refund goes back to
the original payment method within five business days.

## Holidays

Every employee has 25 days of paid holiday a year. Holidays are booked in the HR portal at least
two weeks ahead.
`;

let service: TestService;
let uploads: string;

beforeAll(async () => {
  uploads = mkdtempSync(join(tmpdir(), 'kb-uploads-'));
  service = await startTestService({
    env: {
      UPLOADS_DIR: uploads,
      KB_QUEUE_PREFIX: `test-kb-${randomBytes(4).toString('hex')}`,
      KB_WORKER_CONCURRENCY: '2',
      KB_JOB_ATTEMPTS: '2',
      KB_JOB_BACKOFF_MS: '20',
      EMBEDDING_MAX_RETRIES: '1',
      EMBEDDING_MODEL: 'test/embed',
      KB_CHUNK_SIZE: '300',
      KB_CHUNK_OVERLAP: '40',
      KB_MAX_UPLOAD_BYTES: '200000',
      // Bases of a few chunks get their HNSW index, so searches here go through one.
      KB_HNSW_MIN_CHUNKS: '2',
      // The scheduled sweep stays out of the way; the sweep test calls it itself.
      KB_SWEEP_SECONDS: '3600',
    },
  });
});

afterAll(async () => {
  await service?.close();
  rmSync(uploads, { recursive: true, force: true });
});

type Tenant = Awaited<ReturnType<TestService['createTenant']>>;

async function createBase(tenant: Tenant, body: Record<string, unknown> = {}) {
  const res = await service.request('POST', '/v1/knowledge-bases', {
    token: tenant.adminToken,
    body: { name: `kb-${randomBytes(3).toString('hex')}`, ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; embeddingModel: string; embeddingDimensions: number | null };
}

async function uploadTo(tenant: Tenant, baseId: string, file: UploadFile) {
  return upload(service.url, `/v1/knowledge-bases/${baseId}/documents`, tenant.adminToken, [file]);
}

async function documentOf(tenant: Tenant, baseId: string, documentId: string) {
  const res = await service.request('GET', `/v1/knowledge-bases/${baseId}/documents/${documentId}`, {
    token: tenant.adminToken,
  });
  return res.body;
}

/** Waits until the document reaches `status` (ready or failed), and answers it. */
async function settled(tenant: Tenant, baseId: string, documentId: string, status: 'ready' | 'failed') {
  return vi.waitFor(async () => {
    const doc = await documentOf(tenant, baseId, documentId);
    expect(doc.status).toBe(status);
    return doc;
  }, WAIT);
}

async function uploadReady(tenant: Tenant, baseId: string, file: UploadFile) {
  const res = await uploadTo(tenant, baseId, file);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return settled(tenant, baseId, res.body.id, 'ready');
}

async function search(tenant: Tenant, baseId: string, query: string, k = 5) {
  const res = await service.request('POST', `/v1/knowledge-bases/${baseId}/search`, {
    token: tenant.adminToken,
    body: { query, k },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items as { documentId: string; content: string; heading: string | null; score: number }[];
}

async function useBases(tenant: Tenant, ids: string[]) {
  const res = await service.request('PATCH', `/v1/tenants/${tenant.id}`, {
    token: tenant.adminToken,
    body: { settings: { knowledgeBases: ids } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function newSession(tenant: Tenant) {
  const res = await service.request('POST', '/v1/sessions', { token: tenant.userToken, body: {} });
  return res.body.id as string;
}

describe('knowledge bases', () => {
  it('ingests an upload (queued, then ready with progress 100) and a chat turn answers from it with sources', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    expect(base.embeddingModel).toBe('test/embed');
    expect(base.embeddingDimensions).toBeNull();

    const res = await uploadTo(tenant, base.id, {
      name: 'handbook.md',
      type: 'text/markdown',
      content: HANDBOOK,
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ name: 'handbook.md', contentType: 'text/markdown', status: 'queued' });
    const doc = await settled(tenant, base.id, res.body.id, 'ready');
    expect(doc).toMatchObject({ progress: 100, attempts: 1, error: null });
    expect(doc.chunks).toBeGreaterThan(1);

    const kb = await service.request('GET', `/v1/knowledge-bases/${base.id}`, { token: tenant.adminToken });
    expect(kb.body).toMatchObject({
      embeddingDimensions: 256,
      documents: { queued: 0, processing: 0, ready: 1, failed: 0 },
      chunks: doc.chunks,
      reindex: null,
    });

    // Past KB_HNSW_MIN_CHUNKS, the version has its HNSW index.
    const [version] = await owner<{ id: string }>(
      (sql) => sql`select active_index_id as id from knowledge_bases where id = ${base.id}`,
    );
    await vi.waitFor(async () => expect(await partitionExists(version!.id, '_hnsw')).toBe(true), WAIT);
    // A small graph (migration 0011): inserts into an indexed version cost about half.
    const [graph] = await owner<{ options: string[] }>(
      (sql) =>
        sql`select reloptions as options from pg_class
             where relname = ${`kb_chunks_${version!.id.replace(/-/g, '')}_hnsw`}`,
    );
    expect(graph!.options).toEqual(['m=8', 'ef_construction=64']);

    // Chunks follow the headings.
    const chunks = await service.request('GET', `/v1/knowledge-bases/${base.id}/documents/${doc.id}/chunks`, {
      token: tenant.adminToken,
    });
    expect(chunks.body.items.map((c: { heading: string }) => c.heading)).toContain(
      'Employee handbook > Refunds',
    );

    const found = await search(tenant, base.id, 'How do refunds for damaged items work?');
    expect(found[0]!.content).toContain('damaged items');
    expect(found[0]!.heading).toBe('Employee handbook > Refunds');

    await useBases(tenant, [base.id]);
    const session = await newSession(tenant);
    service.stub.reset();
    const turn = await service.request('POST', `/v1/sessions/${session}/messages`, {
      token: tenant.userToken,
      body: { content: 'How do refunds for damaged items work?' },
    });
    expect(turn.status, JSON.stringify(turn.body)).toBe(201);
    const sources = turn.body.reply.sources as { documentName: string; content: string }[];
    expect(sources.length).toBeGreaterThan(0);
    expect(sources[0]).toMatchObject({
      documentName: 'handbook.md',
      knowledgeBaseId: base.id,
      documentId: doc.id,
    });
    expect(sources[0]!.content).toContain('damaged items');
    // The model got them, numbered, before the question.
    const sent = service.stub.requests.at(-1)!.body.messages;
    const context = sent.at(-2)!;
    expect(context.role).toBe('system');
    expect(context.content).toContain('[1] handbook.md — Employee handbook > Refunds');
    expect(sent.at(-1)).toEqual({ role: 'user', content: 'How do refunds for damaged items work?' });

    // Stored with the message.
    const listed = await service.request('GET', `/v1/sessions/${session}/messages`, {
      token: tenant.userToken,
    });
    expect(listed.body.items[1].sources).toEqual(sources);

    // Streamed: `sources` comes after `message` and before the first delta.
    const response = await fetch(`${service.url}/v1/sessions/${session}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.userToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'How many holiday days do employees get?', stream: true }),
    });
    const events = await readEvents(response);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('message');
    expect(names[1]).toBe('sources');
    expect(names.indexOf('delta')).toBeGreaterThan(1);
    expect(events[1]!.data.sources.map((s: { content: string }) => s.content).join('\n')).toContain(
      '25 days',
    );
    expect(events.at(-1)!.event).toBe('done');
    expect(events.at(-1)!.data.sources).toEqual(events[1]!.data.sources);
  });
});

describe('the OpenAI-compatible endpoint', () => {
  it('answers from the knowledge bases too, with sources beside the completion and on the first chunk', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    const doc = await uploadReady(tenant, base.id, {
      name: 'handbook.md',
      type: 'text/markdown',
      content: HANDBOOK,
    });
    await useBases(tenant, [base.id]);
    const question = { role: 'user', content: 'How many holiday days are there?' };
    const whole = await service.request('POST', '/v1/chat/completions', {
      token: tenant.userToken,
      body: { messages: [question] },
    });
    expect(whole.status, JSON.stringify(whole.body)).toBe(200);
    expect(whole.body.choices[0].message.content).toBe(`Echo: ${question.content}`);
    expect(whole.body.sources.map((s: { documentId: string }) => s.documentId)).toContain(doc.id);
    expect(service.stub.requests.at(-1)!.body.messages[0]!.content).toContain('[1] handbook.md');

    const response = await fetch(`${service.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.userToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [question], stream: true }),
    });
    const chunks = (await readEvents(response)).filter((e) => e.data !== '[DONE]');
    expect(chunks[0]!.data.sources).toEqual(whole.body.sources);
    expect(chunks.slice(1).every((c) => c.data.sources === undefined)).toBe(true);
  });
});

describe('uploads', () => {
  it('reads HTML (headings kept) and PDF (its text layer)', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    const html = await uploadReady(tenant, base.id, {
      name: 'guide.html',
      type: 'text/html',
      content:
        '<html><head><title>x</title><script>var secret = 1;</script></head><body>' +
        '<h1>Install guide</h1><p>Run the <b>installer</b> as an administrator.</p>' +
        '<h2>Upgrades</h2><p>Upgrades keep the configuration folder untouched.</p></body></html>',
    });
    const pdf = await uploadReady(tenant, base.id, {
      name: 'policy.pdf',
      type: 'application/octet-stream',
      content: pdfOf(['Travel policy', 'Trains are preferred over flights below six hours.']),
    });
    expect(pdf.contentType).toBe('application/pdf');

    const upgrades = await search(tenant, base.id, 'configuration folder upgrades');
    expect(upgrades[0]).toMatchObject({ documentId: html.id, heading: 'Install guide > Upgrades' });
    expect(upgrades.map((s) => s.content).join(' ')).not.toContain('secret');
    const trains = await search(tenant, base.id, 'trains or flights');
    expect(trains[0]!.documentId).toBe(pdf.id);
    expect(trains[0]!.content).toContain('Trains are preferred over flights below six hours.');
  });

  it('refuses what it cannot take with API.md codes, and keeps nothing of it', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    const path = `/v1/knowledge-bases/${base.id}/documents`;
    const send = (files: UploadFile[], token = tenant.adminToken) => upload(service.url, path, token, files);

    const image = await send([{ name: 'photo.png', type: 'image/png', content: Buffer.from([0x89, 0x50]) }]);
    expect(image.status).toBe(415);
    expect(image.body.error.code).toBe('unsupported_media_type');
    const big = await send([{ name: 'big.txt', type: 'text/plain', content: 'x'.repeat(200_001) }]);
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    const empty = await send([{ name: 'empty.txt', type: 'text/plain', content: '' }]);
    expect(empty.status).toBe(400);
    const two = await send([
      { name: 'a.txt', type: 'text/plain', content: 'a' },
      { name: 'b.txt', type: 'text/plain', content: 'b' },
    ]);
    expect(two.status).toBe(400);
    const none = await upload(service.url, path, tenant.adminToken, [], { note: 'no file' });
    expect(none.status).toBe(400);
    const json = await service.request('POST', path, { token: tenant.adminToken, body: { text: 'hi' } });
    expect(json.status).toBe(415);
    // Broken multipart bodies: no boundary, a body that ends mid-part.
    const broken = [
      { type: 'multipart/form-data', body: 'whatever' },
      {
        type: 'multipart/form-data; boundary=xyz',
        body: '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhalf a fi',
      },
    ];
    for (const { type, body } of broken) {
      const res = await service.request('POST', path, {
        token: tenant.adminToken,
        rawBody: body,
        headers: { 'content-type': type },
      });
      expect(res.status, `${type}: ${JSON.stringify(res.body)}`).toBe(400);
    }
    const user = await send([{ name: 'a.txt', type: 'text/plain', content: 'a' }], tenant.userToken);
    expect(user.status).toBe(403);
    const missing = await upload(
      service.url,
      `/v1/knowledge-bases/${randomUUID()}/documents`,
      tenant.adminToken,
      [{ name: 'a.txt', type: 'text/plain', content: 'a' }],
    );
    expect(missing.status).toBe(404);

    const listed = await service.request('GET', `${path}`, { token: tenant.adminToken });
    expect(listed.body.items).toEqual([]);
    // Nothing left on the uploads volume either (only the empty staging folder).
    expect(filesUnder(uploads).filter((f) => f.includes(tenant.id))).toEqual([]);

    // A PDF that is not one fails at once (no retry can mend it), with its reason.
    const fake = await send([{ name: 'fake.pdf', type: 'application/pdf', content: 'not a pdf at all' }]);
    expect(fake.status).toBe(202);
    const failed = await settled(tenant, base.id, fake.body.id, 'failed');
    expect(failed).toMatchObject({ attempts: 1, error: 'the file is not a PDF' });
  });
});

describe('tenancy', () => {
  it("keeps one tenant's knowledge out of another's search, chat and endpoints", async () => {
    const a = await service.createTenant();
    const b = await service.createTenant();
    const baseA = await createBase(a);
    await uploadReady(a, baseA.id, {
      name: 'secret.md',
      type: 'text/markdown',
      content: '# Vault\n\nThe vault code is 4711 zebra.',
    });
    const baseB = await createBase(b);
    await uploadReady(b, baseB.id, {
      name: 'public.md',
      type: 'text/markdown',
      content: '# Lobby\n\nThe lobby opens at nine.',
    });

    expect(await search(a, baseA.id, 'vault code zebra')).not.toEqual([]);
    // B sees nothing of A's base: 404 on every route, and its own search finds none of it.
    for (const [method, path] of [
      ['GET', `/v1/knowledge-bases/${baseA.id}`],
      ['GET', `/v1/knowledge-bases/${baseA.id}/documents`],
      ['POST', `/v1/knowledge-bases/${baseA.id}/search`],
      ['DELETE', `/v1/knowledge-bases/${baseA.id}`],
    ] as const) {
      const res = await service.request(method, path, {
        token: b.adminToken,
        ...(method === 'POST' ? { body: { query: 'vault' } } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    const own = await search(b, baseB.id, 'vault code zebra', 50);
    expect(own.map((s) => s.content).join(' ')).not.toContain('zebra');
    const listed = await service.request('GET', '/v1/knowledge-bases', { token: b.adminToken });
    expect(listed.body.items.map((k: { id: string }) => k.id)).toEqual([baseB.id]);

    // B's chat may not name A's base.
    const patch = await service.request('PATCH', `/v1/tenants/${b.id}`, {
      token: b.adminToken,
      body: { settings: { knowledgeBases: [baseA.id] } },
    });
    expect(patch.status).toBe(400);

    // Under B's tenant setting, even a query naming A's versions directly returns no row.
    const sql = postgres(service.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql.begin(async (tx) => {
        await tx`select set_config('role', 'chatbot_app', true), set_config('app.tenant_id', ${b.id}, true)`;
        return tx`select id from kb_chunks where knowledge_base_id = ${baseA.id}`;
      });
      expect(rows.length).toBe(0);
    } finally {
      await sql.end();
    }

    // A user (not an admin) of A reaches the base only through chat.
    const asUser = await service.request('POST', `/v1/knowledge-bases/${baseA.id}/search`, {
      token: a.userToken,
      body: { query: 'vault' },
    });
    expect(asUser.status).toBe(403);
  });
});

describe('deleting', () => {
  it('never retrieves a deleted document: not right after the delete, not when it was deleted mid-ingestion', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    await useBases(tenant, [base.id]);
    const keep = await uploadReady(tenant, base.id, {
      name: 'keep.md',
      type: 'text/markdown',
      content: '# Boats\n\nThe red boat sails on Mondays.',
    });
    const drop = await uploadReady(tenant, base.id, {
      name: 'drop.md',
      type: 'text/markdown',
      content: '# Boats\n\nThe blue boat sails on Fridays.',
    });
    expect((await search(tenant, base.id, 'boat sails')).map((s) => s.documentId).sort()).toEqual(
      [keep.id, drop.id].sort(),
    );

    const del = await service.request('DELETE', `/v1/knowledge-bases/${base.id}/documents/${drop.id}`, {
      token: tenant.adminToken,
    });
    expect(del.status).toBe(204);
    // At once: the very next search and chat turn.
    expect((await search(tenant, base.id, 'blue boat sails on Fridays')).map((s) => s.documentId)).toEqual([
      keep.id,
    ]);
    const session = await newSession(tenant);
    const turn = await service.request('POST', `/v1/sessions/${session}/messages`, {
      token: tenant.userToken,
      body: { content: 'When does the blue boat sail?' },
    });
    expect(turn.body.reply.sources.map((s: { documentId: string }) => s.documentId)).toEqual([keep.id]);
    expect((await documentOf(tenant, base.id, drop.id)).error.code).toBe('not_found');

    // Deleted while its embeddings are on their way: it never becomes searchable.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    service.stub.enqueueEmbeddings({ kind: 'embed', model: 'test/embed', hold: gate });
    const before = service.stub.embeddingRequests.length;
    const late = await uploadTo(tenant, base.id, {
      name: 'late.md',
      type: 'text/markdown',
      content: '# Boats\n\nThe green boat sails on Sundays.',
    });
    await vi.waitFor(() => expect(service.stub.embeddingRequests.length).toBeGreaterThan(before), WAIT);
    expect((await documentOf(tenant, base.id, late.body.id)).status).toBe('processing');
    const gone = await service.request('DELETE', `/v1/knowledge-bases/${base.id}/documents/${late.body.id}`, {
      token: tenant.adminToken,
    });
    expect(gone.status).toBe(204);
    release();
    // Its job ends (leaves the queue) without writing a chunk.
    const { queue } = service.app.services.knowledge;
    await vi.waitFor(
      async () =>
        expect(await queue.has({ kind: 'ingest', tenantId: tenant.id, documentId: late.body.id })).toBe(
          false,
        ),
      WAIT,
    );
    expect(await chunkRows(base.id, late.body.id)).toBe(0);
    expect((await search(tenant, base.id, 'green boat sails on Sundays')).map((s) => s.documentId)).toEqual([
      keep.id,
    ]);
  });
});

describe('a document being ingested', () => {
  it('is not found by searches until all of it is in, though its first batch is stored', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    const ready = await uploadReady(tenant, base.id, {
      name: 'ferry.md',
      type: 'text/markdown',
      content: '# Ferry\n\nThe red ferry crosses the bay every Monday morning.',
    });
    // About 90 chunks: two embedding requests (EMBEDDING_BATCH_SIZE 64); the second waits.
    const parts = Array.from(
      { length: 90 },
      (_, i) => `## Crate ${i}\n\nThe red ferry carries crate number ${i} across the bay on Monday.`,
    );
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    service.stub.enqueueEmbeddings(
      { kind: 'embed', model: 'test/embed' },
      { kind: 'embed', model: 'test/embed', hold: gate },
    );
    const before = service.stub.embeddingRequests.length;
    const big = await uploadTo(tenant, base.id, {
      name: 'crates.md',
      type: 'text/markdown',
      content: `# Crates\n\n${parts.join('\n\n')}`,
    });
    try {
      // Its first batch is stored and the second requested (held): half in, still processing.
      await vi.waitFor(async () => expect(await chunkRows(base.id, big.body.id)).toBeGreaterThan(0), WAIT);
      await vi.waitFor(() => expect(service.stub.embeddingRequests.length).toBe(before + 2), WAIT);
      expect((await documentOf(tenant, base.id, big.body.id)).status).toBe('processing');
      const meanwhile = await search(tenant, base.id, 'red ferry crate number 7 Monday', 10);
      expect(meanwhile.map((s) => s.documentId)).toEqual([ready.id]);
    } finally {
      release();
    }
    expect((await settled(tenant, base.id, big.body.id, 'ready')).chunks).toBeGreaterThan(64);
    const after = await search(tenant, base.id, 'red ferry crate number 7 Monday', 10);
    expect(after.map((s) => s.documentId)).toContain(big.body.id);
  });
});

describe('failures', () => {
  it('retries a failing embedding call with backoff, then leaves the document failed with the reason; retry queues it again', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    service.stub.setEmbeddingsDefault({ kind: 'error', status: 500, retryAfterMs: 1 });
    const before = service.stub.embeddingRequests.length;
    let res;
    try {
      res = await uploadTo(tenant, base.id, {
        name: 'a.md',
        type: 'text/markdown',
        content: '# A\n\nAlpha text.',
      });
      const failed = await settled(tenant, base.id, res.body.id, 'failed');
      expect(failed).toMatchObject({ attempts: 2, error: 'the embedding provider answered 500', chunks: 0 });
      // KB_JOB_ATTEMPTS (2) attempts of 1 + EMBEDDING_MAX_RETRIES (1) requests each.
      expect(service.stub.embeddingRequests.length - before).toBe(4);
    } finally {
      service.stub.setEmbeddingsDefault({ kind: 'embed' });
    }
    const retry = await service.request(
      'POST',
      `/v1/knowledge-bases/${base.id}/documents/${res.body.id}/retry`,
      {
        token: tenant.adminToken,
      },
    );
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ status: 'queued', error: 'the embedding provider answered 500' });
    const ready = await settled(tenant, base.id, res.body.id, 'ready');
    expect(ready).toMatchObject({ attempts: 1, error: null });
    const again = await service.request(
      'POST',
      `/v1/knowledge-bases/${base.id}/documents/${res.body.id}/retry`,
      {
        token: tenant.adminToken,
      },
    );
    expect(again.status).toBe(409);
  });

  it('backs off on 429 and still gets the document ready in its first attempt', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    service.stub.enqueueEmbeddings({ kind: 'error', status: 429, retryAfterMs: 5, model: 'test/embed' });
    const before = service.stub.embeddingRequests.length;
    const res = await uploadTo(tenant, base.id, {
      name: 'b.md',
      type: 'text/markdown',
      content: '# B\n\nBravo text.',
    });
    const ready = await settled(tenant, base.id, res.body.id, 'ready');
    expect(ready).toMatchObject({ attempts: 1, error: null });
    expect(service.stub.embeddingRequests.length - before).toBe(2);
  });
});

describe('re-indexing', () => {
  it('builds the new version beside the current one and swaps it in without a moment of empty results', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    await uploadReady(tenant, base.id, { name: 'handbook.md', type: 'text/markdown', content: HANDBOOK });

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    service.stub.enqueueEmbeddings({ kind: 'embed', model: 'test/embed-v2', hold: gate });
    const started = await service.request('POST', `/v1/knowledge-bases/${base.id}/reindex`, {
      token: tenant.adminToken,
      body: { embeddingModel: 'test/embed-v2', embeddingDimensions: 128 },
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      embeddingModel: 'test/embed',
      reindex: { embeddingModel: 'test/embed-v2', status: 'building' },
    });
    const conflict = await service.request('POST', `/v1/knowledge-bases/${base.id}/reindex`, {
      token: tenant.adminToken,
      body: {},
    });
    expect(conflict.status).toBe(409);
    await vi.waitFor(
      () => expect(service.stub.embeddingRequests.some((r) => r.body.model === 'test/embed-v2')).toBe(true),
      WAIT,
    );

    // Searches keep finding the handbook while the new version builds, across the swap, and after.
    const counts: number[] = [];
    let swapped = false;
    let afterSwap = 0;
    const searching = (async () => {
      while (afterSwap < 5) {
        counts.push((await search(tenant, base.id, 'refund damaged items')).length);
        if (swapped) afterSwap++;
      }
    })();
    await vi.waitFor(() => expect(counts.length).toBeGreaterThan(3), WAIT);
    release();
    await vi.waitFor(async () => {
      const kb = await service.request('GET', `/v1/knowledge-bases/${base.id}`, { token: tenant.adminToken });
      expect(kb.body).toMatchObject({
        embeddingModel: 'test/embed-v2',
        embeddingDimensions: 128,
        reindex: null,
      });
    }, WAIT);
    swapped = true;
    await searching;
    expect(counts.every((n) => n > 0)).toBe(true);
    const found = await search(tenant, base.id, 'refund damaged items');
    expect(found[0]!.content).toContain('damaged items');
    expect(service.stub.embeddingRequests.at(-1)!.body).toMatchObject({
      model: 'test/embed-v2',
      dimensions: 128,
    });
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

async function chunkRows(baseId: string, documentId: string): Promise<number> {
  const sql = postgres(service.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select count(*)::int as n from kb_chunks
                             where knowledge_base_id = ${baseId} and document_id = ${documentId}`;
    return row!.n as number;
  } finally {
    await sql.end();
  }
}

describe('lifecycles', () => {
  it('keeps the current version serving when a re-index fails, with the reason, and lets a new one start', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    await uploadReady(tenant, base.id, { name: 'handbook.md', type: 'text/markdown', content: HANDBOOK });
    // Every embedding request of the new model fails: KB_JOB_ATTEMPTS (2) x (1 + EMBEDDING_MAX_RETRIES (1)).
    for (let i = 0; i < 4; i++) {
      service.stub.enqueueEmbeddings({
        kind: 'error',
        status: 500,
        retryAfterMs: 1,
        model: 'test/embed-bad',
      });
    }
    const started = await service.request('POST', `/v1/knowledge-bases/${base.id}/reindex`, {
      token: tenant.adminToken,
      body: { embeddingModel: 'test/embed-bad' },
    });
    expect(started.status).toBe(202);
    const failed = await vi.waitFor(async () => {
      const kb = await service.request('GET', `/v1/knowledge-bases/${base.id}`, { token: tenant.adminToken });
      expect(kb.body.reindex?.status).toBe('failed');
      return kb.body;
    }, WAIT);
    expect(failed).toMatchObject({
      embeddingModel: 'test/embed',
      reindex: {
        embeddingModel: 'test/embed-bad',
        status: 'failed',
        error: 'the embedding provider answered 500',
      },
    });
    expect((await search(tenant, base.id, 'refund damaged items'))[0]!.content).toContain('damaged items');
    const again = await service.request('POST', `/v1/knowledge-bases/${base.id}/reindex`, {
      token: tenant.adminToken,
      body: {},
    });
    expect(again.status).toBe(202);
    await vi.waitFor(async () => {
      const kb = await service.request('GET', `/v1/knowledge-bases/${base.id}`, { token: tenant.adminToken });
      expect(kb.body.reindex).toBeNull();
    }, WAIT);
  });

  it("takes a deleted knowledge base's and a deleted tenant's partitions and files with them", async () => {
    const tenant = await service.createTenant();
    const kept = await createBase(tenant);
    const dropped = await createBase(tenant);
    await uploadReady(tenant, kept.id, { name: 'a.md', type: 'text/markdown', content: '# A\n\nAlpha.' });
    await uploadReady(tenant, dropped.id, { name: 'b.md', type: 'text/markdown', content: '# B\n\nBravo.' });
    await useBases(tenant, [kept.id, dropped.id]);
    const versionOf = async (baseId: string) =>
      (
        await owner<{ id: string }>(
          (sql) => sql`select active_index_id as id from knowledge_bases where id = ${baseId}`,
        )
      )[0]!.id;
    const keptVersion = await versionOf(kept.id);
    const droppedVersion = await versionOf(dropped.id);
    expect(filesUnder(join(uploads, tenant.id)).length).toBe(2);

    const del = await service.request('DELETE', `/v1/knowledge-bases/${dropped.id}`, {
      token: tenant.adminToken,
    });
    expect(del.status).toBe(204);
    expect(await partitionExists(droppedVersion)).toBe(false);
    expect(filesUnder(join(uploads, tenant.id)).length).toBe(1);
    const settings = await service.request('GET', `/v1/tenants/${tenant.id}`, { token: tenant.adminToken });
    expect(settings.body.settings.knowledgeBases).toEqual([kept.id]);

    const gone = await service.request('DELETE', `/v1/tenants/${tenant.id}`, {
      token: service.platformToken,
    });
    expect(gone.status).toBe(204);
    expect(await partitionExists(keptVersion)).toBe(false);
    expect(filesUnder(uploads).filter((f) => f.includes(tenant.id))).toEqual([]);
  });
});

describe('the sweep', () => {
  it('queues again a document whose job was lost, and drops index versions retired a while ago', async () => {
    const tenant = await service.createTenant();
    const base = await createBase(tenant);
    const { knowledge } = service.app.services;
    // A document stored while Redis was away: in Postgres, queued, without a job.
    const file = await knowledge.storage.receive(
      Readable.from([Buffer.from('# Lost\n\nThe lost document.')]),
    );
    const documentId = randomUUID();
    await knowledge.repository.createDocument({
      tenantId: tenant.id,
      knowledgeBaseId: base.id,
      id: documentId,
      name: 'lost.md',
      contentType: 'text/markdown',
      bytes: file.bytes,
      sha256: file.sha256,
    });
    await knowledge.storage.keep(file, { tenantId: tenant.id, knowledgeBaseId: base.id, id: documentId });
    // A re-index leaves a retired version behind.
    await uploadReady(tenant, base.id, { name: 'b.md', type: 'text/markdown', content: '# B\n\nBravo.' });
    const reindex = await service.request('POST', `/v1/knowledge-bases/${base.id}/reindex`, {
      token: tenant.adminToken,
      body: {},
    });
    expect(reindex.status).toBe(202);
    await vi.waitFor(async () => {
      const kb = await service.request('GET', `/v1/knowledge-bases/${base.id}`, { token: tenant.adminToken });
      expect(kb.body.reindex).toBeNull();
    }, WAIT);
    const retired = await owner<{ id: string }>(
      (sql) => sql`select id from kb_indexes where knowledge_base_id = ${base.id} and state = 'retired'`,
    );
    expect(retired.length).toBe(1);
    expect(await partitionExists(retired[0]!.id)).toBe(true);

    // Nothing is idle long enough yet.
    expect(await knowledge.ingestion.sweep()).toEqual({ requeued: 0, dropped: 0, failed: 0 });
    // An hour later (KB_SWEEP_SECONDS), as far as the rows say:
    await owner(
      (sql) => sql`update kb_documents set updated_at = now() - interval '2 hours' where id = ${documentId}`,
    );
    await owner(
      (sql) =>
        sql`update kb_indexes set updated_at = now() - interval '2 hours' where id = ${retired[0]!.id}`,
    );
    expect(await knowledge.ingestion.sweep()).toEqual({ requeued: 1, dropped: 1, failed: 0 });
    await settled(tenant, base.id, documentId, 'ready');
    expect(await partitionExists(retired[0]!.id)).toBe(false);
    expect((await search(tenant, base.id, 'lost document'))[0]!.documentId).toBe(documentId);
  });
});

/** Runs statements as the database owner (outside row-level security). */
async function owner<T = unknown>(work: (sql: postgres.Sql) => Promise<T[]> | postgres.PendingQuery<any>) {
  const sql = postgres(service.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    return (await work(sql)) as T[];
  } finally {
    await sql.end();
  }
}

async function partitionExists(indexId: string, suffix = ''): Promise<boolean> {
  const rows = await owner<{ found: boolean }>(
    (sql) =>
      sql`select to_regclass(${`public.kb_chunks_${indexId.replace(/-/g, '')}${suffix}`}) is not null as found`,
  );
  return rows[0]!.found;
}
