// The application: plugins and routes, never listening (server.ts listens; tests inject).
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import cors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';
import { serializeError } from './lib/log-errors.ts';
import authPlugin from './plugins/auth.ts';
import errorsPlugin, { frameworkErrors } from './plugins/errors.ts';
import metricsPlugin from './plugins/metrics.ts';
import servicesPlugin from './plugins/services.ts';
import healthRoutes from './routes/health.ts';
import knowledgeBaseRoutes from './routes/knowledge-bases.ts';
import meRoutes from './routes/me.ts';
import openAiRoutes from './routes/openai.ts';
import sessionRoutes from './routes/sessions.ts';
import tenantRoutes from './routes/tenants.ts';
import tokenRoutes from './routes/tokens.ts';
import usageRoutes from './routes/usage.ts';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** A UUID in its canonical form: what every id of the API is (ajv's `uuid` also takes urn:uuid:). */
export const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const URN_UUID = /^urn:uuid:/i;

export function loggerOptions(config: Config): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.apiKey',
        '*.password',
        '*.token',
        '*.key',
        '*.content',
      ],
      censor: '[redacted]',
    },
    // Without the values of failed queries (log-errors.ts).
    serializers: { err: serializeError },
  };
}

export interface BuildOptions {
  logger?: FastifyServerOptions['logger'];
}

export async function buildApp(config: Config, options: BuildOptions = {}) {
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config),
    // One line per request, when it completes (see the onResponse hook below), instead of
    // Fastify's two ("incoming request" and "request completed").
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // nginx in front, on the stack's private network.
    trustProxy: ['loopback', 'linklocal', 'uniquelocal'],
    forceCloseConnections: 'idle',
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false },
      // `format: uuid` means the canonical form only.
      onCreate: (ajv) => void ajv.addFormat('uuid', CANONICAL_UUID),
    },
    // Malformed URLs and over-long path parameters, answered in API.md's shape.
    frameworkErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // A body is JSON (or, where a route says so, multipart): Fastify's text/plain parser would
  // hand a string to routes that expect an object, refused as 400 instead of 415.
  app.removeContentTypeParser('text/plain');

  await app.register(errorsPlugin, { spaIndex: config.webRoot !== undefined });

  // A connection that never sent a request (a TCP health probe, a client's speculative
  // connection) is not idle to Node: server.close() would wait for it until headersTimeout,
  // past SHUTDOWN_GRACE_MS. Idle keep-alive connections go through forceCloseConnections.
  const connections = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  app.addHook('preClose', (done) => {
    for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
    done();
  });

  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        // The path only: a query string may carry a cursor or other client values.
        req: { method: request.method, url: request.url.split('?')[0] },
        res: { statusCode: reply.statusCode },
        responseTime: reply.elapsedTime,
      },
      'request completed',
    );
    done();
  });

  // A POST without any body (no content type, nothing sent) is an empty object: `{title?}`
  // and `{name?}` bodies may be left out entirely.
  app.addHook('preValidation', (request, _reply, done) => {
    // An id in another form of a UUID (urn:uuid:...) names nothing: 404, before validation
    // would call it malformed (in a body or query it is 400: the uuid format is canonical).
    const params = (request.params ?? {}) as Record<string, unknown>;
    if (Object.values(params).some((value) => typeof value === 'string' && URN_UUID.test(value))) {
      done(new AppError('not_found', 'not found: an id is a UUID in its canonical form'));
      return;
    }
    if (request.body === undefined && request.method !== 'GET' && request.method !== 'DELETE') {
      request.body = {};
    }
    done();
  });

  if (config.allowedHosts.length > 0) {
    const allowed = new Set(config.allowedHosts);
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0];
      if (path === '/health' || path === '/health/live' || path === '/metrics') return;
      const host = (request.headers.host ?? '').toLowerCase();
      const hostname = host.replace(/:\d+$/, '');
      if (!allowed.has(host) && !allowed.has(hostname)) {
        throw new AppError('invalid_request', `Host "${host}" is not served here`);
      }
    });
  }

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      methods: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-request-id'],
      exposedHeaders: [
        'retry-after',
        'x-request-id',
        'x-ratelimit-limit-requests',
        'x-ratelimit-remaining-requests',
        'x-ratelimit-limit-tokens',
        'x-ratelimit-remaining-tokens',
      ],
      maxAge: 600,
    });
  }

  await app.register(metricsPlugin);
  await app.register(servicesPlugin, { config });
  await app.register(healthRoutes, { version: config.appVersion });
  await app.register(
    async (v1) => {
      await v1.register(authPlugin);
      await v1.register(meRoutes);
      await v1.register(tenantRoutes);
      await v1.register(tokenRoutes);
      await v1.register(sessionRoutes);
      await v1.register(usageRoutes);
      await v1.register(openAiRoutes);
      await v1.register(knowledgeBaseRoutes);
    },
    { prefix: '/v1' },
  );

  if (config.webRoot !== undefined) {
    await app.register(fastifyStatic, { root: config.webRoot, wildcard: false, index: ['index.html'] });
  }

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
