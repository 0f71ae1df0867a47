// How errors reach the logs: pino's serializer, after the values a query carried are taken out.
// drizzle's DrizzleQueryError writes its parameters into its message (and keeps them in
// `params`); Postgres puts values into `detail` (`Key (slug)=(acme) already exists.`) and,
// for invalid input, into the message itself. Those values are message contents, titles,
// the encrypted provider key, a client's cursor: none of them may be logged at any level.
import { stdSerializers, type SerializedError } from 'pino';

/** Properties that hold a query's values. */
const VALUE_KEYS = new Set(['params', 'parameters', 'args', 'detail']);

function isPostgresError(error: Error): boolean {
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/** The message without the values it quotes. */
function redactedMessage(error: Error): string {
  const { query } = error as { query?: unknown };
  if (error.name === 'DrizzleQueryError' || (typeof query === 'string' && 'params' in error)) {
    return typeof query === 'string' ? `Failed query: ${query}` : 'Failed query';
  }
  if (isPostgresError(error)) {
    // Data exceptions (class 22: invalid input syntax, out of range...) quote the value.
    const { code } = error as unknown as { code: string };
    if (code.startsWith('22')) return error.message.replace(/"(?:[^"\\]|\\.)*"/g, '"[redacted]"');
  }
  return error.message;
}

/** A copy of an error (and its causes) without query values, for the logs only. */
export function redactError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error) || depth > 8) return error;
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Record<string, unknown>;
  for (const key of Object.keys(error)) {
    if (key === 'cause' || VALUE_KEYS.has(key)) continue;
    copy[key] = (error as unknown as Record<string, unknown>)[key];
  }
  const message = redactedMessage(error);
  const stack =
    typeof error.stack === 'string' ? error.stack.replace(error.message, () => message) : undefined;
  const hidden = (value: unknown) => ({ value, writable: true, configurable: true, enumerable: false });
  Object.defineProperties(copy, {
    name: hidden(error.name),
    message: hidden(message),
    stack: hidden(stack),
    ...(error.cause === undefined ? {} : { cause: hidden(redactError(error.cause, depth + 1)) }),
  });
  if (Array.isArray((error as { errors?: unknown }).errors)) {
    copy.errors = (error as unknown as { errors: unknown[] }).errors.map((e) => redactError(e, depth + 1));
  }
  return copy;
}

/** pino's `err` serializer, on the redacted copy. */
export function serializeError(error: Error): SerializedError {
  return stdSerializers.err(redactError(error) as Error);
}
