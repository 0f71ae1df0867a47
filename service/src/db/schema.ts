// Every table of the service. Tenant-owned rows carry tenant_id and are guarded by
// row-level security policies for the non-owner application role (see API.md,
// "Database roles"): the service runs each transaction as that role with the tenant in
// the transaction-local setting `app.tenant_id`.
import type { Source } from '@chatbot/api-types/knowledge-bases';
import type { TenantSettings } from '@chatbot/api-types/tenants';
import { sql, type InferSelectModel } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  date,
  index,
  integer,
  jsonb,
  pgPolicy,
  pgRole,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/** NOLOGIN role without ownership; created by the first migration. */
export const appRole = pgRole('chatbot_app').existing();

// A sub-select: evaluated once per statement (an InitPlan) rather than once per row, which a
// scan of many rows (a knowledge-base version searched exactly) pays for (migration 0012).
const currentTenant = sql`(select nullif(current_setting('app.tenant_id', true), '')::uuid)`;
const platformScope = sql`current_setting('app.scope', true) = 'platform'`;

const tenantIsolation = (table: string) =>
  pgPolicy(`${table}_tenant_isolation`, {
    as: 'permissive',
    for: 'all',
    to: appRole,
    using: sql`tenant_id = ${currentTenant}`,
    withCheck: sql`tenant_id = ${currentTenant}`,
  });

const createdAt = () => timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow();

/** A chunk an assistant message cites: API.md's Source, stored as the API shows it. */
export type MessageSource = Source;

/** The settings keys a tenant set (TenantSettings without defaults: every key optional). */
export type TenantSettingsStored = Partial<Omit<TenantSettings, 'rateLimit'>> & {
  rateLimit?: Partial<TenantSettings['rateLimit']>;
};

export const tenants = pgTable(
  'tenants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    slug: text('slug').notNull(),
    settings: jsonb('settings').$type<TenantSettingsStored>().notNull().default({}),
    /** The tenant's own provider key as a Fernet token (FERNET_KEY); never returned. */
    providerKeyEncrypted: text('provider_key_encrypted'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  () => [
    uniqueIndex('tenants_slug_key').on(sql`slug`),
    pgPolicy('tenants_isolation', {
      as: 'permissive',
      for: 'all',
      to: appRole,
      using: sql`id = ${currentTenant} or ${platformScope}`,
      withCheck: sql`id = ${currentTenant} or ${platformScope}`,
    }),
  ],
).enableRLS();

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name'),
    prefix: text('prefix').notNull(),
    /** SHA-256 of the whole key, hex. */
    keyHash: text('key_hash').notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    uniqueIndex('api_keys_key_hash_key').on(t.keyHash),
    index('api_keys_tenant_idx').on(t.tenantId, t.createdAt),
    tenantIsolation('api_keys'),
  ],
).enableRLS();

export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    title: text('title'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    index('sessions_user_idx').on(t.tenantId, t.userId, t.updatedAt.desc(), t.id.desc()),
    index('sessions_tenant_idx').on(t.tenantId, t.updatedAt.desc(), t.id.desc()),
    tenantIsolation('sessions'),
  ],
).enableRLS();

export const messages = pgTable(
  'messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Insertion order inside a session (timestamps can tie). */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['user', 'assistant'] }).notNull(),
    content: text('content').notNull(),
    status: text('status', { enum: ['complete', 'streaming', 'failed'] }).notNull(),
    model: text('model'),
    promptTokens: integer('prompt_tokens'),
    completionTokens: integer('completion_tokens'),
    /** Why an assistant message failed (an API.md error code). */
    error: text('error'),
    /** The knowledge-base chunks the model was given (and asked to cite), in their order. */
    sources: jsonb('sources').$type<MessageSource[]>(),
    /**
     * While `streaming`: the replica streaming it (the advisory lock it holds as long as it
     * lives, chat/stream-owner.ts); null from a release before 0010.
     */
    streamOwner: integer('stream_owner'),
    createdAt: createdAt(),
  },
  (t) => [
    index('messages_session_idx').on(t.sessionId, t.seq),
    index('messages_streaming_idx')
      .on(t.streamOwner)
      .where(sql`${t.status} = 'streaming'`),
    tenantIsolation('messages'),
  ],
).enableRLS();

export const usageDaily = pgTable(
  'usage_daily',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    day: date('day', { mode: 'string' }).notNull(),
    requests: integer('requests').notNull().default(0),
    promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull().default(0),
    completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.day] }), tenantIsolation('usage_daily')],
).enableRLS();

