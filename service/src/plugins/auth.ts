// Authentication for /v1: a JWT (asymmetric only), a tenant API key, or DISABLE_AUTH's
// development identity. Sets request.principal and adds tenantId/userId to the log.
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, tenantGone } from '../errors.ts';
import type { Principal } from '../lib/access.ts';
import { TokenError } from '../lib/jwt.ts';
import { API_KEY_PREFIX } from '../repositories/api-keys.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

const DEV_TENANT_SLUG = 'default';

async function authPlugin(app: FastifyInstance) {
  const { services } = app;
  let devTenant: Promise<string> | undefined;

  /** The `default` tenant DISABLE_AUTH acts in, created when missing. */
  function ensureDevTenant(): Promise<string> {
    devTenant ??= (async () => {
      const existing = await services.tenants.getBySlug(DEV_TENANT_SLUG);
      if (existing !== undefined) return existing.id;
      try {
        return (await services.tenants.create({ name: 'Default', slug: DEV_TENANT_SLUG, settings: {} })).id;
      } catch (error) {
        if (error instanceof AppError && error.code === 'conflict') {
          return (await services.tenants.getBySlug(DEV_TENANT_SLUG))!.id;
        }
        throw error;
      }
    })().catch((error: unknown) => {
      devTenant = undefined;
      throw error;
    });
    return devTenant;
  }

  if (services.config.disableAuth) {
    app.addHook('onReady', async () => {
      await ensureDevTenant().catch((error: unknown) =>
        app.log.warn(
          { err: error },
          'could not create the default tenant yet; retrying on the first request',
        ),
      );
    });
  }

  async function authenticate(request: FastifyRequest): Promise<Principal> {
    if (services.config.disableAuth) {
      return { sub: 'dev', role: 'tenant_admin', tenantId: await ensureDevTenant(), via: 'dev' };
    }
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match === null) throw new AppError('unauthorized', 'an Authorization: Bearer credential is required');
    const credential = match[1]!;

    if (credential.startsWith(API_KEY_PREFIX)) {
      const found = await services.apiKeys.authenticate(credential);
      if (found === undefined) throw new AppError('unauthorized', 'the API key is not valid');
      return {
        sub: `key:${found.keyId}`,
        role: 'tenant_admin',
        tenantId: found.tenantId,
        via: 'api_key',
        apiKeyId: found.keyId,
      };
    }
    if (services.verifyToken === undefined) {
      throw new AppError('unauthorized', 'JWT authentication is not configured on this server');
    }
    let claims;
    try {
      claims = await services.verifyToken(credential);
    } catch (error) {
      if (error instanceof TokenError) throw new AppError('unauthorized', error.message);
      throw error;
    }
    // A token minted through an API key dies with the key (REVOCATION_CHECK_SECONDS).
    if (
      claims.apiKeyId !== undefined &&
      claims.tenantId !== null &&
      !(await services.apiKeys.isLive({ tenantId: claims.tenantId, id: claims.apiKeyId }))
    ) {
      throw new AppError('unauthorized', 'the API key this token was minted through has been revoked');
    }
    return { ...claims, via: 'jwt' };
  }

  /** A credential of a deleted tenant is refused on every endpoint. */
  async function checkTenant(principal: Principal): Promise<void> {
    if (principal.tenantId === null || principal.via === 'dev') return;
    // This process's copy when it has one (no round trip); a deletion through this process
    // drops it at once, and the turn's limiter check or the database catch the others.
    if ((await services.tenants.getForTurn(principal.tenantId)) === undefined) {
      throw tenantGone();
    }
  }

  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request, reply) => {
    request.principal = await authenticate(request);
    await checkTenant(request.principal);
    const bindings = { tenantId: request.principal.tenantId ?? undefined, userId: request.principal.sub };
    // The request's own logger (a pino child per request) takes the bindings in place,
    // cheaper than a child of the child; another logger gets a child.
    const log = request.log as FastifyBaseLogger & { setBindings?: (bindings: object) => void };
    if (typeof log.setBindings === 'function') {
      log.setBindings(bindings);
    } else {
      request.log = log.child(bindings);
      reply.log = request.log;
    }
  });
}

export default fp(authPlugin, { name: 'auth', dependencies: ['services'] });
