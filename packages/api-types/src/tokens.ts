// POST /v1/tokens: a JWT for one of the tenant's end users.
import { Type, type Static } from 'typebox';
import { Role, Timestamp, Uuid } from './common.ts';

export const TokenBody = Type.Object(
  {
    sub: Type.String({ minLength: 1, maxLength: 200 }),
    role: Type.Optional(Role),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
    /** Platform admins name the tenant; tenant admins may only name their own. */
    tenantId: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);
export type TokenBody = Static<typeof TokenBody>;

export const IssuedToken = Type.Object({ token: Type.String(), expiresAt: Timestamp });
export type IssuedToken = Static<typeof IssuedToken>;