/** Idempotency-Key records of POST message: the first completed result, for 24 hours. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    key: text('key').notNull(),
    /** SHA-256 of the request (path and body): the same key with another body is a conflict. */
    requestHash: text('request_hash').notNull(),
    state: text('state', { enum: ['pending', 'complete'] }).notNull(),
    response: jsonb('response'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.userId, t.key] }),
    index('idempotency_keys_created_idx').on(t.tenantId, t.createdAt),
    tenantIsolation('idempotency_keys'),
  ],
).enableRLS();

// --- Knowledge bases ---------------------------------------------------------------------
// A knowledge base holds documents; their chunks live in `kb_chunks`, one partition per
// index version (`kb_indexes`: an embedding model and its dimensions). The base's
// `active_index_id` names the version searches use; a re-index builds `building_index_id`
// beside it and swaps the two in one update. `kb_chunks` is partitioned (LIST on index_id),
// which drizzle-kit cannot declare: a hand-written migration creates it, and `KbChunkRow` below is its
// row. Dropping a kb_indexes row drops its partition (a trigger).

const tenantRef = () =>
  uuid('tenant_id')
    .notNull()
    .references(() => tenants.id, { onDelete: 'cascade' });
const updatedAt = () => timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow();
const knowledgeBaseRef = () =>
  uuid('knowledge_base_id')
    .notNull()
    .references((): AnyPgColumn => knowledgeBases.id, { onDelete: 'cascade' });

export const knowledgeBases = pgTable(
  'knowledge_bases',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantRef(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    /** Characters per chunk (about), and characters carried over between neighbours. */
    chunkSize: integer('chunk_size').notNull(),
    chunkOverlap: integer('chunk_overlap').notNull(),
    /** The index version searches use (a kb_indexes id). */
    activeIndexId: uuid('active_index_id').notNull(),
    /** The version a re-index is building, if any. */
    buildingIndexId: uuid('building_index_id'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('knowledge_bases_name_key').on(t.tenantId, t.name),
    index('knowledge_bases_tenant_idx').on(t.tenantId, t.createdAt.desc(), t.id.desc()),
    tenantIsolation('knowledge_bases'),
  ],
).enableRLS();

export const kbIndexes = pgTable(
  'kb_indexes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantRef(),
    knowledgeBaseId: knowledgeBaseRef(),
    embeddingModel: text('embedding_model').notNull(),
    /** Asked of the provider (`dimensions`); null: the model's own. */
    requestedDimensions: integer('requested_dimensions'),
    /** What the provider returned, recorded with the first embedding (or the requested ones). */
    dimensions: integer('dimensions'),
    state: text('state', { enum: ['building', 'active', 'failed', 'retired'] }).notNull(),
    /** A re-index's progress, 0..100, and why it failed. */
    progress: integer('progress').notNull().default(0),
    error: text('error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('kb_indexes_base_idx').on(t.knowledgeBaseId), tenantIsolation('kb_indexes')],
).enableRLS();

export const kbDocuments = pgTable(
  'kb_documents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: tenantRef(),
    knowledgeBaseId: knowledgeBaseRef(),
    name: text('name').notNull(),
    contentType: text('content_type', {
      enum: ['text/plain', 'text/markdown', 'text/html', 'application/pdf'],
    }).notNull(),
    bytes: integer('bytes').notNull(),
    /** SHA-256 of the upload, hex. */
    sha256: text('sha256').notNull(),
    status: text('status', { enum: ['queued', 'processing', 'ready', 'failed'] }).notNull(),
    progress: integer('progress').notNull().default(0),
    chunkCount: integer('chunk_count').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    /** The reason of the last failed attempt. */
    error: text('error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('kb_documents_base_idx').on(t.knowledgeBaseId, t.createdAt.desc(), t.id.desc()),
    // Searches hide the few documents that are not ready.
    index('kb_documents_unready_idx')
      .on(t.knowledgeBaseId)
      .where(sql`status <> 'ready'`),
    tenantIsolation('kb_documents'),
  ],
).enableRLS();

/** A row of kb_chunks (partitioned by index_id; see above). */
export interface KbChunkRow {
  indexId: string;
  id: string;
  tenantId: string;
  knowledgeBaseId: string;
  documentId: string;
  chunkIndex: number;
  heading: string | null;
  content: string;
}

export type TenantRow = InferSelectModel<typeof tenants>;
export type ApiKeyRow = InferSelectModel<typeof apiKeys>;
export type SessionRow = InferSelectModel<typeof sessions>;
export type MessageRow = InferSelectModel<typeof messages>;
export type UsageDailyRow = InferSelectModel<typeof usageDaily>;
export type IdempotencyKeyRow = InferSelectModel<typeof idempotencyKeys>;
export type KnowledgeBaseRow = InferSelectModel<typeof knowledgeBases>;
export type KbIndexRow = InferSelectModel<typeof kbIndexes>;
export type KbDocumentRow = InferSelectModel<typeof kbDocuments>;
