// Who may do what (API.md): a role asking for something it may not do in its own tenant
// gets 403; anything in another tenant is 404.
import { AppError, forbidden, notFound } from '../errors.ts';
import type { Minter, Role } from './jwt.ts';

export interface Principal {
  sub: string;
  role: Role;
  tenantId: string | null;
  via: 'jwt' | 'api_key' | 'dev';
  /** The API key the credential is, or was minted through: the credential dies with it. */
  apiKeyId?: string;
  /** A JWT's `minted_by`: which tenant-level credential minted it (absent: the platform). */
  mintedBy?: Minter;
  /** A JWT's `exp` (seconds since the epoch). */
  expiresAt?: number;
}

/** The chat endpoints: users and tenant admins of a tenant; platform admins have none. */
export function chatCaller(principal: Principal): { tenantId: string; userId: string; role: Role } {
  if (principal.tenantId === null) {
    throw forbidden('platform admins have no chat endpoints: they belong to no tenant');
  }
  return { tenantId: principal.tenantId, userId: principal.sub, role: principal.role };
}

export function requirePlatformAdmin(principal: Principal): void {
  if (principal.role !== 'platform_admin') throw forbidden('only a platform admin may do this');
}

/** Tenant-admin endpoints of tenant `tenantId`: its tenant admins and platform admins. */
export function requireTenantAdmin(principal: Principal, tenantId: string): void {
  if (principal.role === 'platform_admin') return;
  if (principal.tenantId !== tenantId) throw notFound('tenant');
  if (principal.role !== 'tenant_admin') throw forbidden('only a tenant admin may do this');
}

/**
 * Tenant-admin endpoints without a tenant in the path (/v1/tokens, /v1/usage): a tenant
 * admin acts in their own tenant; a platform admin names the tenant with `tenantId`.
 */
export function adminTenant(principal: Principal, requested: string | undefined): string {
  if (principal.role === 'platform_admin') {
    if (requested === undefined) {
      throw new AppError('invalid_request', 'a platform admin names the tenant with tenantId');
    }
    return requested;
  }
  if (requested !== undefined && requested !== principal.tenantId) throw notFound('tenant');
  if (principal.role !== 'tenant_admin') throw forbidden('only a tenant admin may do this');
  return principal.tenantId!;
}
