// Shapes of the chat API (API.md, "Shapes" and "Endpoints").

export type Role = 'user' | 'tenant_admin' | 'platform_admin';

export interface RateLimit {
  rpm: number;
  tpm: number;
}

export interface TenantSettings {
  model: string;
  systemPrompt: string;
  allowedModels: string[];
  fallbackModels: string[];
  rateLimit: RateLimit;
  maxOutputTokens: number;
  /** The knowledge bases chats answer from. */
  knowledgeBases: string[];
  knowledgeTopK: number;
  knowledgeMaxTokens: number;
}

export interface Tenant {
  id: string;
  name: string;
  slug: string;
  settings: TenantSettings;
  hasProviderKey: boolean;
  createdAt: string;
}

/** `PATCH /v1/tenants/{id}` settings: merged key by key; `null` resets a key to its default. */
export interface TenantSettingsPatch {
  model?: string | null;
  systemPrompt?: string | null;
  allowedModels?: string[] | null;
  fallbackModels?: string[] | null;
  knowledgeBases?: string[] | null;
}

export interface Me {
  sub: string;
  role: Role;
  tenant: Tenant | null;
}

export interface Session {
  id: string;
  title: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface Message {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'streaming' | 'failed';
  model?: string;
  usage?: TokenUsage;
  /** The knowledge-base passages the reply was given, numbered as it cites them ([1] first). */
  sources?: Source[];
  createdAt: string;
}

/** A knowledge-base chunk a reply or a search found. */
export interface Source {
  knowledgeBaseId: string;
  documentId: string;
  documentName: string;
  chunkId: string;
  chunkIndex: number;
  heading: string | null;
  content: string;
  score: number;
}

export type DocumentStatus = 'queued' | 'processing' | 'ready' | 'failed';

export interface KnowledgeBase {
  id: string;
  name: string;
  description: string;
  embeddingModel: string;
  embeddingDimensions: number | null;
  chunkSize: number;
  chunkOverlap: number;
  documents: Record<DocumentStatus, number>;
  chunks: number;
  reindex: null | {
    embeddingModel: string;
    embeddingDimensions: number | null;
    status: 'building' | 'failed';
    progress: number;
    error: string | null;
  };
  createdAt: string;
  updatedAt: string;
}

export interface KbDocument {
  id: string;
  knowledgeBaseId: string;
  name: string;
  contentType: 'text/plain' | 'text/markdown' | 'text/html' | 'application/pdf';
  bytes: number;
  status: DocumentStatus;
  progress: number;
  chunks: number;
  attempts: number;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Chunk {
  id: string;
  documentId: string;
  index: number;
  heading: string | null;
  content: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ApiKey {
  id: string;
  name: string | null;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface CreatedApiKey {
  id: string;
  name: string | null;
  key: string;
  prefix: string;
  createdAt: string;
}

export interface UsageDay {
  day: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/** The closed set of error codes in API.md, plus the ones this client produces itself. */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'upstream_error'
  | 'unavailable'
  | 'not_configured'
  | 'upstream_timeout'
  | 'internal'
  | 'network_error'
  | 'stream_interrupted'
  | 'bad_response';
