// GET /v1/me: who the credential is.
import { Type, type Static } from 'typebox';
import { Nullable, Role } from './common.ts';
import { Tenant } from './tenants.ts';

export const Me = Type.Object({ sub: Type.String(), role: Role, tenant: Nullable(Tenant) });
export type Me = Static<typeof Me>;
