// Readable messages for the error codes of API.md and the client's own.
import type { ErrorCode } from '@chatbot/api-types/errors';
import { ApiError, type ClientErrorCode } from '@chatbot/api-client';

const READABLE: Record<ErrorCode | ClientErrorCode, string> = {
  invalid_request: 'The request was not accepted.',
  unauthorized: 'You are not signed in, or your sign-in has expired.',
  forbidden: 'Your role may not do this.',
  not_found: 'Not found: it may have been deleted.',
  conflict: 'This conflicts with something that already exists.',
  payload_too_large: 'That is too large to send.',
  unsupported_media_type: 'The service could not read the request.',
  rate_limited: 'Too many requests: the limit for now is reached.',
  upstream_error: 'The model provider failed to answer.',
  unavailable: 'The service is temporarily unavailable. Try again in a moment.',
  not_configured: 'The service is not set up for this yet.',
  upstream_timeout: 'The model provider did not answer in time.',
  internal: 'Something went wrong in the service.',
  network_error: 'The chat service could not be reached. Check your connection.',
  stream_interrupted: 'The connection closed before the reply was complete.',
  bad_response: 'The service sent an answer this page could not read.',
};

/** Codes whose server message adds something the user can act on. */
const SHOW_DETAIL = new Set<string>([
  'invalid_request',
  'conflict',
  'not_configured',
  'forbidden',
  'payload_too_large',
  'unsupported_media_type',
]);

export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const readable = READABLE[error.code as ErrorCode | ClientErrorCode] as string | undefined;
    if (readable === undefined) return error.message || 'Something went wrong.';
    if (SHOW_DETAIL.has(error.code) && error.message && !error.message.startsWith('HTTP ')) {
      return `${readable} ${error.message.endsWith('.') ? error.message : `${error.message}.`}`;
    }
    return readable;
  }
  return 'Something went wrong.';
}
