// The one error type the service throws, with a code of API.md's closed set (@chatbot/api-types).
import { ERROR_STATUS, type ErrorCode } from '@chatbot/api-types/errors';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly headers: Record<string, string> | undefined;
  /** For the OpenAI-compatible endpoints: the request field at fault. */
  readonly param: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string>; param?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.statusCode = ERROR_STATUS[code];
    this.headers = options.headers;
    this.param = options.param;
  }
}

export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found`);
export const forbidden = (message: string): AppError => new AppError('forbidden', message);
/** A credential of a tenant that no longer exists (deleted meanwhile): 401 on every endpoint. */
export const tenantGone = (cause?: unknown): AppError =>
  new AppError(
    'unauthorized',
    'the tenant of this credential no longer exists',
    cause === undefined ? {} : { cause },
  );
export const invalid = (message: string, param?: string): AppError =>
  new AppError('invalid_request', message, param === undefined ? {} : { param });
