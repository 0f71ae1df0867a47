import { Type } from 'typebox';
import { Nullable, Timestamp, Uuid } from './common.ts';

const ModelName = Type.String({ minLength: 1, maxLength: 200 });
const ModelList = Type.Array(ModelName, { maxItems: 100, uniqueItems: true });
const Rpm = Type.Integer({ minimum: 1, maximum: 10_000_000 });
const Tpm = Type.Integer({ minimum: 1, maximum: 10_000_000_000 });
const MaxOutputTokens = Type.Integer({ minimum: 1, maximum: 1_000_000 });
const SystemPrompt = Type.String({ maxLength: 32_000 });

export const Slug = Type.String({ pattern: '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$' });
export const TenantName = Type.String({ minLength: 1, maxLength: 200 });

export const SettingsPatch = Type.Object(
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

export const Settings = Type.Object({
  model: Type.String(),
  systemPrompt: Type.String(),
  allowedModels: Type.Array(Type.String()),
  fallbackModels: Type.Array(Type.String()),
  rateLimit: Type.Object({ rpm: Type.Integer(), tpm: Type.Integer() }),
  maxOutputTokens: Type.Integer(),
  knowledgeBases: Type.Array(Type.String()),
  knowledgeTopK: Type.Integer(),
  knowledgeMaxTokens: Type.Integer(),
});

export const Tenant = Type.Object({
  id: Uuid,
  name: Type.String(),
  slug: Type.String(),
  settings: Settings,
  hasProviderKey: Type.Boolean(),
  createdAt: Timestamp,
});

export const CreateTenantBody = Type.Object(
  { name: TenantName, slug: Type.Optional(Slug), settings: Type.Optional(SettingsPatch) },
  { additionalProperties: false },
);

export const PatchTenantBody = Type.Object(
  { name: Type.Optional(TenantName), settings: Type.Optional(SettingsPatch) },
  { additionalProperties: false },
);

export const ProviderKeyBody = Type.Object(
  { apiKey: Type.String({ minLength: 1, maxLength: 1000, pattern: '^\\S+$' }) },
  { additionalProperties: false },
);

export const ApiKey = Type.Object({
  id: Uuid,
  name: Nullable(Type.String()),
  prefix: Type.String(),
  createdAt: Timestamp,
  lastUsedAt: Nullable(Timestamp),
});

export const CreatedApiKey = Type.Object({
  id: Uuid,
  name: Nullable(Type.String()),
  key: Type.String(),
  prefix: Type.String(),
  createdAt: Timestamp,
});

export const CreateApiKeyBody = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) },
  { additionalProperties: false },
);
