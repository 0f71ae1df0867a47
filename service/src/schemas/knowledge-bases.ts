// The knowledge-base routes' paths and queries (their bodies are in @chatbot/api-types).
import { Uuid } from '@chatbot/api-types/common';
import { Type } from 'typebox';
import { ListQuery } from '../lib/pagination.ts';

/** Every knowledge-base route: a platform admin names the tenant. */
export const TenantQuery = { tenantId: Type.Optional(Uuid) };

export const BaseParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export const DocumentParams = Type.Object({ id: Uuid, documentId: Uuid }, { additionalProperties: false });
export const TenantOnlyQuery = Type.Object(TenantQuery, { additionalProperties: false });
export const TenantListQuery = Type.Object({ ...ListQuery, ...TenantQuery }, { additionalProperties: false });
