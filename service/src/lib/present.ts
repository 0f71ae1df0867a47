// Rows to the API's shapes.
import type { ApiKeyRow, MessageRow, SessionRow, TenantRow } from '../db/schema.ts';
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
