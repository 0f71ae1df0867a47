// The key a tenant's model and embedding calls use: its own provider key when it set one
// (stored as a Fernet token), else the platform's (OPENROUTER_API_KEY).
import type { TenantRow } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { Fernet } from './fernet.ts';

export interface ProviderKeys {
  /** Reads tenants' own provider keys; without it a tenant that set one cannot use the provider. */
  fernet: Fernet | undefined;
  /** The platform's provider key, for tenants without their own. */
  platformKey: string | undefined;
}

export function providerKeyOf(tenant: TenantRow, keys: ProviderKeys): string {
  if (tenant.providerKeyEncrypted !== null) {
    if (keys.fernet === undefined) {
      throw new AppError(
        'not_configured',
        'FERNET_KEY is not configured: the tenant provider key cannot be read',
      );
    }
    return keys.fernet.decrypt(tenant.providerKeyEncrypted);
  }
  if (keys.platformKey === undefined) {
    throw new AppError(
      'not_configured',
      'no provider key is configured (OPENROUTER_API_KEY or the tenant key)',
    );
  }
  return keys.platformKey;
}
