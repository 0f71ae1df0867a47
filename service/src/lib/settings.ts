// Tenant settings: stored as the keys a tenant set; shown with defaults applied.
import type { TenantSettings, TenantSettingsPatch } from '@chatbot/api-types/tenants';
import type { TenantSettingsStored } from '../db/schema.ts';
import { invalid } from '../errors.ts';

export interface SettingsDefaults {
  defaultModel: string;
  defaultRateLimitRpm: number;
  defaultRateLimitTpm: number;
}

export const DEFAULT_MAX_OUTPUT_TOKENS = 1024;
export const DEFAULT_KNOWLEDGE_TOP_K = 5;
export const DEFAULT_KNOWLEDGE_MAX_TOKENS = 2000;

/** Settings only a platform admin may change. */
export const PLATFORM_ONLY_SETTINGS = ['rateLimit', 'maxOutputTokens'] as const;

export function resolveSettings(stored: TenantSettingsStored, defaults: SettingsDefaults): TenantSettings {
  return {
    model: stored.model ?? defaults.defaultModel,
    systemPrompt: stored.systemPrompt ?? '',
    allowedModels: stored.allowedModels ?? [],
    fallbackModels: stored.fallbackModels ?? [],
    rateLimit: {
      rpm: stored.rateLimit?.rpm ?? defaults.defaultRateLimitRpm,
      tpm: stored.rateLimit?.tpm ?? defaults.defaultRateLimitTpm,
    },
    maxOutputTokens: stored.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
    knowledgeBases: stored.knowledgeBases ?? [],
    knowledgeTopK: stored.knowledgeTopK ?? DEFAULT_KNOWLEDGE_TOP_K,
    knowledgeMaxTokens: stored.knowledgeMaxTokens ?? DEFAULT_KNOWLEDGE_MAX_TOKENS,
  };
}

/** Merges key by key (and rateLimit field by field); null removes the key. */
export function mergeSettings(
  stored: TenantSettingsStored,
  patch: TenantSettingsPatch,
): TenantSettingsStored {
  const next: Record<string, unknown> = { ...stored };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) {
      delete next[key];
    } else if (key === 'rateLimit') {
      const rate: Record<string, number> = { ...(stored.rateLimit ?? {}) };
      for (const [field, v] of Object.entries(value as Record<string, number | null | undefined>)) {
        if (v === null) delete rate[field];
        else if (v !== undefined) rate[field] = v;
      }
      if (Object.keys(rate).length === 0) delete next.rateLimit;
      else next.rateLimit = rate;
    } else {
      next[key] = value;
    }
  }
  return next as TenantSettingsStored;
}

/** When allowedModels is set, the model and every fallback must be in it. */
export function checkModels(settings: TenantSettings): void {
  const allowed = settings.allowedModels;
  if (allowed.length === 0) return;
  if (!allowed.includes(settings.model)) {
    throw invalid(`model "${settings.model}" is not in allowedModels`);
  }
  const outside = settings.fallbackModels.filter((m) => !allowed.includes(m));
  if (outside.length > 0) throw invalid(`fallbackModels ${outside.join(', ')} are not in allowedModels`);
}

/** The models this tenant may request: allowedModels, or its model when the list is empty. */
export function modelsOf(settings: TenantSettings): string[] {
  return settings.allowedModels.length > 0 ? settings.allowedModels : [settings.model];
}

export function checkRequestedModel(settings: TenantSettings, model: string, param = 'model'): void {
  if (settings.allowedModels.length > 0 && !settings.allowedModels.includes(model)) {
    throw invalid(`model "${model}" is not allowed for this tenant`, param);
  }
}
