// JWTs: verification with JWT_PUBLIC_KEY (asymmetric algorithms only) and issuing with
// JWT_PRIVATE_KEY, both through jose.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { jwtAlgorithmFor } from './keys.ts';

export const ROLES = ['user', 'tenant_admin', 'platform_admin'] as const;
export type Role = (typeof ROLES)[number];

/** Which tenant-level credential minted a token with POST /v1/tokens (API.md, Authentication). */
export const MINTERS = ['api_key', 'tenant_admin'] as const;
export type Minter = (typeof MINTERS)[number];

export interface TokenClaims {
  sub: string;
  role: Role;
  tenantId: string | null;
  /** `api_key_id`: the API key the token was minted through, directly or not; it dies with the key. */
  apiKeyId?: string;
  /** `minted_by`: absent when the platform issued the token. */
  mintedBy?: Minter;
}

/** A verified token's claims and its `exp` (seconds since the epoch). */
export interface VerifiedToken extends TokenClaims {
  expiresAt: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => UUID.test(value);

export class TokenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenError';
  }
}

export interface JwtSettings {
  issuer: string | undefined;
  audience: string | undefined;
}

/** Verified tokens remembered, so a client's repeated requests skip the signature check. */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

export function createTokenVerifier(
  publicKeyPem: string,
  settings: JwtSettings,
  options: { cacheSize?: number } = {},
) {
  const key: KeyObject = createPublicKey(publicKeyPem);
  const algorithm = jwtAlgorithmFor(key);
  if (algorithm === undefined) throw new Error('JWT_PUBLIC_KEY must be an RSA, EC P-256 or Ed25519 key');
  const algorithms = [algorithm];
  const cacheSize = options.cacheSize ?? VERIFIED_TOKEN_CACHE_SIZE;
  // Keyed by the whole token: the same bytes verify the same way under the same key and
  // settings until `exp`, the only check that changes with time once a token passed
  // (`nbf` only becomes easier to meet). Least recently used first; failures are not kept.
  const verified = new Map<string, { claims: Readonly<VerifiedToken>; expiresAtMs: number }>();

  return async function verify(token: string): Promise<VerifiedToken> {
    const hit = verified.get(token);
    if (hit !== undefined) {
      verified.delete(token);
      // jose refuses a token once exp <= now (whole seconds); this stops no later than that.
      if (Date.now() < hit.expiresAtMs) {
        verified.set(token, hit);
        return { ...hit.claims };
      }
    }
    const claims = await verifySignature(token);
    if (cacheSize > 0) {
      if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
      verified.set(token, { claims: Object.freeze({ ...claims }), expiresAtMs: claims.expiresAt * 1000 });
    }
    return claims;
  };

  async function verifySignature(token: string): Promise<VerifiedToken> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms,
        requiredClaims: ['exp', 'sub'],
        ...(settings.issuer === undefined ? {} : { issuer: settings.issuer }),
        ...(settings.audience === undefined ? {} : { audience: settings.audience }),
      }));
    } catch (error) {
      const reason =
        error instanceof errors.JWTExpired
          ? 'token has expired'
          : error instanceof errors.JWTClaimValidationFailed
            ? `token claim "${error.claim}" is not valid`
            : error instanceof errors.JOSEAlgNotAllowed
              ? 'token algorithm is not accepted'
              : 'token signature or format is not valid';
      throw new TokenError(reason, { cause: error });
    }
    // requiredClaims made jose check that exp is there and a number.
    return { ...claimsOf(payload), expiresAt: payload.exp! };
  }
}

function claimsOf(payload: Record<string, unknown>): TokenClaims {
  const { sub, role = 'user', tenant_id: tenantId, api_key_id: apiKeyId, minted_by: mintedBy } = payload;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 200) {
    throw new TokenError('token "sub" must be 1 to 200 characters');
  }
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw new TokenError('token "role" is not one of user, tenant_admin, platform_admin');
  }
  if (role === 'platform_admin') return { sub, role, tenantId: null };
  if (typeof tenantId !== 'string' || !isUuid(tenantId)) {
    throw new TokenError('token "tenant_id" must be a UUID');
  }
  if (apiKeyId !== undefined && (typeof apiKeyId !== 'string' || !isUuid(apiKeyId))) {
    throw new TokenError('token "api_key_id" must be a UUID');
  }
  if (mintedBy !== undefined && !(MINTERS as readonly unknown[]).includes(mintedBy)) {
    throw new TokenError('token "minted_by" is not one of api_key, tenant_admin');
  }
  return {
    sub,
    role: role as Role,
    tenantId: tenantId.toLowerCase(),
    ...(apiKeyId === undefined ? {} : { apiKeyId: apiKeyId.toLowerCase() }),
    ...(mintedBy === undefined ? {} : { mintedBy: mintedBy as Minter }),
  };
}

export function createTokenSigner(privateKeyPem: string, settings: JwtSettings) {
  const key = createPrivateKey(privateKeyPem);
  const algorithm = jwtAlgorithmFor(key);
  if (algorithm === undefined) throw new Error('JWT_PRIVATE_KEY must be an RSA, EC P-256 or Ed25519 key');

  /** `notAfter` (seconds since the epoch) caps the token's `exp`. */
  return async function sign(
    claims: TokenClaims,
    ttlSeconds: number,
    options: { notAfter?: number } = {},
  ): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = Math.min(now + ttlSeconds, options.notAfter ?? Number.POSITIVE_INFINITY);
    let jwt = new SignJWT({
      role: claims.role,
      ...(claims.tenantId ? { tenant_id: claims.tenantId } : {}),
      ...(claims.apiKeyId === undefined ? {} : { api_key_id: claims.apiKeyId }),
      ...(claims.mintedBy === undefined ? {} : { minted_by: claims.mintedBy }),
    })
      .setProtectedHeader({ alg: algorithm, typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuedAt(now)
      .setExpirationTime(exp);
    if (settings.issuer !== undefined) jwt = jwt.setIssuer(settings.issuer);
    if (settings.audience !== undefined) jwt = jwt.setAudience(settings.audience);
    return { token: await jwt.sign(key), expiresAt: new Date(exp * 1000) };
  };
}
