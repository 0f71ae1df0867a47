// Knowledge bases, their index versions, documents and chunks: every query inside one tenant
// (row-level security holds for all of them). kb_chunks is partitioned by index version
// (migration 0006), so it is reached with SQL rather than drizzle's table builder; each query
// names the versions it reads or writes, which prunes it to their partitions.
import { randomUUID } from 'node:crypto';
import { and, desc, eq, inArray, lt, ne, or, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { pgErrorCode, type Database, type Tx } from '../db/client.ts';
import {
  kbDocuments,
  kbIndexes,
  knowledgeBases,
  type KbDocumentRow,
  type KbIndexRow,
  type KnowledgeBaseRow,
  type MessageSource,
} from '../db/schema.ts';
import { AppError } from '../errors.ts';

export type DocumentStatus = KbDocumentRow['status'];

/** A knowledge base with what its view shows. */
export interface BaseDetails {
  base: KnowledgeBaseRow;
  active: KbIndexRow;
  /** The version a re-index is building, else the last one that failed (if any). */
  reindex: KbIndexRow | undefined;
  documents: Record<DocumentStatus, number>;
  chunks: number;
}

/** What a search reads of a knowledge base: its current index version. */
export interface SearchTarget {
  knowledgeBaseId: string;
  indexId: string;
  embeddingModel: string;
  requestedDimensions: number | null;
  dimensions: number | null;
  /** The base's documents that are not ready: searches skip their chunks. */
  hidden: string[];
}

export interface ChunkToStore {
  id: string;
  chunkIndex: number;
  heading: string | null;
  content: string;
  embedding: number[];
}

export interface StoredChunk {
  id: string;
  documentId: string;
  chunkIndex: number;
  heading: string | null;
  content: string;
}

/** The SQL type an index version's embeddings are cast to (and indexed as). */
export function vectorType(dimensions: number): string {
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 4000) {
    throw new Error(`dimensions ${dimensions} out of range 1..4000`);
  }
  return `${dimensions <= 2000 ? 'vector' : 'halfvec'}(${dimensions})`;
}

const vectorText = (v: number[]) => `[${v.join(',')}]`;

/** Reciprocal rank fusion's constant: score = sum of 1 / (RRF_K + rank). */
export const RRF_K = 60;

/**
 * Full-text matches ranked per version and search, at most, for every word and for any word of
 * the query: a word common enough to match more says little, and ranking costs per match.
 */
export const MATCHES_RANKED = 200;

/**
 * The HNSW candidate list of a vector search, at least (hnsw.ef_search; more when a search asks
 * for more candidates). With the graphs chatbot_kb_build_hnsw builds (m 8, migration 0011) 64
 * keeps recall@10 near 1 where 40 (pgvector's default) loses about 2 % (bench:kb), for a few
 * hundredths of a millisecond.
 */
export const MIN_EF_SEARCH = 64;

const STATUSES: DocumentStatus[] = ['queued', 'processing', 'ready', 'failed'];

/** Rows after the cursor `after` of a newest-first list (created_at, then id). */
function olderThan(
  createdAt: AnyPgColumn,
  id: AnyPgColumn,
  after: readonly [string, string] | undefined,
): SQL | undefined {
  if (after === undefined) return undefined;
  const at = new Date(after[0]);
  return or(lt(createdAt, at), and(eq(createdAt, at), lt(id, after[1])));
}

const uuidList = (ids: readonly string[]): SQL =>
  sql.join(
    ids.map((id) => sql`${id}::uuid`),
    sql`, `,
  );

