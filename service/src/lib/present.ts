// Rows to the API's shapes.
import type {
  ApiKeyRow,
  KbDocumentRow,
  MessageRow,
  MessageSource,
  SessionRow,
  TenantRow,
} from '../db/schema.ts';
import type { BaseDetails, StoredChunk } from '../knowledge/repository.ts';
import { resolveSettings, type SettingsDefaults, type TenantSettings } from './settings.ts';

export interface TenantView {
  id: string;
  name: string;
  slug: string;
  settings: TenantSettings;
  hasProviderKey: boolean;
  createdAt: string;
}

export function presentTenant(row: TenantRow, defaults: SettingsDefaults): TenantView {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    settings: resolveSettings(row.settings, defaults),
    hasProviderKey: row.providerKeyEncrypted !== null,
    createdAt: row.createdAt.toISOString(),
  };
}

export function presentSession(row: SessionRow) {
  return {
    id: row.id,
    title: row.title,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export interface MessageView {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'streaming' | 'failed';
  model?: string;
  usage?: { promptTokens: number; completionTokens: number };
  sources?: MessageSource[];
  createdAt: string;
}

export function presentMessage(row: MessageRow): MessageView {
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

export function presentApiKey(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}

export function presentKnowledgeBase(details: BaseDetails) {
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
            status: reindex.state === 'failed' ? ('failed' as const) : ('building' as const),
            progress: reindex.progress,
            error: reindex.error,
          },
    createdAt: base.createdAt.toISOString(),
    updatedAt: base.updatedAt.toISOString(),
  };
}

export function presentDocument(row: KbDocumentRow) {
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

export function presentChunk(chunk: StoredChunk) {
  return {
    id: chunk.id,
    documentId: chunk.documentId,
    index: chunk.chunkIndex,
    heading: chunk.heading,
    content: chunk.content,
  };
}
