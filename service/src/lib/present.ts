// Rows to the API's shapes.
import type { Chunk, KbDocument, KnowledgeBase } from '@chatbot/api-types/knowledge-bases';
import type { Message, Session } from '@chatbot/api-types/sessions';
import type { ApiKey, Tenant } from '@chatbot/api-types/tenants';
import type { ApiKeyRow, KbDocumentRow, MessageRow, SessionRow, TenantRow } from '../db/schema.ts';
import type { BaseDetails, StoredChunk } from '../knowledge/repository.ts';
import { resolveSettings, type SettingsDefaults } from './settings.ts';

export function presentTenant(row: TenantRow, defaults: SettingsDefaults): Tenant {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    settings: resolveSettings(row.settings, defaults),
    hasProviderKey: row.providerKeyEncrypted !== null,
    createdAt: row.createdAt.toISOString(),
  };
}

export function presentSession(row: SessionRow): Session {
  return {
    id: row.id,
    title: row.title,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function presentMessage(row: MessageRow): Message {
  return {
    id: row.id,
    role: row.role,
    content: row.content,
    status: row.status,
    ...(row.model === null ? {} : { model: row.model }),
    ...(row.promptTokens === null || row.completionTokens === null
      ? {}
      : { usage: { promptTokens: row.promptTokens, completionTokens: row.completionTokens } }),
    ...(row.sources === null ? {} : { sources: row.sources }),
    createdAt: row.createdAt.toISOString(),
  };
}

export function presentApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}

export function presentKnowledgeBase(details: BaseDetails): KnowledgeBase {
  const { base, active, reindex } = details;
  return {
    id: base.id,
    name: base.name,
    description: base.description,
    embeddingModel: active.embeddingModel,
    embeddingDimensions: active.dimensions,
    chunkSize: base.chunkSize,
    chunkOverlap: base.chunkOverlap,
    documents: details.documents,
    chunks: details.chunks,
    reindex:
      reindex === undefined
        ? null
        : {
            embeddingModel: reindex.embeddingModel,
            embeddingDimensions: reindex.dimensions,
            status: reindex.state === 'failed' ? 'failed' : 'building',
            progress: reindex.progress,
            error: reindex.error,
          },
    createdAt: base.createdAt.toISOString(),
    updatedAt: base.updatedAt.toISOString(),
  };
}

export function presentDocument(row: KbDocumentRow): KbDocument {
  return {
    id: row.id,
    knowledgeBaseId: row.knowledgeBaseId,
    name: row.name,
    contentType: row.contentType,
    bytes: row.bytes,
    status: row.status,
    progress: row.progress,
    chunks: row.chunkCount,
    attempts: row.attempts,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function presentChunk(chunk: StoredChunk): Chunk {
  return {
    id: chunk.id,
    documentId: chunk.documentId,
    index: chunk.chunkIndex,
    heading: chunk.heading,
    content: chunk.content,
  };
}
