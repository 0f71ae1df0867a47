// What the workers do (queue.ts hands them the jobs):
//   ingest   a document: extract its text (in a worker thread), chunk it, embed the chunks in
//            batches into every live version of its base (the current one, and the one a
//            re-index builds), one bulk insert per batch, progress after each; then `ready`,
//            checked against the base's versions at that moment. Chunks of a document that is
//            not ready are hidden from searches, so nothing half-done is ever found.
//   reindex  build a version beside the current one from the chunks it holds (re-embedded
//            with the new model), resuming where an earlier attempt stopped; swap when every
//            ready document is in it.
//   sweep    find work that lost its job (Redis flushed, a job that kept crashing its
//            worker), queue it again or give up on it; drop versions retired a while ago.
// A failed attempt keeps its reason on the document (or version); the last one leaves it
// `failed`. Failures no retry can mend (no text, not a PDF, dimensions that do not fit) fail
// at once.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { KbIndexRow } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { chunkText, embeddingInput } from './chunk.ts';
import { EmbeddingError, type Embedder } from './embeddings.ts';
import { ExtractionError, type DocumentType } from './extract.ts';
import type { KnowledgeRepository } from './repository.ts';
import type { UploadStorage } from './storage.ts';

/** A failure retrying cannot mend. */
export class PermanentFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentFailure';
  }
}

/** The document was deleted while it was being processed: nothing more to do. */
class DocumentGone extends Error {}

export interface IngestionDeps {
  repository: KnowledgeRepository;
  storage: UploadStorage;
  embedder: Pick<Embedder, 'embed'>;
  /** The provider key for a tenant's embedding calls. */
  apiKeyFor(tenantId: string): Promise<string>;
  extract(path: string, type: DocumentType): Promise<string>;
  /** Queues work the sweep found without a job; false when it already has one. */
  requeue(
    job:
      | { kind: 'ingest'; tenantId: string; documentId: string }
      | { kind: 'reindex'; tenantId: string; indexId: string },
  ): Promise<boolean>;
  /** Attempts a job gets (KB_JOB_ATTEMPTS). */
  attempts: number;
  /** Work untouched this long (seconds) is looked after by the sweep. */
  idleSeconds: number;
  /** Chunks a version holds before it gets an HNSW index (KB_HNSW_MIN_CHUNKS). */
  hnswMinChunks: number;
  log: FastifyBaseLogger;
}

/** Whether this is a job's last attempt. */
export interface Attempt {
  final: boolean;
}

/** What a failure is shown as: ours say why; anything else is summarised (the worker logs it). */
export function reasonOf(error: unknown): string {
  if (
    error instanceof EmbeddingError ||
    error instanceof ExtractionError ||
    error instanceof PermanentFailure ||
    error instanceof AppError
  ) {
    return error.message;
  }
  return 'an internal error stopped the processing; it is logged';
}

const isPermanent = (error: unknown) => error instanceof ExtractionError || error instanceof PermanentFailure;

interface ChunkInput {
  id: string;
  chunkIndex: number;
  heading: string | null;
  content: string;
}

