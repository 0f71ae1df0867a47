// The knowledge-base benchmark (not a test): `npm run bench:kb -w service`. See README.md.
//
//   (1) ingestion: documents uploaded over HTTP to the service (in this process, two
//       workers), embedded by the LLM stub (its own process, no delay): chunks per second
//       from the first upload to the last document ready
//   (2) search at BENCH_KB_CHUNKS chunks (default 100,000) across BENCH_KB_TENANTS tenants
//       (default 20) of which one holds 1% of the rows: the hybrid search as the service runs
//       it (database only, and over HTTP with the query embedded by the stub), p50/p99
//   (3) recall@10 of the HNSW scan against exact search on the same rows, for the design
//       (one partition per knowledge base version) and for the alternatives it was chosen
//       over: one shared table with one HNSW index, the tenant filtered after the scan
//       (pgvector before 0.8) or during it (0.8's iterative scans)
// Vectors are clustered (BENCH_KB_TOPICS topics, gaussian noise around each) in
// BENCH_KB_DIMENSIONS dimensions (default 256), seeded, so runs are comparable.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import postgres from 'postgres';
import { MIN_EF_SEARCH } from '../src/knowledge/repository.ts';
import { upload } from '../test/support/documents.ts';
import { percentile } from './paced.ts';
import { envNumber, startBenchWorld } from './support.ts';

const CHUNKS = envNumber('BENCH_KB_CHUNKS', 100_000);
const TENANTS = envNumber('BENCH_KB_TENANTS', 20);
const DIMENSIONS = envNumber('BENCH_KB_DIMENSIONS', 256);
const TOPICS = envNumber('BENCH_KB_TOPICS', 500);
const QUERIES = envNumber('BENCH_KB_QUERIES', 300);
const DOCUMENTS = envNumber('BENCH_KB_DOCUMENTS', 24);
const DOCUMENT_CHUNKS = envNumber('BENCH_KB_DOCUMENT_CHUNKS', 250);
const K = 10;

const log = (text: string) => process.stderr.write(`[bench:kb] ${text}\n`);

// ---- seeded data -------------------------------------------------------------------------
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(42);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
const normalise = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const centers = Array.from({ length: TOPICS }, () => normalise(Array.from({ length: DIMENSIONS }, gaussian)));
/** A vector near a topic's center (noise of about the same length as the center). */
const near = (topic: number, spread = 1 / Math.sqrt(DIMENSIONS)) =>
  normalise(centers[topic]!.map((x) => x + gaussian() * spread));
// Text: each topic has words of its own; the rest comes from a shared vocabulary with Zipf-like
// frequencies (a few words everywhere, most rare), as in real documents after stop words.
const GENERAL = Array.from({ length: 3000 }, (_, i) => `g${i.toString(36)}`);
const general = () => GENERAL[Math.floor(GENERAL.length ** random()) - 1]!;
const topical = (topic: number) => `t${topic.toString(36)}x${Math.floor(random() * 30).toString(36)}`;
const sentence = (topic: number, words = 40) =>
  Array.from({ length: words }, () => (random() < 0.25 ? topical(topic) : general())).join(' ');
const vectorText = (v: number[]) => `[${v.map((x) => x.toFixed(6)).join(',')}]`;

/** Rows per tenant: the first holds 1%, the rest share the remainder unevenly (1..19 weights). */
function tenantSizes(): number[] {
  const small = Math.round(CHUNKS * 0.01);
  const weights = Array.from({ length: TENANTS - 1 }, (_, i) => i + 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.floor(((CHUNKS - small) * w) / total));
  sizes[sizes.length - 1]! += CHUNKS - small - sizes.reduce((a, b) => a + b, 0);
  return [small, ...sizes];
}