export function createKnowledgeRepository(deps: { database: Database }) {
  const { database } = deps;

  /** Creates a version's partition (and its HNSW index, once its dimensions are known). */
  async function prepareIndex(tx: Tx, tenantId: string, indexId: string): Promise<void> {
    await tx.execute(sql`select chatbot_kb_prepare_index(${tenantId}::uuid, ${indexId}::uuid)`);
  }

  // --- knowledge bases ----------------------------------------------------------------

  async function details(tx: Tx, bases: KnowledgeBaseRow[]): Promise<BaseDetails[]> {
    if (bases.length === 0) return [];
    const ids = bases.map((b) => b.id);
    const indexes = await tx.select().from(kbIndexes).where(inArray(kbIndexes.knowledgeBaseId, ids));
    const counts = await tx
      .select({
        knowledgeBaseId: kbDocuments.knowledgeBaseId,
        status: kbDocuments.status,
        documents: sql<number>`count(*)::int`,
        chunks: sql<number>`coalesce(sum(${kbDocuments.chunkCount}), 0)::int`,
      })
      .from(kbDocuments)
      .where(inArray(kbDocuments.knowledgeBaseId, ids))
      .groupBy(kbDocuments.knowledgeBaseId, kbDocuments.status);
    return bases.map((base) => {
      const own = indexes.filter((i) => i.knowledgeBaseId === base.id);
      const documents = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<DocumentStatus, number>;
      let chunks = 0;
      for (const c of counts) {
        if (c.knowledgeBaseId !== base.id) continue;
        documents[c.status] = c.documents;
        if (c.status === 'ready') chunks = c.chunks;
      }
      return {
        base,
        active: own.find((i) => i.id === base.activeIndexId)!,
        reindex:
          own.find((i) => i.id === base.buildingIndexId) ??
          own
            .filter((i) => i.state === 'failed')
            .sort((x, y) => y.createdAt.getTime() - x.createdAt.getTime())[0],
        documents,
        chunks,
      };
    });
  }

  async function createBase(input: {
    tenantId: string;
    name: string;
    description: string;
    chunkSize: number;
    chunkOverlap: number;
    embeddingModel: string;
    dimensions: number | null;
  }): Promise<BaseDetails> {
    const { tenantId } = input;
    try {
      return await database.withTenant(tenantId, async (tx) => {
        const indexId = randomUUID();
        const [base] = await tx
          .insert(knowledgeBases)
          .values({
            tenantId,
            name: input.name,
            description: input.description,
            chunkSize: input.chunkSize,
            chunkOverlap: input.chunkOverlap,
            activeIndexId: indexId,
          })
          .returning();
        await tx.insert(kbIndexes).values({
          id: indexId,
          tenantId,
          knowledgeBaseId: base!.id,
          embeddingModel: input.embeddingModel,
          requestedDimensions: input.dimensions,
          dimensions: input.dimensions,
          state: 'active',
        });
        await prepareIndex(tx, tenantId, indexId);
        return (await details(tx, [base!]))[0]!;
      });
    } catch (error) {
      if (pgErrorCode(error) === '23505') {
        throw new AppError('conflict', `a knowledge base named "${input.name}" already exists`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  async function listBases(input: {
    tenantId: string;
    limit: number;
    after?: readonly [string, string];
  }): Promise<BaseDetails[]> {
    const { tenantId, after } = input;
    return database.withTenant(tenantId, async (tx) => {
      const rows = await tx
        .select()
        .from(knowledgeBases)
        .where(
          and(
            eq(knowledgeBases.tenantId, tenantId),
            olderThan(knowledgeBases.createdAt, knowledgeBases.id, after),
          ),
        )
        .orderBy(desc(knowledgeBases.createdAt), desc(knowledgeBases.id))
        .limit(input.limit + 1);
      return details(tx, rows);
    });
  }

  async function getBase(input: { tenantId: string; id: string }): Promise<BaseDetails | undefined> {
    return database.withTenant(input.tenantId, async (tx) => {
      const rows = await tx
        .select()
        .from(knowledgeBases)
        .where(and(eq(knowledgeBases.tenantId, input.tenantId), eq(knowledgeBases.id, input.id)));
      return (await details(tx, rows))[0];
    });
  }

  /** Deletes a knowledge base: its versions' partitions, documents and chunks go with it. */
  async function removeBase(input: { tenantId: string; id: string }): Promise<boolean> {
    return database.withTenant(input.tenantId, async (tx) => {
      const gone = await tx
        .delete(knowledgeBases)
        .where(and(eq(knowledgeBases.tenantId, input.tenantId), eq(knowledgeBases.id, input.id)))
        .returning({ id: knowledgeBases.id });
      return gone.length > 0;
    });
  }

  /** Which of these ids are knowledge bases of the tenant. */
  async function existingBases(input: { tenantId: string; ids: string[] }): Promise<string[]> {
    if (input.ids.length === 0) return [];
    return database.withTenant(input.tenantId, async (tx) =>
      (
        await tx
          .select({ id: knowledgeBases.id })
          .from(knowledgeBases)
          .where(and(eq(knowledgeBases.tenantId, input.tenantId), inArray(knowledgeBases.id, input.ids)))
      ).map((r) => r.id),
    );
  }

  // --- documents ----------------------------------------------------------------------

  /** A new document, `queued`; undefined when the knowledge base is not the tenant's. */
  async function createDocument(input: {
    tenantId: string;
    knowledgeBaseId: string;
    id: string;
    name: string;
    contentType: KbDocumentRow['contentType'];
    bytes: number;
    sha256: string;
  }): Promise<KbDocumentRow | undefined> {
    const { tenantId, knowledgeBaseId } = input;
    return database.withTenant(tenantId, async (tx) => {
      // Only a base the tenant sees (the foreign key alone is checked without row security).
      const [base] = await tx
        .select({ id: knowledgeBases.id })
        .from(knowledgeBases)
        .where(and(eq(knowledgeBases.tenantId, tenantId), eq(knowledgeBases.id, knowledgeBaseId)))
        .for('share');
      if (base === undefined) return undefined;
      const [row] = await tx
        .insert(kbDocuments)
        .values({
          id: input.id,
          tenantId,
          knowledgeBaseId,
          name: input.name,
          contentType: input.contentType,
          bytes: input.bytes,
          sha256: input.sha256,
          status: 'queued',
        })
        .returning();
      return row;
    });
  }

  async function listDocuments(input: {
    tenantId: string;
    knowledgeBaseId: string;
    limit: number;
    after?: readonly [string, string];
  }): Promise<KbDocumentRow[]> {
    const { tenantId, knowledgeBaseId, after } = input;
    return database.withTenant(tenantId, (tx) =>
      tx
        .select()
        .from(kbDocuments)
        .where(
          and(
            eq(kbDocuments.tenantId, tenantId),
            eq(kbDocuments.knowledgeBaseId, knowledgeBaseId),
            olderThan(kbDocuments.createdAt, kbDocuments.id, after),
          ),
        )
        .orderBy(desc(kbDocuments.createdAt), desc(kbDocuments.id))
        .limit(input.limit + 1),
    );
  }

  async function getDocument(input: {
    tenantId: string;
    knowledgeBaseId?: string;
    id: string;
  }): Promise<KbDocumentRow | undefined> {
    return database.withTenant(input.tenantId, async (tx) => {
      const [row] = await tx
        .select()
        .from(kbDocuments)
        .where(
          and(
            eq(kbDocuments.tenantId, input.tenantId),
            eq(kbDocuments.id, input.id),
            input.knowledgeBaseId === undefined
              ? undefined
              : eq(kbDocuments.knowledgeBaseId, input.knowledgeBaseId),
          ),
        );
      return row;
    });
  }

  /** Deletes a document's chunks from every version of its base. */
  async function deleteChunksOf(tx: Tx, knowledgeBaseId: string, documentId: string): Promise<void> {
    const versions = await tx
      .select({ id: kbIndexes.id })
      .from(kbIndexes)
      .where(eq(kbIndexes.knowledgeBaseId, knowledgeBaseId));
    if (versions.length === 0) return;
    await tx.execute(
      sql`delete from kb_chunks where index_id in (${uuidList(versions.map((v) => v.id))})
            and document_id = ${documentId}::uuid`,
    );
  }

  /**
   * Deletes a document and, in the same transaction, its chunks in every version of its base:
   * no search sees them once this returns. An ingestion writing chunks meanwhile holds the
   * document's row (FOR SHARE), so the delete waits for it and then removes what it wrote.
   */
  async function removeDocument(input: {
    tenantId: string;
    knowledgeBaseId: string;
    id: string;
  }): Promise<KbDocumentRow | undefined> {
    return database.withTenant(input.tenantId, async (tx) => {
      const [row] = await tx
        .delete(kbDocuments)
        .where(
          and(
            eq(kbDocuments.tenantId, input.tenantId),
            eq(kbDocuments.knowledgeBaseId, input.knowledgeBaseId),
            eq(kbDocuments.id, input.id),
          ),
        )
        .returning();
      if (row !== undefined) await deleteChunksOf(tx, input.knowledgeBaseId, input.id);
      return row;
    });
  }

  /** A failed document back to `queued`; `conflict` when it is not failed, undefined when absent. */
  async function requeueFailed(input: {
    tenantId: string;
    knowledgeBaseId: string;
    id: string;
  }): Promise<KbDocumentRow | 'conflict' | undefined> {
    return database.withTenant(input.tenantId, async (tx) => {
      const where = and(
        eq(kbDocuments.tenantId, input.tenantId),
        eq(kbDocuments.knowledgeBaseId, input.knowledgeBaseId),
        eq(kbDocuments.id, input.id),
      );
      const [row] = await tx
        .update(kbDocuments)
        .set({ status: 'queued', progress: 0, attempts: 0, updatedAt: new Date() })
        .where(and(where, eq(kbDocuments.status, 'failed')))
        .returning();
      if (row !== undefined) return row;
      const [exists] = await tx.select({ id: kbDocuments.id }).from(kbDocuments).where(where);
      return exists === undefined ? undefined : 'conflict';
    });
  }

  /** A document's chunks in the base's current version, in order. */
  async function listChunks(input: {
    tenantId: string;
    knowledgeBaseId: string;
    documentId: string;
    limit: number;
    afterIndex?: number;
  }): Promise<StoredChunk[]> {
    return database.withTenant(input.tenantId, async (tx) => {
      const rows = await tx.execute<{
        id: string;
        document_id: string;
        chunk_index: number;
        heading: string | null;
        content: string;
      }>(sql`select c.id, c.document_id, c.chunk_index, c.heading, c.content
               from knowledge_bases b
               join kb_chunks c on c.index_id = b.active_index_id
              where b.id = ${input.knowledgeBaseId}::uuid
                and c.document_id = ${input.documentId}::uuid
                and c.chunk_index > ${input.afterIndex ?? -1}
              order by c.chunk_index
              limit ${input.limit + 1}`);
      return rows.map((r) => ({
        id: r.id,
        documentId: r.document_id,
        chunkIndex: r.chunk_index,
        heading: r.heading,
        content: r.content,
      }));
    });
  }

  // --- ingestion ----------------------------------------------------------------------

  /**
   * Starts an ingestion attempt: the document turns `processing` (its error cleared, its
   * attempts counted). Undefined when it is gone or not waiting for one (ready, failed).
   */
  async function startAttempt(input: { tenantId: string; documentId: string }): Promise<
    | {
        document: KbDocumentRow;
        base: KnowledgeBaseRow;
      }
    | undefined
  > {
    return database.withTenant(input.tenantId, async (tx) => {
      const [document] = await tx
        .update(kbDocuments)
        .set({
          status: 'processing',
          progress: 0,
          error: null,
          attempts: sql`${kbDocuments.attempts} + 1`,
          updatedAt: new Date(),
        })
        .where(
          and(
            eq(kbDocuments.tenantId, input.tenantId),
            eq(kbDocuments.id, input.documentId),
            inArray(kbDocuments.status, ['queued', 'processing']),
          ),
        )
        .returning();
      if (document === undefined) return undefined;
      const [base] = await tx
        .select()
        .from(knowledgeBases)
        .where(eq(knowledgeBases.id, document.knowledgeBaseId));
      return base === undefined ? undefined : { document, base };
    });
  }

  /** The versions new chunks go to: the current one and the one a re-index builds. */
  async function liveIndexes(input: { tenantId: string; knowledgeBaseId: string }): Promise<KbIndexRow[]> {
    return database.withTenant(input.tenantId, async (tx) => {
      const [base] = await tx
        .select()
        .from(knowledgeBases)
        .where(eq(knowledgeBases.id, input.knowledgeBaseId));
      if (base === undefined) return [];
      const ids = [base.activeIndexId, ...(base.buildingIndexId === null ? [] : [base.buildingIndexId])];
      return tx.select().from(kbIndexes).where(inArray(kbIndexes.id, ids));
    });
  }

  /** Records a version's dimensions from its first embeddings; those it has if another worker recorded them first. */
  async function recordDimensions(input: {
    tenantId: string;
    indexId: string;
    dimensions: number;
  }): Promise<number> {
    return database.withTenant(input.tenantId, async (tx) => {
      await tx
        .update(kbIndexes)
        .set({ dimensions: input.dimensions, updatedAt: new Date() })
        .where(and(eq(kbIndexes.id, input.indexId), sql`${kbIndexes.dimensions} is null`));
      const [row] = await tx
        .select({ dimensions: kbIndexes.dimensions })
        .from(kbIndexes)
        .where(eq(kbIndexes.id, input.indexId));
      return row?.dimensions ?? input.dimensions;
    });
  }

  /**
   * Builds a version's HNSW index once it holds `minChunks` chunks (migration 0007); true when
   * it has one. Inserts into the version wait while it builds; searches do not.
   */
  async function buildVectorIndex(input: {
    tenantId: string;
    indexId: string;
    minChunks: number;
  }): Promise<boolean> {
    return database.withTenant(input.tenantId, async (tx) => {
      const rows = await tx.execute<{ built: boolean }>(
        sql`select chatbot_kb_build_hnsw(${input.tenantId}::uuid, ${input.indexId}::uuid, ${input.minChunks}::int) as built`,
      );
      return rows[0]?.built === true;
    });
  }

  /** Removes what an earlier attempt wrote of a document into these versions. */
  async function clearChunks(input: {
    tenantId: string;
    documentId: string;
    indexIds: string[];
  }): Promise<void> {
    if (input.indexIds.length === 0) return;
    await database.withTenant(input.tenantId, (tx) =>
      tx.execute(
        sql`delete from kb_chunks where index_id in (${uuidList(input.indexIds)})
              and document_id = ${input.documentId}::uuid`,
      ),
    );
  }

  /**
   * One statement inserting a batch of a document's chunks into a version, while the document
   * still exists (its row held FOR SHARE, so a delete waits and then removes them). False
   * when the document is gone. `progress`, when given, is stored in the same transaction.
   */
  async function insertChunks(input: {
    tenantId: string;
    knowledgeBaseId: string;
    documentId: string;
    indexId: string;
    dimensions: number;
    chunks: ChunkToStore[];
    progress?: { table: 'document' | 'index'; value: number };
  }): Promise<boolean> {
    const { tenantId, knowledgeBaseId, documentId, indexId } = input;
    const cast = sql.raw(vectorType(input.dimensions));
    return database.withTenant(tenantId, async (tx) => {
      const [held] = await tx
        .select({ id: kbDocuments.id })
        .from(kbDocuments)
        .where(and(eq(kbDocuments.tenantId, tenantId), eq(kbDocuments.id, documentId)))
        .for('share');
      if (held === undefined) return false;
      if (input.chunks.length > 0) {
        const rows = input.chunks.map(
          (c) =>
            sql`(${indexId}::uuid, ${c.id}::uuid, ${tenantId}::uuid, ${knowledgeBaseId}::uuid, ${documentId}::uuid,
                 ${c.chunkIndex}::int, ${c.heading}::text, ${c.content}::text, ${vectorText(c.embedding)}::${cast})`,
        );
        await tx.execute(
          sql`insert into kb_chunks (index_id, id, tenant_id, knowledge_base_id, document_id, chunk_index,
                                     heading, content, embedding)
              values ${sql.join(rows, sql`, `)}`,
        );
      }
      if (input.progress?.table === 'document') {
        await tx
          .update(kbDocuments)
          .set({ progress: input.progress.value, updatedAt: new Date() })
          .where(eq(kbDocuments.id, documentId));
      } else if (input.progress?.table === 'index') {
        await tx
          .update(kbIndexes)
          .set({ progress: input.progress.value, updatedAt: new Date() })
          .where(eq(kbIndexes.id, indexId));
      }
      return true;
    });
  }

  /**
   * Makes a document `ready` when its chunks are in every live version of its base (checked
   * with the base's row held, so a re-index cannot swap versions meanwhile). Otherwise
   * answers the live versions it lacks, for the caller to fill first.
   */
  async function finishDocument(input: {
    tenantId: string;
    documentId: string;
    knowledgeBaseId: string;
    chunkCount: number;
    written: string[];
  }): Promise<{ done: true; active: string } | { done: false; missing: string[]; gone?: boolean }> {
    return database.withTenant(input.tenantId, async (tx) => {
      const [base] = await tx
        .select()
        .from(knowledgeBases)
        .where(eq(knowledgeBases.id, input.knowledgeBaseId))
        .for('share');
      if (base === undefined) return { done: false, missing: [], gone: true };
      const live = [base.activeIndexId, ...(base.buildingIndexId === null ? [] : [base.buildingIndexId])];
      const missing = live.filter((id) => !input.written.includes(id));
      if (missing.length > 0) return { done: false, missing };
      const [row] = await tx
        .update(kbDocuments)
        .set({
          status: 'ready',
          progress: 100,
          chunkCount: input.chunkCount,
          error: null,
          updatedAt: new Date(),
        })
        .where(and(eq(kbDocuments.id, input.documentId), eq(kbDocuments.status, 'processing')))
        .returning({ id: kbDocuments.id });
      return row === undefined
        ? { done: false, missing: [], gone: true }
        : { done: true, active: base.activeIndexId };
    });
  }

  /**
   * Records a failed attempt: back to `queued` (another attempt follows) or `failed` (the
   * last one; its chunks are removed), with the reason.
   */
  async function failAttempt(input: {
    tenantId: string;
    documentId: string;
    reason: string;
    final: boolean;
  }): Promise<void> {
    await database.withTenant(input.tenantId, async (tx) => {
      const [row] = await tx
        .update(kbDocuments)
        .set({ status: input.final ? 'failed' : 'queued', error: input.reason, updatedAt: new Date() })
        .where(and(eq(kbDocuments.id, input.documentId), ne(kbDocuments.status, 'ready')))
        .returning();
      if (row !== undefined && input.final) await deleteChunksOf(tx, row.knowledgeBaseId, row.id);
    });
  }

  // --- re-indexing --------------------------------------------------------------------

  /**
   * Starts building a new version of a base beside its current one; `conflict` while one is
   * being built, undefined when the base is not the tenant's. Versions of earlier failed
   * re-indexes go (with their partitions).
   */
  async function startReindex(input: {
    tenantId: string;
    knowledgeBaseId: string;
    embeddingModel: string;
    dimensions: number | null;
  }): Promise<KbIndexRow | 'conflict' | undefined> {
    const { tenantId, knowledgeBaseId } = input;
    return database.withTenant(tenantId, async (tx) => {
      const [base] = await tx
        .select()
        .from(knowledgeBases)
        .where(and(eq(knowledgeBases.tenantId, tenantId), eq(knowledgeBases.id, knowledgeBaseId)))
        .for('update');
      if (base === undefined) return undefined;
      if (base.buildingIndexId !== null) return 'conflict';
      await tx
        .delete(kbIndexes)
        .where(and(eq(kbIndexes.knowledgeBaseId, knowledgeBaseId), eq(kbIndexes.state, 'failed')));
      const [index] = await tx
        .insert(kbIndexes)
        .values({
          tenantId,
          knowledgeBaseId,
          embeddingModel: input.embeddingModel,
          requestedDimensions: input.dimensions,
          dimensions: input.dimensions,
          state: 'building',
        })
        .returning();
      await tx
        .update(knowledgeBases)
        .set({ buildingIndexId: index!.id, updatedAt: new Date() })
        .where(eq(knowledgeBases.id, knowledgeBaseId));
      await prepareIndex(tx, tenantId, index!.id);
      return index;
    });
  }

  /** The version being built and what it still needs: ready documents not (fully) in it. */
  async function reindexPlan(input: { tenantId: string; indexId: string }): Promise<
    | {
        index: KbIndexRow;
        base: KnowledgeBaseRow;
        /** Ready documents and how many of their chunks the new version holds. */
        documents: { id: string; chunkCount: number; inNew: number }[];
      }
    | undefined
  > {
    return database.withTenant(input.tenantId, async (tx) => {
      const [index] = await tx.select().from(kbIndexes).where(eq(kbIndexes.id, input.indexId));
      if (index === undefined || index.state !== 'building') return undefined;
      const [base] = await tx
        .select()
        .from(knowledgeBases)
        .where(eq(knowledgeBases.id, index.knowledgeBaseId));
      if (base === undefined || base.buildingIndexId !== index.id) return undefined;
      const documents = await tx.execute<{ id: string; chunk_count: number; in_new: number }>(
        sql`select d.id, d.chunk_count,
                   (select count(*)::int from kb_chunks c
                     where c.index_id = ${index.id}::uuid and c.document_id = d.id) as in_new
              from kb_documents d
             where d.knowledge_base_id = ${base.id}::uuid and d.status = 'ready'
             order by d.created_at, d.id`,
      );
      return {
        index,
        base,
        documents: documents.map((d) => ({ id: d.id, chunkCount: d.chunk_count, inNew: d.in_new })),
      };
    });
  }

  /** A document's chunks as a version holds them (to re-embed into another). */
  async function readChunks(input: {
    tenantId: string;
    indexId: string;
    documentId: string;
  }): Promise<StoredChunk[]> {
    return database.withTenant(input.tenantId, async (tx) => {
      const rows = await tx.execute<{
        id: string;
        document_id: string;
        chunk_index: number;
        heading: string | null;
        content: string;
      }>(sql`select id, document_id, chunk_index, heading, content from kb_chunks
              where index_id = ${input.indexId}::uuid and document_id = ${input.documentId}::uuid
              order by chunk_index`);
      return rows.map((r) => ({
        id: r.id,
        documentId: r.document_id,
        chunkIndex: r.chunk_index,
        heading: r.heading,
        content: r.content,
      }));
    });
  }

  /**
   * Makes the built version current, in one transaction with the base's row locked: only
   * when every ready document is in it (else answers those that are not). The old version is
   * retired, not dropped: searches that read it a moment ago still find it; the sweep drops it.
   */
  async function swapIndex(input: {
    tenantId: string;
    indexId: string;
  }): Promise<{ swapped: true; retired: string } | { swapped: false; missing: string[]; gone?: boolean }> {
    return database.withTenant(input.tenantId, async (tx) => {
      const [index] = await tx.select().from(kbIndexes).where(eq(kbIndexes.id, input.indexId));
      if (index === undefined) return { swapped: false, missing: [], gone: true };
      const [base] = await tx
        .select()
        .from(knowledgeBases)
        .where(eq(knowledgeBases.id, index.knowledgeBaseId))
        .for('update');
      if (base === undefined || base.buildingIndexId !== index.id) {
        return { swapped: false, missing: [], gone: true };
      }
      const missing = await tx.execute<{ id: string }>(
        sql`select d.id from kb_documents d
             where d.knowledge_base_id = ${base.id}::uuid and d.status = 'ready' and d.chunk_count > 0
               and not exists (select 1 from kb_chunks c
                                where c.index_id = ${index.id}::uuid and c.document_id = d.id)`,
      );
      if (missing.length > 0) return { swapped: false, missing: missing.map((m) => m.id) };
      const now = new Date();
      await tx
        .update(knowledgeBases)
        .set({ activeIndexId: index.id, buildingIndexId: null, updatedAt: now })
        .where(eq(knowledgeBases.id, base.id));
      await tx
        .update(kbIndexes)
        .set({ state: 'retired', updatedAt: now })
        .where(eq(kbIndexes.id, base.activeIndexId));
      await tx
        .update(kbIndexes)
        .set({ state: 'active', progress: 100, error: null, updatedAt: now })
        .where(eq(kbIndexes.id, index.id));
      return { swapped: true, retired: base.activeIndexId };
    });
  }

  /** A re-index that failed: its version stays (empty) with the reason; the current one serves. */
  async function failReindex(input: { tenantId: string; indexId: string; reason: string }): Promise<void> {
    await database.withTenant(input.tenantId, async (tx) => {
      const [index] = await tx
        .update(kbIndexes)
        .set({ state: 'failed', error: input.reason, updatedAt: new Date() })
        .where(and(eq(kbIndexes.id, input.indexId), eq(kbIndexes.state, 'building')))
        .returning();
      if (index === undefined) return;
      await tx
        .update(knowledgeBases)
        .set({ buildingIndexId: null, updatedAt: new Date() })
        .where(
          and(eq(knowledgeBases.id, index.knowledgeBaseId), eq(knowledgeBases.buildingIndexId, index.id)),
        );
      await tx.execute(sql`delete from kb_chunks where index_id = ${index.id}::uuid`);
    });
  }

  /** Drops a retired version (its row, and with it its partition). */
  async function dropRetired(input: { tenantId: string; indexId: string }): Promise<void> {
    await database.withTenant(input.tenantId, (tx) =>
      tx.delete(kbIndexes).where(and(eq(kbIndexes.id, input.indexId), eq(kbIndexes.state, 'retired'))),
    );
  }

  // --- search -------------------------------------------------------------------------

  /** The bases' current versions, and the documents a search skips in each (not ready). */
  async function searchTargets(input: {
    tenantId: string;
    knowledgeBaseIds: string[];
  }): Promise<SearchTarget[]> {
    if (input.knowledgeBaseIds.length === 0) return [];
    return database.withTenant(input.tenantId, async (tx) => {
      const rows = await tx.execute<{
        knowledge_base_id: string;
        index_id: string;
        embedding_model: string;
        requested_dimensions: number | null;
        dimensions: number | null;
        hidden: string[] | null;
      }>(sql`select b.id as knowledge_base_id, i.id as index_id, i.embedding_model, i.requested_dimensions,
                    i.dimensions,
                    (select array_agg(d.id)::text[] from kb_documents d
                      where d.knowledge_base_id = b.id and d.status <> 'ready') as hidden
               from knowledge_bases b
               join kb_indexes i on i.id = b.active_index_id
              where b.tenant_id = ${input.tenantId}::uuid and b.id in (${uuidList(input.knowledgeBaseIds)})`);
      return rows.map((r) => ({
        knowledgeBaseId: r.knowledge_base_id,
        indexId: r.index_id,
        embeddingModel: r.embedding_model,
        requestedDimensions: r.requested_dimensions,
        dimensions: r.dimensions,
        hidden: r.hidden ?? [],
      }));
    });
  }

  /**
   * Hybrid search over the given current versions: for each version with a query vector,
   * its `candidates` nearest chunks by cosine distance (its HNSW index, or an exact scan while
   * it is small); over all of them, the `candidates` best full-text matches; fused by
   * reciprocal rank. Full text ranks chunks holding every word of the query above those holding
   * some (ts_rank on the stored tsvector, found through its GIN index); it ranks at most
   * MATCHES_RANKED of each, so a word common enough to match more costs no more.
   * Chunks of documents that are not ready are filtered inside the scans (pgvector's iterative
   * scan walks the graph on until enough pass), so they take no place in the ranking.
   */
  async function search(input: {
    tenantId: string;
    targets: (SearchTarget & { vector: number[] | undefined })[];
    query: string;
    k: number;
    candidates: number;
  }): Promise<MessageSource[]> {
    const { targets } = input;
    if (targets.length === 0) return [];
    const indexIds = uuidList(targets.map((t) => t.indexId));
    // Chunks of documents that are not ready (usually none, and then no filter at all); a
    // document that turned ready since the targets were read stays skipped for this search.
    const hidden = targets.flatMap((t) => t.hidden);
    // One array parameter however many they are: the statement's text (prepared per
    // connection) varies only with the number of versions searched.
    const hiddenArray = sql`${`{${hidden.join(',')}}`}::uuid[]`;
    const visible = hidden.length === 0 ? sql`` : sql`and c.document_id <> all (${hiddenArray})`;
    const lists: SQL[] = [];
    for (const t of targets) {
      if (t.vector === undefined || t.dimensions === null || t.vector.length !== t.dimensions) continue;
      const cast = sql.raw(vectorType(t.dimensions));
      const q = sql`${vectorText(t.vector)}::${cast}`;
      lists.push(sql`select index_id, id, row_number() over (order by dist, id) as r from (
            select c.id, c.index_id, c.embedding::${cast} <=> ${q} as dist
              from kb_chunks c
             where c.index_id = ${t.indexId}::uuid ${visible}
             order by c.embedding::${cast} <=> ${q}
             limit ${input.candidates}) v`);
    }
    // Full text through chatbot_kb_text_matches (migration 0009): under row-level security
    // the GIN index cannot serve `@@` (not a leakproof operator), so that function reads the
    // versions' partitions itself, for this tenant's versions only.
    lists.push(sql`select index_id, id, row_number() over (order by rank desc, id) as r
          from chatbot_kb_text_matches(${input.tenantId}::uuid, array[${indexIds}],
                 plainto_tsquery('english', ${input.query}),
                 replace(plainto_tsquery('english', ${input.query})::text, ' & ', ' | ')::tsquery,
                 ${hiddenArray}, ${input.candidates}::int, ${MATCHES_RANKED}::int)
         order by rank desc, id
         limit ${input.candidates}`);
    // Custom plans only: a generic plan could not prune kb_chunks to these partitions.
    const settings = {
      plan_cache_mode: 'force_custom_plan',
      'hnsw.ef_search': String(Math.min(1000, Math.max(MIN_EF_SEARCH, input.candidates))),
      'hnsw.iterative_scan': 'relaxed_order',
    };
    // One prepared statement (database.queryAsTenant): a search is on a chat turn's path.
    const rows = await database.queryAsTenant<{
      score: number;
      id: string;
      knowledge_base_id: string;
      document_id: string;
      document_name: string;
      chunk_index: number;
      heading: string | null;
      content: string;
    }>(
      input.tenantId,
      sql`with ranked as (${sql.join(
        lists.map((l) => sql`(${l})`),
        sql` union all `,
      )}),
            fused as (
              select index_id, id, sum(1.0 / (${RRF_K} + r))::float8 as score from ranked
               group by index_id, id order by score desc, id limit ${input.k}
            )
            select f.score, c.id, c.knowledge_base_id, c.document_id, d.name as document_name,
                   c.chunk_index, c.heading, c.content
              from fused f
              join kb_chunks c on c.index_id = f.index_id and c.id = f.id
              join kb_documents d on d.id = c.document_id
             where c.index_id in (${indexIds})
             order by f.score desc, c.id`,
      settings,
    );
    return rows.map((r) => ({
      knowledgeBaseId: r.knowledge_base_id,
      documentId: r.document_id,
      documentName: r.document_name,
      chunkId: r.id,
      chunkIndex: r.chunk_index,
      heading: r.heading,
      content: r.content,
      score: Number(r.score),
    }));
  }

  // --- the workers' sweep -------------------------------------------------------------

  /** Across tenants: documents and versions in flight, untouched for `idleSeconds`. */
  async function idleWork(idleSeconds: number): Promise<
    {
      kind: 'document' | 'index';
      tenantId: string;
      id: string;
      knowledgeBaseId: string;
      state: string;
    }[]
  > {
    // As the application role, like every statement of the service; the function looks across
    // tenants as its owner.
    const rows = await database.withPlatform((tx) =>
      tx.execute<{
        kind: 'document' | 'index';
        tenant_id: string;
        id: string;
        knowledge_base_id: string;
        state: string;
      }>(
        sql`select kind, tenant_id, id, knowledge_base_id, state
              from chatbot_kb_idle_work(make_interval(secs => ${idleSeconds}))`,
      ),
    );
    return rows.map((r) => ({
      kind: r.kind,
      tenantId: r.tenant_id,
      id: r.id,
      knowledgeBaseId: r.knowledge_base_id,
      state: r.state,
    }));
  }

  return {
    createBase,
    listBases,
    getBase,
    removeBase,
    existingBases,
    createDocument,
    listDocuments,
    getDocument,
    removeDocument,
    requeueFailed,
    listChunks,
    startAttempt,
    liveIndexes,
    recordDimensions,
    buildVectorIndex,
    clearChunks,
    insertChunks,
    finishDocument,
    failAttempt,
    startReindex,
    reindexPlan,
    readChunks,
    swapIndex,
    failReindex,
    dropRetired,
    searchTargets,
    search,
    idleWork,
  };
}

export type KnowledgeRepository = ReturnType<typeof createKnowledgeRepository>;
