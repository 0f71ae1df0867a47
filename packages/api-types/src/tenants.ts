// Tenants, their settings and their API keys.
import { Type, type Static } from 'typebox';
import { Nullable, Timestamp, Uuid } from './common.ts';

const ModelName = Type.String({ minLength: 1, maxLength: 200 });
const ModelList = Type.Array(ModelName, { maxItems: 100, uniqueItems: true });
const Rpm = Type.Integer({ minimum: 1, maximum: 10_000_000 });
const Tpm = Type.Integer({ minimum: 1, maximum: 10_000_000_000 });
const MaxOutputTokens = Type.Integer({ minimum: 1, maximum: 1_000_000 });
const SystemPrompt = Type.String({ maxLength: 32_000 });

export const Slug = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$' });
export const TenantName = Type.String({ minLength: 1, maxLength: 200 });

/** A body's settings: a value sets a key, `null` resets it to its default (merged key by key). */
export const TenantSettingsPatch = Type.Object(
  {
    model: Type.Optional(Nullable(ModelName)),
    systemPrompt: Type.Optional(Nullable(SystemPrompt)),
    allowedModels: Type.Optional(Nullable(ModelList)),
    fallbackModels: Type.Optional(Nullable(Type.Array(ModelName, { maxItems: 10, uniqueItems: true }))),
    rateLimit: Type.Optional(
      Nullable(
        Type.Object(
          { rpm: Type.Optional(Nullable(Rpm)), tpm: Type.Optional(Nullable(Tpm)) },
          { additionalProperties: false },
        ),
      ),
    ),
    maxOutputTokens: Type.Optional(Nullable(MaxOutputTokens)),
    knowledgeBases: Type.Optional(Nullable(Type.Array(Uuid, { maxItems: 10, uniqueItems: true }))),
    knowledgeTopK: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 20 }))),
    knowledgeMaxTokens: Type.Optional(Nullable(Type.Integer({ minimum: 100, maximum: 32_000 }))),
  },
  { additionalProperties: false },
);
export type TenantSettingsPatch = Static<typeof TenantSettingsPatch>;

/** A tenant's settings with the defaults applied. */
export const TenantSettings = Type.Object({
  model: Type.String(),
  systemPrompt: Type.String(),
  allowedModels: Type.Array(Type.String()),
  fallbackModels: Type.Array(Type.String()),
  rateLimit: Type.Object({ rpm: Type.Integer(), tpm: Type.Integer() }),
  maxOutputTokens: Type.Integer(),
  /** The knowledge bases chat turns answer from (ids of the tenant's). */
  knowledgeBases: Type.Array(Type.String()),
  /** Chunks a turn gives the model, at most. */
  knowledgeTopK: Type.Integer(),
  /** Tokens (characters / 4) those chunks may add to a turn's context, at most. */
  knowledgeMaxTokens: Type.Integer(),
});
export type TenantSettings = Static<typeof TenantSettings>;

export const Tenant = Type.Object({
  id: Uuid,
  name: Type.String(),
  slug: Type.String(),
  settings: TenantSettings,
  hasProviderKey: Type.Boolean(),
  createdAt: Timestamp,
});
export type Tenant = Static<typeof Tenant>;

export const CreateTenantBody = Type.Object(
  { name: TenantName, slug: Type.Optional(Slug), settings: Type.Optional(TenantSettingsPatch) },
  { additionalProperties: false },
);
export type CreateTenantBody = Static<typeof CreateTenantBody>;

export const PatchTenantBody = Type.Object(
  { name: Type.Optional(TenantName), settings: Type.Optional(TenantSettingsPatch) },
  { additionalProperties: false },
);
export type PatchTenantBody = Static<typeof PatchTenantBody>;

export const ProviderKeyBody = Type.Object(
  { apiKey: Type.String({ minLength: 1, maxLength: 1000, pattern: '^\\S+$' }) },
  { additionalProperties: false },
);
export type ProviderKeyBody = Static<typeof ProviderKeyBody>;

export const ApiKey = Type.Object({
  id: Uuid,
  name: Nullable(Type.String()),
  prefix: Type.String(),
  createdAt: Timestamp,
  lastUsedAt: Nullable(Timestamp),
});
export type ApiKey = Static<typeof ApiKey>;

/** A new key: the only answer that holds `key`. */
export const CreatedApiKey = Type.Object({
  id: Uuid,
  name: Nullable(Type.String()),
  key: Type.String(),
  prefix: Type.String(),
  createdAt: Timestamp,
});
export type CreatedApiKey = Static<typeof CreatedApiKey>;

export const CreateApiKeyBody = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) },
  { additionalProperties: false },
);
export type CreateApiKeyBody = Static<typeof CreateApiKeyBody>;
