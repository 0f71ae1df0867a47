// Tenants, their provider key and their API keys.
import { page as pageOf, Uuid } from '@chatbot/api-types/common';
import {
  ApiKey,
  CreateApiKeyBody,
  CreatedApiKey,
  CreateTenantBody,
  PatchTenantBody,
  ProviderKeyBody,
  Tenant,
  type TenantSettingsPatch,
} from '@chatbot/api-types/tenants';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, forbidden, invalid, notFound } from '../errors.ts';
import { requirePlatformAdmin, requireTenantAdmin } from '../lib/access.ts';
import { decodeCursor, ListQuery, page, parseLimit } from '../lib/pagination.ts';
import { presentApiKey, presentTenant } from '../lib/present.ts';
import { checkModels, mergeSettings, PLATFORM_ONLY_SETTINGS, resolveSettings } from '../lib/settings.ts';
import type { TenantSettingsStored } from '../db/schema.ts';
import { errorResponses, IdParams } from '../schemas/common.ts';

/** A slug from a name: lower-case ASCII letters, digits and dashes. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

const tenantRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { tenants, apiKeys, settingsDefaults, fernet, knowledge } = app.services;
  const present = (row: Parameters<typeof presentTenant>[0]) => presentTenant(row, settingsDefaults);

  /** `knowledgeBases` names only knowledge bases of the tenant. */
  async function checkKnowledgeBases(tenantId: string, settings: TenantSettingsStored): Promise<void> {
    const named = settings.knowledgeBases ?? [];
    if (named.length === 0) return;
    const found = await knowledge.repository.existingBases({ tenantId, ids: named });
    const unknown = named.filter((id) => !found.includes(id));
    if (unknown.length > 0) {
      throw invalid(`knowledgeBases names ${unknown.join(', ')}, not knowledge bases of this tenant`);
    }
  }

  async function tenantOr404(id: string) {
    const row = await tenants.get(id);
    if (row === undefined) throw notFound('tenant');
    return row;
  }

  app.post(
    '/tenants',
    { schema: { body: CreateTenantBody, response: { 201: Tenant, ...errorResponses } } },
    async (request, reply) => {
      requirePlatformAdmin(request.principal);
      const { name, settings: patch = {} } = request.body;
      const slug = request.body.slug ?? slugify(name);
      if (slug === '') throw invalid('a slug cannot be derived from this name: give one with "slug"', 'slug');
      const settings = mergeSettings({}, patch);
      checkModels(resolveSettings(settings, settingsDefaults));
      // A new tenant has no knowledge bases yet.
      if ((settings.knowledgeBases ?? []).length > 0) {
        throw invalid('knowledgeBases names knowledge bases this tenant does not have');
      }
      const row = await tenants.create({ name, slug, settings });
      return reply.code(201).send(present(row));
    },
  );

  app.get(
    '/tenants',
    {
      schema: {
        querystring: Type.Object(ListQuery, { additionalProperties: false }),
        response: { 200: pageOf(Tenant), ...errorResponses },
      },
    },
    async (request) => {
      requirePlatformAdmin(request.principal);
      const limit = parseLimit(request.query.limit);
      const after = decodeCursor(request.query.cursor, ['timestamp', 'uuid'] as const);
      const rows = await tenants.list({ limit, ...(after ? { after } : {}) });
      return page(rows, limit, present, (row) => [row.createdAt.toISOString(), row.id]);
    },
  );

  app.get(
    '/tenants/:id',
    { schema: { params: IdParams, response: { 200: Tenant, ...errorResponses } } },
    async (request) => {
      requireTenantAdmin(request.principal, request.params.id);
      return present(await tenantOr404(request.params.id));
    },
  );

  app.patch(
    '/tenants/:id',
    { schema: { params: IdParams, body: PatchTenantBody, response: { 200: Tenant, ...errorResponses } } },
    async (request) => {
      const { id } = request.params;
      requireTenantAdmin(request.principal, id);
      const patch: TenantSettingsPatch = request.body.settings ?? {};
      if (request.principal.role !== 'platform_admin') {
        const denied = PLATFORM_ONLY_SETTINGS.filter((key) => patch[key] !== undefined);
        if (denied.length > 0) throw forbidden(`only a platform admin may change ${denied.join(', ')}`);
      }
      const current = await tenantOr404(id);
      const settings = mergeSettings(current.settings, patch);
      checkModels(resolveSettings(settings, settingsDefaults));
      if (patch.knowledgeBases != null) await checkKnowledgeBases(id, settings);
      const row = await tenants.update(id, {
        ...(request.body.name === undefined ? {} : { name: request.body.name }),
        settings,
      });
      if (row === undefined) throw notFound('tenant');
      return present(row);
    },
  );

  app.delete(
    '/tenants/:id',
    { schema: { params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      const { id } = request.params;
      if (request.principal.role !== 'platform_admin') {
        requireTenantAdmin(request.principal, id); // 404 for another tenant
        requirePlatformAdmin(request.principal); // 403 in one's own
      }
      if (!(await tenants.remove(id))) throw notFound('tenant');
      await knowledge.storage.removeTenant(id);
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/tenants/:id/provider-key',
    {
      schema: { params: IdParams, body: ProviderKeyBody, response: { 204: Type.Null(), ...errorResponses } },
    },
    async (request, reply) => {
      const { id } = request.params;
      requireTenantAdmin(request.principal, id);
      if (fernet === undefined) {
        throw new AppError('not_configured', 'FERNET_KEY is not configured: provider keys cannot be stored');
      }
      await tenantOr404(id);
      const row = await tenants.update(id, { providerKeyEncrypted: fernet.encrypt(request.body.apiKey) });
      if (row === undefined) throw notFound('tenant');
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/tenants/:id/provider-key',
    { schema: { params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      const { id } = request.params;
      requireTenantAdmin(request.principal, id);
      const row = await tenants.update(id, { providerKeyEncrypted: null });
      if (row === undefined) throw notFound('tenant');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/tenants/:id/api-keys',
    {
      schema: {
        params: IdParams,
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKey, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      requireTenantAdmin(request.principal, id);
      await tenantOr404(id);
      const { row, key } = await apiKeys.create({ tenantId: id, name: request.body.name ?? null });
      const { lastUsedAt: _unused, ...shown } = presentApiKey(row);
      return reply.code(201).send({ ...shown, key });
    },
  );

  app.get(
    '/tenants/:id/api-keys',
    {
      schema: {
        params: IdParams,
        querystring: Type.Object(ListQuery, { additionalProperties: false }),
        response: { 200: pageOf(ApiKey), ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      requireTenantAdmin(request.principal, id);
      await tenantOr404(id);
      const limit = parseLimit(request.query.limit);
      const after = decodeCursor(request.query.cursor, ['timestamp', 'uuid'] as const);
      const rows = await apiKeys.list({ tenantId: id, limit, ...(after ? { after } : {}) });
      return page(rows, limit, presentApiKey, (row) => [row.createdAt.toISOString(), row.id]);
    },
  );

  app.delete(
    '/tenants/:id/api-keys/:keyId',
    {
      schema: {
        params: Type.Object({ id: Uuid, keyId: Uuid }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id, keyId } = request.params;
      requireTenantAdmin(request.principal, id);
      if (!(await apiKeys.remove({ tenantId: id, id: keyId }))) throw notFound('API key');
      return reply.code(204).send(null);
    },
  );
};

export default tenantRoutes;
