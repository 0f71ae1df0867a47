// Every table of the service. Tenant-owned rows carry tenant_id and are guarded by
// row-level security policies for the non-owner application role (see API.md,
// "Database roles"): the service runs each transaction as that role with the tenant in
// the transaction-local setting `app.tenant_id`.
import { sql, type InferSelectModel } from 'drizzle-orm';
import {
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

const currentTenant = sql`nullif(current_setting('app.tenant_id', true), '')::uuid`;
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

export interface TenantSettingsStored {
  model?: string;
  systemPrompt?: string;
  allowedModels?: string[];
  fallbackModels?: string[];
  rateLimit?: { rpm?: number; tpm?: number };
  maxOutputTokens?: number;
}

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
    createdAt: createdAt(),
  },
  (t) => [index('messages_session_idx').on(t.sessionId, t.seq), tenantIsolation('messages')],
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

export type TenantRow = InferSelectModel<typeof tenants>;
export type ApiKeyRow = InferSelectModel<typeof apiKeys>;
export type SessionRow = InferSelectModel<typeof sessions>;
export type MessageRow = InferSelectModel<typeof messages>;
export type UsageDailyRow = InferSelectModel<typeof usageDaily>;
export type IdempotencyKeyRow = InferSelectModel<typeof idempotencyKeys>;
