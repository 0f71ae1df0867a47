// Knowledge bases of the caller's tenant (tenant admins; a platform admin names the tenant
// with ?tenantId=): the bases, their documents (multipart upload, status, retry, chunks,
// delete), search and re-indexing. Ingestion itself runs in the workers (knowledge/ingest.ts).
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import multipart from '@fastify/multipart';
import { page as pageOf } from '@chatbot/api-types/common';
import {
  Chunk,
  CreateKnowledgeBaseBody,
  KbDocument,
  KnowledgeBase,
  ReindexBody,
  SearchBody,
  SearchResult,
} from '@chatbot/api-types/knowledge-bases';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, invalid, notFound } from '../errors.ts';
import { documentType } from '../knowledge/extract.ts';
import type { ReceivedFile } from '../knowledge/storage.ts';
import { adminTenant } from '../lib/access.ts';
import { decodeCursor, page, parseLimit } from '../lib/pagination.ts';
import { presentChunk, presentDocument, presentKnowledgeBase } from '../lib/present.ts';
import { errorResponses } from '../schemas/common.ts';
import { BaseParams, DocumentParams, TenantListQuery, TenantOnlyQuery } from '../schemas/knowledge-bases.ts';

/**
 * A failure while reading an upload: ours and the multipart plugin's (4xx) as they are, the
 * system's (the disk) as errors of the service, anything else the parser's complaint about the
 * body (no boundary, a part cut short), which is the client's: 400.
 */
function unreadableUpload(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return error;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return error;
  return new AppError('invalid_request', 'the multipart/form-data body could not be read', { cause: error });
}

const knowledgeBaseRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { knowledge, tenants } = app.services;
  const { repository, storage, queue, settings } = knowledge;

  // Uploads stream to disk part by part; this scope alone parses multipart bodies.
  await app.register(multipart, { throwFileSizeLimit: true });

  async function baseOr404(tenantId: string, id: string) {
    const found = await repository.getBase({ tenantId, id });
    if (found === undefined) throw notFound('knowledge base');
    return found;
  }

  app.post(
    '/knowledge-bases',
    {
      schema: {
        querystring: TenantOnlyQuery,
        body: CreateKnowledgeBaseBody,
        response: { 201: KnowledgeBase, ...errorResponses },
      },
    },
    async (request, reply) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      const body = request.body;
      const chunkSize = body.chunkSize ?? settings.chunkSize;
      const chunkOverlap = body.chunkOverlap ?? Math.min(settings.chunkOverlap, Math.floor(chunkSize / 2));
      if (chunkOverlap > chunkSize / 2) {
        throw invalid('chunkOverlap may be at most half of chunkSize', 'chunkOverlap');
      }
      const created = await repository.createBase({
        tenantId,
        name: body.name,
        description: body.description ?? '',
        chunkSize,
        chunkOverlap,
        embeddingModel: body.embeddingModel ?? settings.embeddingModel,
        dimensions: body.embeddingDimensions ?? null,
      });
      return reply.code(201).send(presentKnowledgeBase(created));
    },
  );

  app.get(
    '/knowledge-bases',
    { schema: { querystring: TenantListQuery, response: { 200: pageOf(KnowledgeBase), ...errorResponses } } },
    async (request) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      const limit = parseLimit(request.query.limit);
      const after = decodeCursor(request.query.cursor, ['timestamp', 'uuid'] as const);
      const rows = await repository.listBases({ tenantId, limit, ...(after ? { after } : {}) });
      return page(rows, limit, presentKnowledgeBase, (d) => [d.base.createdAt.toISOString(), d.base.id]);
    },
  );

  app.get(
    '/knowledge-bases/:id',
    {
      schema: {
        params: BaseParams,
        querystring: TenantOnlyQuery,
        response: { 200: KnowledgeBase, ...errorResponses },
      },
    },
    async (request) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      return presentKnowledgeBase(await baseOr404(tenantId, request.params.id));
    },
  );

  app.delete(
    '/knowledge-bases/:id',
    {
      schema: {
        params: BaseParams,
        querystring: TenantOnlyQuery,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      const { id } = request.params;
      if (!(await repository.removeBase({ tenantId, id }))) throw notFound('knowledge base');
      await storage.removeBase({ tenantId, id });
      // Chats stop naming it.
      const tenant = await tenants.get(tenantId);
      const named = tenant?.settings.knowledgeBases;
      if (named?.includes(id) === true) {
        await tenants.update(tenantId, {
          settings: { ...tenant!.settings, knowledgeBases: named.filter((k) => k !== id) },
        });
      }
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/knowledge-bases/:id/documents',
    {
      schema: {
        params: BaseParams,
        querystring: TenantOnlyQuery,
        response: { 202: KbDocument, ...errorResponses },
      },
    },
    async (request, reply) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      const knowledgeBaseId = request.params.id;
      if (!request.isMultipart()) {
        throw new AppError('unsupported_media_type', 'upload the document as multipart/form-data');
      }
      await baseOr404(tenantId, knowledgeBaseId);
      const max = settings.maxUploadBytes;
      let received: ReceivedFile | undefined;
      let file: { name: string; type: NonNullable<ReturnType<typeof documentType>> } | undefined;
      try {
        for await (const part of request.parts({
          limits: { fileSize: max, files: 2, fields: 20, parts: 40 },
        })) {
          if (part.type !== 'file') continue;
          if (received !== undefined) {
            part.file.resume();
            throw invalid('send one file per upload');
          }
          const name = basename(part.filename ?? '').slice(0, 255) || 'document';
          const type = documentType(part.mimetype, name);
          if (type === undefined) {
            part.file.resume();
            throw new AppError(
              'unsupported_media_type',
              'upload text, Markdown, HTML or PDF (.txt, .md, .html, .pdf)',
            );
          }
          received = await storage.receive(part.file);
          if (part.file.truncated) {
            throw new AppError(
              'payload_too_large',
              `the file is larger than ${max} bytes (KB_MAX_UPLOAD_BYTES)`,
            );
          }
          file = { name, type };
        }
        if (received === undefined || file === undefined) throw invalid('the upload holds no file part');
        if (received.bytes === 0) throw invalid('the file is empty');
      } catch (error) {
        await storage.discard(received);
        throw unreadableUpload(error);
      }
      const id = randomUUID();
      const row = await repository.createDocument({
        tenantId,
        knowledgeBaseId,
        id,
        name: file.name,
        contentType: file.type,
        bytes: received.bytes,
        sha256: received.sha256,
      });
      if (row === undefined) {
        await storage.discard(received);
        throw notFound('knowledge base');
      }
      try {
        await storage.keep(received, { tenantId, knowledgeBaseId, id });
      } catch (error) {
        await repository.removeDocument({ tenantId, knowledgeBaseId, id });
        await storage.discard(received);
        throw error;
      }
      await queue.add({ kind: 'ingest', tenantId, documentId: id });
      return reply.code(202).send(presentDocument(row));
    },
  );

  app.get(
    '/knowledge-bases/:id/documents',
    {
      schema: {
        params: BaseParams,
        querystring: TenantListQuery,
        response: { 200: pageOf(KbDocument), ...errorResponses },
      },
    },
    async (request) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      await baseOr404(tenantId, request.params.id);
      const limit = parseLimit(request.query.limit);
      const after = decodeCursor(request.query.cursor, ['timestamp', 'uuid'] as const);
      const rows = await repository.listDocuments({
        tenantId,
        knowledgeBaseId: request.params.id,
        limit,
        ...(after ? { after } : {}),
      });
      return page(rows, limit, presentDocument, (row) => [row.createdAt.toISOString(), row.id]);
    },
  );

  app.get(
    '/knowledge-bases/:id/documents/:documentId',
    {
      schema: {
        params: DocumentParams,
        querystring: TenantOnlyQuery,
        response: { 200: KbDocument, ...errorResponses },
      },
    },
    async (request) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      const row = await repository.getDocument({
        tenantId,
        knowledgeBaseId: request.params.id,
        id: request.params.documentId,
      });
      if (row === undefined) throw notFound('document');
      return presentDocument(row);
    },
  );

  app.delete(
    '/knowledge-bases/:id/documents/:documentId',
    {
      schema: {
        params: DocumentParams,
        querystring: TenantOnlyQuery,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      const removed = await repository.removeDocument({
        tenantId,
        knowledgeBaseId: request.params.id,
        id: request.params.documentId,
      });
      if (removed === undefined) throw notFound('document');
      await storage.removeDocument(removed);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/knowledge-bases/:id/documents/:documentId/retry',
    {
      schema: {
        params: DocumentParams,
        querystring: TenantOnlyQuery,
        response: { 202: KbDocument, ...errorResponses },
      },
    },
    async (request, reply) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      const { id, documentId } = request.params;
      const row = await repository.requeueFailed({ tenantId, knowledgeBaseId: id, id: documentId });
      if (row === undefined) throw notFound('document');
      if (row === 'conflict') throw new AppError('conflict', 'only a failed document can be retried');
      await queue.add({ kind: 'ingest', tenantId, documentId });
      return reply.code(202).send(presentDocument(row));
    },
  );

  app.get(
    '/knowledge-bases/:id/documents/:documentId/chunks',
    {
      schema: {
        params: DocumentParams,
        querystring: TenantListQuery,
        response: { 200: pageOf(Chunk), ...errorResponses },
      },
    },
    async (request) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      const { id, documentId } = request.params;
      if ((await repository.getDocument({ tenantId, knowledgeBaseId: id, id: documentId })) === undefined) {
        throw notFound('document');
      }
      const limit = parseLimit(request.query.limit);
      const after = decodeCursor(request.query.cursor, ['integer'] as const);
      const rows = await repository.listChunks({
        tenantId,
        knowledgeBaseId: id,
        documentId,
        limit,
        ...(after ? { afterIndex: after[0] } : {}),
      });
      return page(rows, limit, presentChunk, (c) => [c.chunkIndex]);
    },
  );

  app.post(
    '/knowledge-bases/:id/search',
    {
      schema: {
        params: BaseParams,
        querystring: TenantOnlyQuery,
        body: SearchBody,
        response: { 200: SearchResult, ...errorResponses },
      },
    },
    async (request) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      await baseOr404(tenantId, request.params.id);
      // Without a provider key the query cannot be embedded: full-text ranking alone.
      const apiKey = await knowledge.apiKeyFor(tenantId).catch((error: unknown) => {
        if (error instanceof AppError && error.code === 'not_configured') return undefined;
        throw error;
      });
      const items = await knowledge.retriever.search({
        tenantId,
        apiKey,
        knowledgeBaseIds: [request.params.id],
        query: request.body.query,
        k: request.body.k ?? 5,
        log: request.log,
      });
      return { items };
    },
  );

  app.post(
    '/knowledge-bases/:id/reindex',
    {
      schema: {
        params: BaseParams,
        querystring: TenantOnlyQuery,
        body: ReindexBody,
        response: { 202: KnowledgeBase, ...errorResponses },
      },
    },
    async (request, reply) => {
      const tenantId = adminTenant(request.principal, request.query.tenantId);
      const { id } = request.params;
      const current = await baseOr404(tenantId, id);
      const started = await repository.startReindex({
        tenantId,
        knowledgeBaseId: id,
        embeddingModel: request.body.embeddingModel ?? current.active.embeddingModel,
        // The same model keeps the dimensions it was asked for; another one starts from its own.
        dimensions:
          request.body.embeddingDimensions ??
          (request.body.embeddingModel === undefined ? current.active.requestedDimensions : null),
      });
      if (started === undefined) throw notFound('knowledge base');
      if (started === 'conflict')
        throw new AppError('conflict', 'a re-index of this knowledge base is running');
      await queue.add({ kind: 'reindex', tenantId, indexId: started.id });
      return reply.code(202).send(presentKnowledgeBase(await baseOr404(tenantId, id)));
    },
  );
};

export default knowledgeBaseRoutes;