export function createIngestion(deps: IngestionDeps) {
  const { repository, log } = deps;

  /**
   * Embeds chunks with a version's model and inserts them into it, batch by batch. The
   * version's dimensions are recorded from its first embeddings (building its HNSW index);
   * vectors of other dimensions are refused. `onProgress` gets the chunks done so far.
   */
  async function embedInto(input: {
    tenantId: string;
    knowledgeBaseId: string;
    documentId: string;
    index: KbIndexRow;
    chunks: ChunkInput[];
    progress: (done: number) => { table: 'document' | 'index'; value: number };
  }): Promise<void> {
    const { tenantId, index, chunks } = input;
    const apiKey = await deps.apiKeyFor(tenantId);
    let dimensions = index.dimensions;
    await deps.embedder.embed(
      {
        apiKey,
        model: index.embeddingModel,
        dimensions: index.requestedDimensions,
        inputs: chunks.map(embeddingInput),
      },
      async (vectors, offset) => {
        const length = vectors[0]!.length;
        dimensions ??= await repository.recordDimensions({ tenantId, indexId: index.id, dimensions: length });
        if (length !== dimensions) {
          throw new PermanentFailure(
            `the embedding model returned ${length} dimensions where this index has ${dimensions}`,
          );
        }
        const batch = chunks.slice(offset, offset + vectors.length);
        const stored = await repository.insertChunks({
          tenantId,
          knowledgeBaseId: input.knowledgeBaseId,
          documentId: input.documentId,
          indexId: index.id,
          dimensions,
          chunks: batch.map((c, i) => ({ ...c, embedding: vectors[i]! })),
          progress: input.progress(offset + batch.length),
        });
        if (!stored) throw new DocumentGone();
      },
    );
  }

  /** The version's HNSW index, when it has grown enough to need one. Best effort: the next document tries again. */
  async function buildIndexIfDue(tenantId: string, indexId: string): Promise<void> {
    try {
      await repository.buildVectorIndex({ tenantId, indexId, minChunks: deps.hnswMinChunks });
    } catch (error) {
      log.warn({ err: error, tenantId, indexId }, 'could not build the HNSW index; searches stay exact');
    }
  }

  async function ingest(
    job: { tenantId: string; documentId: string },
    attempt: Attempt,
  ): Promise<'ready' | 'skipped' | 'gone'> {
    const { tenantId, documentId } = job;
    const started = await repository.startAttempt({ tenantId, documentId });
    if (started === undefined) return 'skipped';
    const { document, base } = started;
    try {
      const text = await deps.extract(deps.storage.pathOf(document), document.contentType);
      const pieces = chunkText(text, { size: base.chunkSize, overlap: base.chunkOverlap });
      if (pieces.length === 0) throw new ExtractionError('the document holds no text');
      const chunks = pieces.map((piece, chunkIndex) => ({ ...piece, id: randomUUID(), chunkIndex }));

      let versions = await repository.liveIndexes({ tenantId, knowledgeBaseId: base.id });
      const written: string[] = [];
      let finished = 0; // chunks embedded into versions done before the current one
      for (;;) {
        // What an earlier attempt left in these versions goes first.
        await repository.clearChunks({ tenantId, documentId, indexIds: versions.map((v) => v.id) });
        const total = chunks.length * (written.length + versions.length);
        for (const index of versions) {
          await embedInto({
            tenantId,
            knowledgeBaseId: base.id,
            documentId,
            index,
            chunks,
            progress: (done) => ({
              table: 'document',
              value: Math.min(99, Math.floor((100 * (finished + done)) / total)),
            }),
          });
          finished += chunks.length;
          written.push(index.id);
        }
        const result = await repository.finishDocument({
          tenantId,
          documentId,
          knowledgeBaseId: base.id,
          chunkCount: chunks.length,
          written,
        });
        if (result.done) {
          await buildIndexIfDue(tenantId, result.active);
          return 'ready';
        }
        if (result.gone === true) return 'gone';
        // A re-index started (or swapped) meanwhile: its version needs this document too.
        versions = (await repository.liveIndexes({ tenantId, knowledgeBaseId: base.id })).filter((v) =>
          result.missing.includes(v.id),
        );
      }
    } catch (error) {
      if (error instanceof DocumentGone) return 'gone';
      const permanent = isPermanent(error);
      await repository.failAttempt({
        tenantId,
        documentId,
        reason: reasonOf(error),
        final: attempt.final || permanent,
      });
      throw error;
    }
  }

  async function reindex(
    job: { tenantId: string; indexId: string },
    attempt: Attempt,
  ): Promise<'swapped' | 'gone'> {
    const { tenantId, indexId } = job;
    try {
      for (;;) {
        const plan = await repository.reindexPlan({ tenantId, indexId });
        if (plan === undefined) return 'gone';
        const total = plan.documents.reduce((n, d) => n + d.chunkCount, 0);
        let done = plan.documents.reduce((n, d) => n + (d.inNew === d.chunkCount ? d.chunkCount : 0), 0);
        let index = plan.index;
        for (const doc of plan.documents) {
          if (doc.inNew === doc.chunkCount) continue;
          if (doc.inNew > 0)
            await repository.clearChunks({ tenantId, documentId: doc.id, indexIds: [index.id] });
          const chunks = await repository.readChunks({
            tenantId,
            indexId: plan.base.activeIndexId,
            documentId: doc.id,
          });
          try {
            await embedInto({
              tenantId,
              knowledgeBaseId: plan.base.id,
              documentId: doc.id,
              index,
              chunks,
              progress: (n) => ({
                table: 'index',
                value: total === 0 ? 99 : Math.min(99, Math.floor((100 * (done + n)) / total)),
              }),
            });
          } catch (error) {
            if (!(error instanceof DocumentGone)) throw error;
          }
          done += chunks.length;
          // The dimensions, once recorded by the first batch.
          if (index.dimensions === null) {
            const fresh = await repository.reindexPlan({ tenantId, indexId });
            if (fresh === undefined) return 'gone';
            index = fresh.index;
          }
        }
        // A version big enough for an HNSW index goes live with it.
        await repository.buildVectorIndex({ tenantId, indexId, minChunks: deps.hnswMinChunks });
        const swap = await repository.swapIndex({ tenantId, indexId });
        if (swap.swapped) {
          log.info({ tenantId, indexId, retired: swap.retired }, 'knowledge base re-indexed');
          return 'swapped';
        }
        if (swap.gone === true) return 'gone';
        // Documents that became ready meanwhile without reaching this version: another pass.
      }
    } catch (error) {
      if (attempt.final || isPermanent(error)) {
        await repository.failReindex({ tenantId, indexId, reason: reasonOf(error) });
      } else {
        log.warn({ err: error, tenantId, indexId }, 're-index attempt failed; it will be retried');
      }
      throw error;
    }
  }

  async function sweep(): Promise<{ requeued: number; dropped: number; failed: number }> {
    const counts = { requeued: 0, dropped: 0, failed: 0 };
    for (const work of await repository.idleWork(deps.idleSeconds)) {
      const { tenantId } = work;
      try {
        if (work.kind === 'index' && work.state === 'retired') {
          await repository.dropRetired({ tenantId, indexId: work.id });
          counts.dropped++;
        } else if (work.kind === 'index') {
          if (await deps.requeue({ kind: 'reindex', tenantId, indexId: work.id })) counts.requeued++;
        } else {
          const document = await repository.getDocument({ tenantId, id: work.id });
          if (document === undefined) continue;
          if (document.attempts >= deps.attempts && document.status === 'processing') {
            // Its job is gone after every attempt started: it keeps stopping its worker.
            await repository.failAttempt({
              tenantId,
              documentId: document.id,
              reason: 'processing stopped before it finished, on every attempt',
              final: true,
            });
            counts.failed++;
          } else if (await deps.requeue({ kind: 'ingest', tenantId, documentId: document.id })) {
            counts.requeued++;
          }
        }
      } catch (error) {
        log.warn({ err: error, work }, 'knowledge-base sweep could not look after an item');
      }
    }
    if (counts.requeued + counts.dropped + counts.failed > 0) log.info(counts, 'knowledge-base sweep');
    return counts;
  }

  return { ingest, reindex, sweep };
}

export type Ingestion = ReturnType<typeof createIngestion>;
