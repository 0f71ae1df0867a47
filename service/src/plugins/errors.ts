// One error handler: every failure leaves as {"error": {"code", "message"}} with a code of
// API.md's closed set. 5xx details stay in the log.
import { ERROR_STATUS, type ErrorCode } from '@chatbot/api-types/errors';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isDatabaseUnavailable } from '../db/client.ts';
import { AppError } from '../errors.ts';

/** How an error is shown to clients; the OpenAI-compatible routes decorate it further. */
export type ErrorPresenter = (reply: FastifyReply, error: AppError) => unknown;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Renders errors for this route (the OpenAI-compatible endpoints add type and param). */
    presentError?: ErrorPresenter;
  }
}

export function toAppError(error: FastifyError | Error): AppError {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) {
    return new AppError('unavailable', 'the database is unreachable', { cause: error });
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) {
    return new AppError('invalid_request', fastifyError.message, { cause: error });
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code: ErrorCode =
      status === 413
        ? 'payload_too_large'
        : status === 415
          ? 'unsupported_media_type'
          : status === 404
            ? 'not_found'
            : status === 401
              ? 'unauthorized'
              : 'invalid_request';
    return new AppError(code, fastifyError.message, { cause: error });
  }
  return new AppError('internal', 'internal error', { cause: error });
}

export const defaultPresenter: ErrorPresenter = (_reply, error) => ({
  error: { code: error.code, message: error.message },
});

/**
 * What Fastify meets before any route (its `frameworkErrors` option), in API.md's shape: a
 * malformed URL component is 400; a path parameter longer than the router takes (longer than
 * any id) names nothing, 404 (Fastify's own answer was 414 in a shape of its own).
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const appError =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new AppError('not_found', 'no such thing: a part of the path is longer than any id', { cause: error })
      : error.code === 'FST_ERR_BAD_URL'
        ? new AppError('invalid_request', 'the URL is malformed', { cause: error })
        : toAppError(error);
  if (appError.statusCode >= 500) request.log.error({ err: error, code: appError.code }, 'request failed');
  else request.log.info({ code: appError.code, reason: appError.message }, 'request refused');
  return reply
    .code(ERROR_STATUS[appError.code])
    .type('application/json')
    .send(defaultPresenter(reply, appError));
}

async function errorsPlugin(app: FastifyInstance, options: { spaIndex?: boolean }) {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    if (appError.statusCode >= 500) {
      request.log.error({ err: error, code: appError.code }, 'request failed');
    } else {
      request.log.info({ code: appError.code, reason: appError.message }, 'request refused');
    }
    if (appError.headers !== undefined) reply.headers(appError.headers);
    const present = request.routeOptions.config?.presentError ?? defaultPresenter;
    return reply.code(ERROR_STATUS[appError.code]).type('application/json').send(present(reply, appError));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    // With WEB_ROOT, page URLs of the single-page app fall back to its index.html.
    if (
      options.spaIndex === true &&
      (request.method === 'GET' || request.method === 'HEAD') &&
      !path.startsWith('/v1/') &&
      !path.startsWith('/health') &&
      (request.headers.accept ?? '').includes('text/html')
    ) {
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    }
    return reply
      .code(404)
      .send({ error: { code: 'not_found', message: `no route ${request.method} ${path}` } });
  });
}

export default fp(errorsPlugin, { name: 'errors' });