// ---- measuring ---------------------------------------------------------------------------
async function timed<T>(n: number, run: (i: number) => Promise<T>): Promise<{ ms: number[]; results: T[] }> {
  const ms: number[] = [];
  const results: T[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    results.push(await run(i));
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { ms, results };
}
const p = (ms: number[], q: number) => percentile(ms, q).toFixed(2);
const recall = (found: string[][], exact: string[][]) =>
  found.reduce((sum, ids, i) => sum + ids.filter((id) => exact[i]!.includes(id)).length / K, 0) /
  found.length;

async function main(): Promise<void> {
  const world = await startBenchWorld(
    {
      name: 'kb',
      postgresArgs: [
        '-c',
        'shared_buffers=512MB',
        '-c',
        'maintenance_work_mem=1GB',
        '-c',
        'max_parallel_maintenance_workers=2',
        // Parallel index builds share memory beyond the container's 64 MB /dev/shm: files instead.
        '-c',
        'dynamic_shared_memory_type=mmap',
      ],
      env: { KB_WORKER_CONCURRENCY: '2', EMBEDDING_MODEL: 'bench/embed' },
    },
    log,
  );
  const { app, origin, ops, json } = world;
  const pg = world.postgres;
  const rows: string[][] = [];
  try {
    // ---- (1) ingestion ---------------------------------------------------------------------
    const tenant = await json('POST', '/v1/tenants', ops, { name: 'Ingestion' });
    const admin = await world.token('admin', 'tenant_admin', tenant.id);
    const base = await json('POST', '/v1/knowledge-bases', admin, {
      name: 'ingest',
      embeddingDimensions: DIMENSIONS,
    });
    const sql0 = postgres(pg.url, { max: 1, onnotice: () => {} });
    const documents = Array.from({ length: DOCUMENTS }, (_, d) => {
      const sections: string[] = [`# Document ${d}`];
      // Paragraphs of about a chunk each (KB_CHUNK_SIZE 1200): headings every 10.
      for (let c = 0; c < DOCUMENT_CHUNKS; c++) {
        if (c % 10 === 0) sections.push(`## Part ${c / 10}`);
        sections.push(`${sentence(c % TOPICS, 130)}.`);
      }
      return sections.join('\n\n');
    });
    /** Uploads documents and waits until the base has `total` ready; answers chunks/s. */
    const ingest = async (contents: string[], total: number) => {
      const t0 = performance.now();
      const before = (await json('GET', `/v1/knowledge-bases/${base.id}`, admin)).chunks as number;
      for (const [d, content] of contents.entries()) {
        const res = await upload(origin, `/v1/knowledge-bases/${base.id}/documents`, admin, [
          { name: `doc-${d}.md`, type: 'text/markdown', content },
        ]);
        if (res.status !== 202) throw new Error(`upload answered ${res.status}`);
      }
      let kb: any;
      for (;;) {
        kb = await json('GET', `/v1/knowledge-bases/${base.id}`, admin);
        if (kb.documents.failed > 0) throw new Error(`${kb.documents.failed} documents failed`);
        if (kb.documents.ready === total) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const seconds = (performance.now() - t0) / 1000;
      const chunks = kb.chunks - before;
      log(`ingested ${chunks} chunks in ${seconds.toFixed(1)} s`);
      return { chunks, seconds, perSecond: chunks / seconds };
    };
    log(`ingesting ${DOCUMENTS} documents over HTTP into a new base (KB_WORKER_CONCURRENCY=2)`);
    const fresh = await ingest(documents, DOCUMENTS);
    const indexed = (
      await sql0`select count(*)::int as n from pg_class where relname like 'kb_chunks_%_hnsw'`
    )[0]!.n as number;
    const extra = documents.slice(0, Math.max(1, Math.floor(DOCUMENTS / 3)));
    log(`ingesting ${extra.length} more documents into it, now that it has its HNSW index (${indexed})`);
    const more = await ingest(extra, DOCUMENTS + extra.length);

    // ---- (2) the search data set: bulk-loaded, then the HNSW indexes built -----------------
    const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
    const sizes = tenantSizes();
    log(`loading ${CHUNKS} chunks across ${TENANTS} tenants (smallest ${sizes[0]} rows = 1%)`);
    const targets: { tenantId: string; baseId: string; indexId: string; topics: number[]; token: string }[] =
      [];
    for (const [t, size] of sizes.entries()) {
      const created = await json('POST', '/v1/tenants', ops, { name: `Search ${t}` });
      const token = await world.token('admin', 'tenant_admin', created.id);
      const kb = await json('POST', '/v1/knowledge-bases', token, {
        name: 'kb',
        embeddingModel: 'bench/embed',
      });
      const [found] = await sql`select active_index_id from knowledge_bases where id = ${kb.id}`;
      const indexId = found!.active_index_id as string;
      // Each tenant covers its own slice of topics (tenants overlap a little).
      const topics = Array.from({ length: 40 }, (_, i) => (t * 25 + i) % TOPICS);
      // Documents of 200 chunks each.
      const documentIds = Array.from({ length: Math.ceil(size / 200) }, () => randomUUID());
      for (const id of documentIds) {
        await sql`insert into kb_documents (id, tenant_id, knowledge_base_id, name, content_type, bytes, sha256, status, chunk_count)
                  values (${id}, ${created.id}, ${kb.id}, 'bulk', 'text/plain', 0, '', 'ready', 200)`;
      }
      for (let offset = 0; offset < size; offset += 2000) {
        const n = Math.min(2000, size - offset);
        const topicOf = Array.from({ length: n }, () => topics[Math.floor(random() * topics.length)]!);
        await sql`insert into kb_chunks (index_id, tenant_id, knowledge_base_id, document_id, chunk_index, content, embedding)
                  select ${indexId}, ${created.id}, ${kb.id}, d, i, c, e::vector
                    from unnest(${sql.array(topicOf.map((_, i) => documentIds[Math.floor((offset + i) / 200)]!))}::uuid[],
                                ${sql.array(topicOf.map((_, i) => offset + i))}::int[],
                                ${sql.array(topicOf.map((topic) => sentence(topic)))}::text[],
                                ${sql.array(topicOf.map((topic) => vectorText(near(topic))))}::text[]) as u(d, i, c, e)`;
      }
      targets.push({ tenantId: created.id, baseId: kb.id, indexId, topics, token });
    }
    log('building the HNSW indexes (one per partition)');
    let t1 = performance.now();
    for (const target of targets) {
      await sql`update kb_indexes set dimensions = ${DIMENSIONS}, requested_dimensions = ${DIMENSIONS}
                 where id = ${target.indexId}`;
      await sql`select chatbot_kb_build_hnsw(${target.tenantId}, ${target.indexId}, 0)`;
    }
    const partitionedBuild = (performance.now() - t1) / 1000;
    log('building the shared-table alternative (one HNSW index over every tenant)');
    t1 = performance.now();
    await sql.unsafe(
      `create table bench_shared (id uuid primary key, tenant_id uuid not null, embedding vector(${DIMENSIONS}) not null)`,
    );
    await sql.unsafe(`insert into bench_shared select c.id, c.tenant_id, c.embedding::vector(${DIMENSIONS}) from kb_chunks c
                        join kb_indexes i on i.id = c.index_id where i.embedding_model = 'bench/embed'
                         and c.knowledge_base_id <> '${base.id}'`);
    await sql.unsafe('create index on bench_shared using hnsw (embedding vector_cosine_ops)');
    await sql.unsafe('analyze');
    const sharedBuild = (performance.now() - t1) / 1000;

    // ---- (3) recall@10 and latency per design ----------------------------------------------
    const cast = `vector(${DIMENSIONS})`;
    const queriesFor = (target: (typeof targets)[number]) =>
      Array.from({ length: QUERIES }, () =>
        vectorText(
          near(target.topics[Math.floor(random() * target.topics.length)]!, 1.2 / Math.sqrt(DIMENSIONS)),
        ),
      );
    const inTx = async <T>(
      settings: Record<string, string>,
      query: (tx: postgres.TransactionSql) => Promise<T>,
    ) =>
      sql.begin(async (tx) => {
        for (const [name, value] of Object.entries(settings))
          await tx`select set_config(${name}, ${value}, true)`;
        return query(tx);
      }) as Promise<T>;
    const exactFor = (target: (typeof targets)[number], queries: string[]) =>
      Promise.all(
        queries.map((q) =>
          inTx({ enable_indexscan: 'off', enable_bitmapscan: 'off' }, (tx) =>
            tx.unsafe(
              `select id from kb_chunks where index_id = $1 order by embedding::${cast} <=> $2::${cast} limit ${K}`,
              [target.indexId, q],
            ),
          ).then((r) => r.map((row) => row.id as string)),
        ),
      );
    const designs: {
      name: string;
      settings: Record<string, string>;
      text: string;
      param: (t: (typeof targets)[number]) => string;
    }[] = [
      {
        name: `partition per knowledge base (this design), ef_search ${MIN_EF_SEARCH}`,
        settings: { 'hnsw.iterative_scan': 'relaxed_order', 'hnsw.ef_search': String(MIN_EF_SEARCH) },
        text: `select id from kb_chunks where index_id = $1
                order by embedding::${cast} <=> $2::${cast} limit ${K}`,
        param: (t: (typeof targets)[number]) => t.indexId,
      },
      {
        name: 'shared table, tenant filtered after the scan (pgvector < 0.8)',
        // The HNSW scan forced, as the planner picks it at scale (no other index on the table).
        settings: {
          'hnsw.iterative_scan': 'off',
          'hnsw.ef_search': String(MIN_EF_SEARCH),
          enable_seqscan: 'off',
        },
        text: `select id from bench_shared where tenant_id = $1 order by embedding <=> $2::${cast} limit ${K}`,
        param: (t: (typeof targets)[number]) => t.tenantId,
      },
      {
        name: 'shared table, iterative scan (pgvector 0.8, relaxed_order)',
        settings: {
          'hnsw.iterative_scan': 'relaxed_order',
          'hnsw.ef_search': String(MIN_EF_SEARCH),
          enable_seqscan: 'off',
        },
        text: `select id from (select id, embedding <=> $2::${cast} as d from bench_shared where tenant_id = $1
                order by embedding <=> $2::${cast} limit ${K}) r order by d`,
        param: (t: (typeof targets)[number]) => t.tenantId,
      },
    ];
    const small = targets[0]!;
    const large = targets.at(-1)!;
    for (const [label, target] of [
      ['1% tenant', small],
      [`largest tenant (${Math.round((100 * sizes.at(-1)!) / CHUNKS)}%)`, large],
    ] as const) {
      const queries = queriesFor(target);
      log(`recall@${K} for the ${label}: exact search first`);
      const exact = await exactFor(target, queries);
      for (const design of designs) {
        // Warm-up, then measured.
        for (const q of queries.slice(0, 20))
          await inTx(design.settings, (tx) => tx.unsafe(design.text, [design.param(target), q]));
        const { ms, results } = await timed(queries.length, (i) =>
          inTx(design.settings, (tx) => tx.unsafe(design.text, [design.param(target), queries[i]!])).then(
            (r) => r.map((row) => row.id as string),
          ),
        );
        rows.push([
          `recall@${K}, ${label}`,
          design.name,
          recall(results, exact).toFixed(3),
          p(ms, 50),
          p(ms, 99),
        ]);
      }
    }

    // The hybrid search as the service runs it: database only, then over HTTP.
    const { knowledge } = app.services;
    for (const [label, target] of [
      ['1% tenant', small],
      ['largest tenant', large],
    ] as const) {
      const [searchTarget] = await knowledge.repository.searchTargets({
        tenantId: target.tenantId,
        knowledgeBaseIds: [target.baseId],
      });
      const queries = queriesFor(target);
      const texts = queries.map((_, i) => sentence(target.topics[i % target.topics.length]!, 8));
      const run = (i: number) =>
        knowledge.repository.search({
          tenantId: target.tenantId,
          targets: [{ ...searchTarget!, vector: JSON.parse(queries[i]!) as number[] }],
          query: texts[i]!,
          k: 5,
          candidates: 40,
        });
      for (let i = 0; i < Math.min(20, queries.length); i++) await run(i);
      const { ms } = await timed(queries.length, run);
      rows.push([
        `hybrid search (vector + full text, RRF), ${label}`,
        'repository.search: database round trips',
        '',
        p(ms, 50),
        p(ms, 99),
      ]);
      const http = (i: number) =>
        json('POST', `/v1/knowledge-bases/${target.baseId}/search`, target.token, { query: texts[i], k: 5 });
      for (let i = 0; i < Math.min(20, queries.length); i++) await http(i);
      const { ms: httpMs } = await timed(queries.length, http);
      rows.push([
        `hybrid search, ${label}`,
        'POST .../search over HTTP (query embedded by the stub)',
        '',
        p(httpMs, 50),
        p(httpMs, 99),
      ]);
    }
    await sql.end();
    await sql0.end();

    // ---- report ------------------------------------------------------------------------
    const out = [
      `Knowledge bases: ${CHUNKS.toLocaleString('en')} chunks across ${TENANTS} tenants, ${DIMENSIONS} dimensions, ${TOPICS} topics; ${QUERIES} queries per row`,
      '',
      `Ingestion (upload over HTTP to ready; 2 workers; zero-delay embeddings stub; batches of 64):`,
      `- into a new base: ${fresh.chunks} chunks (${DOCUMENTS} Markdown documents) in ${fresh.seconds.toFixed(1)} s = **${fresh.perSecond.toFixed(0)} chunks/s** (its HNSW index built in one pass on reaching KB_HNSW_MIN_CHUNKS, within that time)`,
      `- into that base with its HNSW index: ${more.chunks} chunks in ${more.seconds.toFixed(1)} s = **${more.perSecond.toFixed(0)} chunks/s** (every insert maintains the graph)`,
      `HNSW builds: ${partitionedBuild.toFixed(1)} s for the ${TENANTS} partitions, ${sharedBuild.toFixed(1)} s for the shared-table alternative`,
      '',
      '| measurement | variant | recall@10 | p50 ms | p99 ms |',
      '| --- | --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    process.stdout.write(`${out}\n`);
    if (process.env.BENCH_JSON) {
      writeFileSync(process.env.BENCH_JSON, JSON.stringify({ fresh, more, rows }, null, 2));
    }
  } finally {
    await world.close({ keepContainers: process.env.BENCH_KB_KEEP === '1' });
  }
}

process.on('SIGINT', () => process.exit(130));
await main();
