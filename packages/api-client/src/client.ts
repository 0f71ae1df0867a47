// The chat API client (the page's origin or `baseUrl`, `/v1`), typed from API.md: the web
// UI's, and in Node (tests, benchmarks) the same but for the upload, which uses the browser's
// XMLHttpRequest for its progress events.
import { ERROR_STATUS, type ErrorCode } from '@chatbot/api-types/errors';
import type {
  ApiKey,
  Chunk,
  CreateApiKeyBody,
  CreatedApiKey,
  CreateKnowledgeBaseBody,
  CreateSessionBody,
  ErrorBody,
  KbDocument,
  KnowledgeBase,
  Me,
  Message,
  Page,
  PatchTenantBody,
  ReindexBody,
  SearchResult,
  SendMessageBody,
  Session,
  Source,
  Tenant,
  UsageReport,
} from '@chatbot/api-types';
import { readSseEvents } from './sse.ts';

/**
 * The browser's XMLHttpRequest as far as uploadDocument uses it: declared here, not taken from
 * the DOM's types, so that the client type-checks in Node programs too (where it is absent).
 */
declare const XMLHttpRequest: new () => {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  upload: {
    onprogress: ((event: { lengthComputable: boolean; loaded: number; total: number }) => void) | null;
  };
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  onload: (() => void) | null;
  readonly status: number;
  readonly responseText: string;
  getResponseHeader(name: string): string | null;
  abort(): void;
  send(body: FormData): void;
};

/** The codes this client gives failures the service did not describe. */
export type ClientErrorCode = 'network_error' | 'stream_interrupted' | 'bad_response';

export class ApiError extends Error {
  /** HTTP status; 0 when no answer arrived; 200 for an `error` event inside a stream. */
  readonly status: number;
  readonly code: string;
  /** From `Retry-After` on a 429, in seconds. */
  readonly retryAfterSeconds: number | null;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    retryAfterSeconds?: number | null;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.retryAfterSeconds = init.retryAfterSeconds ?? null;
  }
}

export function isAbortError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    'name' in error &&
    (error as { name: unknown }).name === 'AbortError'
  );
}

/** `Retry-After` is seconds or an HTTP date; answers whole seconds from `now`, or null. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** An answer without an error body: the code of API.md its status stands for (the first one). */
const STATUS_CODES = new Map<number, ErrorCode>();
for (const [code, status] of Object.entries(ERROR_STATUS) as [ErrorCode, number][]) {
  if (!STATUS_CODES.has(status)) STATUS_CODES.set(status, code);
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const error = (value as { error: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's HTML page, say): fall back to the status
  }
  const retryAfterSeconds = parseRetryAfter(response.headers.get('Retry-After'));
  if (isErrorBody(body)) {
    return new ApiError({
      status: response.status,
      code: body.error.code,
      message: body.error.message,
      retryAfterSeconds,
    });
  }
  return new ApiError({
    status: response.status,
    code: STATUS_CODES.get(response.status) ?? (response.status >= 500 ? 'internal' : 'invalid_request'),
    message: `HTTP ${response.status}`,
    retryAfterSeconds,
  });
}

export interface ApiClientOptions {
  /** The bearer credential to send, or null (the service may run with DISABLE_AUTH). */
  getToken: () => string | null;
  /** Called when any request (other than an explicit sign-in check) answers 401. */
  onUnauthorized?: (error: ApiError) => void;
  /** Defaults to the global `fetch`, looked up at call time. */
  fetch?: typeof fetch;
  /** Defaults to the page's own origin. */
  baseUrl?: string;
}

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** Overrides `getToken` (undefined: use it; null: send none). */
  token?: string | null;
  /** When false, a 401 is only thrown, without calling `onUnauthorized`. */
  reportUnauthorized?: boolean;
}

export interface StreamHandlers {
  /** The stored user message (`event: message`). */
  onMessage?: (message: Message) => void;
  /** The next piece of the reply (`event: delta`). */
  onDelta?: (content: string) => void;
  /** The knowledge-base passages the reply is given (`event: sources`, before the first delta). */
  onSources?: (sources: Source[]) => void;
}

export interface SendOptions extends StreamHandlers {
  signal?: AbortSignal;
  idempotencyKey?: string;
  model?: string;
}

function parseJson<T>(data: string, what: string): T {
  try {
    return JSON.parse(data) as T;
  } catch (cause) {
    throw new ApiError({
      status: 200,
      code: 'bad_response',
      message: `The service sent an unreadable ${what}.`,
      cause,
    });
  }
}

export function createApiClient(options: ApiClientOptions) {
  const baseUrl = options.baseUrl ?? '';
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  async function send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
    const token = opts.token === undefined ? options.getToken() : opts.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let url = `${baseUrl}${path}`;
    if (opts.query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(opts.query)) {
        if (value !== undefined && value !== null) params.set(key, String(value));
      }
      const search = params.toString();
      if (search) url += `?${search}`;
    }
    let response: Response;
    try {
      response = await doFetch(url, {
        method,
        headers,
        body,
        signal: opts.signal,
        credentials: 'same-origin',
      });
    } catch (cause) {
      if (isAbortError(cause)) throw cause;
      throw new ApiError({
        status: 0,
        code: 'network_error',
        message: 'The chat service could not be reached.',
        cause,
      });
    }
    if (!response.ok) {
      const error = await errorFromResponse(response);
      if (response.status === 401 && opts.reportUnauthorized !== false) options.onUnauthorized?.(error);
      throw error;
    }
    return response;
  }

  async function json<T>(method: string, path: string, opts?: RequestOptions): Promise<T> {
    const response = await send(method, path, opts);
    try {
      return (await response.json()) as T;
    } catch (cause) {
      if (isAbortError(cause)) throw cause;
      throw new ApiError({
        status: response.status,
        code: 'bad_response',
        message: 'The service sent an unreadable answer.',
        cause,
      });
    }
  }

  async function empty(method: string, path: string, opts?: RequestOptions): Promise<void> {
    const response = await send(method, path, opts);
    await response.body?.cancel();
  }

  const id = encodeURIComponent;

  return {
    /**
     * A JSON call of API.md this client has no method for (tests and benchmarks create
     * tenants, say): resolves with the answer's body, throws an ApiError for anything but 2xx.
     */
    request<T = unknown>(
      method: string,
      path: string,
      opts: { body?: unknown; token?: string | null; signal?: AbortSignal } = {},
    ): Promise<T> {
      return json<T>(method, path, opts);
    },

    /** Who is signed in. Pass `token` to check a credential before keeping it. */
    me(
      opts: { token?: string | null; signal?: AbortSignal; reportUnauthorized?: boolean } = {},
    ): Promise<Me> {
      return json<Me>('GET', '/v1/me', opts);
    },

    listSessions(
      opts: { cursor?: string | null; limit?: number; signal?: AbortSignal } = {},
    ): Promise<Page<Session>> {
      return json('GET', '/v1/sessions', {
        query: { limit: opts.limit ?? 20, cursor: opts.cursor },
        signal: opts.signal,
      });
    },

    createSession(body: CreateSessionBody, opts: { signal?: AbortSignal } = {}): Promise<Session> {
      return json('POST', '/v1/sessions', { body, signal: opts.signal });
    },

    deleteSession(sessionId: string): Promise<void> {
      return empty('DELETE', `/v1/sessions/${id(sessionId)}`);
    },

    /** Every message of a session, oldest first (follows `nextCursor`). */
    async listAllMessages(sessionId: string, opts: { signal?: AbortSignal } = {}): Promise<Message[]> {
      const all: Message[] = [];
      let cursor: string | null = null;
      do {
        const page: Page<Message> = await json('GET', `/v1/sessions/${id(sessionId)}/messages`, {
          query: { limit: 100, cursor },
          signal: opts.signal,
        });
        all.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null);
      return all;
    },

    /**
     * Sends a message and reads the reply as server-sent events. Resolves with the stored
     * assistant message (`done`); rejects with an ApiError for HTTP refusals and `error`
     * events, or with the AbortError when `signal` aborts.
     */
    async sendMessage(sessionId: string, content: string, opts: SendOptions = {}): Promise<Message> {
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
      const body: SendMessageBody = { content, stream: true };
      if (opts.model) body.model = opts.model;
      const response = await send('POST', `/v1/sessions/${id(sessionId)}/messages`, {
        body,
        headers,
        signal: opts.signal,
      });

      const type = response.headers.get('Content-Type') ?? '';
      if (!type.includes('text/event-stream')) {
        // A replayed idempotent request may answer with the stored turn as JSON.
        const turn = parseJson<{ message: Message; reply: Message }>(await response.text(), 'answer');
        opts.onMessage?.(turn.message);
        if (turn.reply.sources !== undefined) opts.onSources?.(turn.reply.sources);
        if (turn.reply.status === 'failed') {
          throw new ApiError({ status: 200, code: 'upstream_error', message: 'The reply failed.' });
        }
        return turn.reply;
      }
      if (!response.body) {
        throw new ApiError({ status: 200, code: 'bad_response', message: 'The reply stream had no body.' });
      }

      for await (const event of readSseEvents(response.body)) {
        switch (event.event) {
          case 'message':
            opts.onMessage?.(parseJson<Message>(event.data, 'message'));
            break;
          case 'sources': {
            const found = parseJson<{ sources?: unknown }>(event.data, 'sources');
            if (Array.isArray(found.sources)) opts.onSources?.(found.sources as Source[]);
            break;
          }
          case 'delta': {
            const delta = parseJson<{ content?: unknown }>(event.data, 'reply piece');
            if (typeof delta.content === 'string' && delta.content !== '') opts.onDelta?.(delta.content);
            break;
          }
          case 'done':
            return parseJson<Message>(event.data, 'reply');
          case 'error': {
            const error = parseJson<{ code?: unknown; message?: unknown }>(event.data, 'error');
            throw new ApiError({
              status: 200,
              code: typeof error.code === 'string' ? error.code : 'upstream_error',
              message: typeof error.message === 'string' ? error.message : 'The reply failed.',
            });
          }
          default:
            break; // events this client does not know are ignored
        }
      }
      if (opts.signal?.aborted) throw new DOMException('The reply was stopped.', 'AbortError');
      throw new ApiError({
        status: 200,
        code: 'stream_interrupted',
        message: 'The connection closed before the reply was complete.',
      });
    },

    getTenant(tenantId: string): Promise<Tenant> {
      return json('GET', `/v1/tenants/${id(tenantId)}`);
    },

    updateTenant(tenantId: string, body: PatchTenantBody): Promise<Tenant> {
      return json('PATCH', `/v1/tenants/${id(tenantId)}`, { body });
    },

    setProviderKey(tenantId: string, apiKey: string): Promise<void> {
      return empty('PUT', `/v1/tenants/${id(tenantId)}/provider-key`, { body: { apiKey } });
    },

    deleteProviderKey(tenantId: string): Promise<void> {
      return empty('DELETE', `/v1/tenants/${id(tenantId)}/provider-key`);
    },

    listApiKeys(
      tenantId: string,
      opts: { cursor?: string | null; limit?: number } = {},
    ): Promise<Page<ApiKey>> {
      return json('GET', `/v1/tenants/${id(tenantId)}/api-keys`, {
        query: { limit: opts.limit ?? 20, cursor: opts.cursor },
      });
    },

    createApiKey(tenantId: string, body: CreateApiKeyBody): Promise<CreatedApiKey> {
      return json('POST', `/v1/tenants/${id(tenantId)}/api-keys`, { body });
    },

    revokeApiKey(tenantId: string, keyId: string): Promise<void> {
      return empty('DELETE', `/v1/tenants/${id(tenantId)}/api-keys/${id(keyId)}`);
    },

    usage(range: { from?: string; to?: string } = {}): Promise<UsageReport> {
      return json('GET', '/v1/usage', { query: range });
    },

    listKnowledgeBases(
      opts: { cursor?: string | null; signal?: AbortSignal } = {},
    ): Promise<Page<KnowledgeBase>> {
      return json('GET', '/v1/knowledge-bases', {
        query: { limit: 100, cursor: opts.cursor },
        signal: opts.signal,
      });
    },

    getKnowledgeBase(baseId: string, opts: { signal?: AbortSignal } = {}): Promise<KnowledgeBase> {
      return json('GET', `/v1/knowledge-bases/${id(baseId)}`, opts);
    },

    createKnowledgeBase(body: CreateKnowledgeBaseBody): Promise<KnowledgeBase> {
      return json('POST', '/v1/knowledge-bases', { body });
    },

    deleteKnowledgeBase(baseId: string): Promise<void> {
      return empty('DELETE', `/v1/knowledge-bases/${id(baseId)}`);
    },

    reindexKnowledgeBase(baseId: string, body: ReindexBody = {}): Promise<KnowledgeBase> {
      return json('POST', `/v1/knowledge-bases/${id(baseId)}/reindex`, { body });
    },

    listDocuments(
      baseId: string,
      opts: { cursor?: string | null; signal?: AbortSignal } = {},
    ): Promise<Page<KbDocument>> {
      return json('GET', `/v1/knowledge-bases/${id(baseId)}/documents`, {
        query: { limit: 100, cursor: opts.cursor },
        signal: opts.signal,
      });
    },

    deleteDocument(baseId: string, documentId: string): Promise<void> {
      return empty('DELETE', `/v1/knowledge-bases/${id(baseId)}/documents/${id(documentId)}`);
    },

    retryDocument(baseId: string, documentId: string): Promise<KbDocument> {
      return json('POST', `/v1/knowledge-bases/${id(baseId)}/documents/${id(documentId)}/retry`);
    },

    listChunks(
      baseId: string,
      documentId: string,
      opts: { cursor?: string | null; signal?: AbortSignal } = {},
    ): Promise<Page<Chunk>> {
      return json('GET', `/v1/knowledge-bases/${id(baseId)}/documents/${id(documentId)}/chunks`, {
        query: { limit: 100, cursor: opts.cursor },
        signal: opts.signal,
      });
    },

    searchKnowledgeBase(baseId: string, query: string, k = 5): Promise<SearchResult> {
      return json('POST', `/v1/knowledge-bases/${id(baseId)}/search`, { body: { query, k } });
    },

    /**
     * Uploads a document (multipart/form-data) with XMLHttpRequest, whose upload events give
     * the progress (`onProgress` with the fraction sent, 0..1); resolves with the queued Document.
     */
    uploadDocument(
      baseId: string,
      file: File,
      opts: { onProgress?: (fraction: number) => void; signal?: AbortSignal } = {},
    ): Promise<KbDocument> {
      return new Promise((resolve, reject) => {
        const request = new XMLHttpRequest();
        request.open('POST', `${baseUrl}/v1/knowledge-bases/${id(baseId)}/documents`);
        request.setRequestHeader('Accept', 'application/json');
        const token = options.getToken();
        if (token) request.setRequestHeader('Authorization', `Bearer ${token}`);
        request.upload.onprogress = (event) => {
          if (event.lengthComputable && event.total > 0) opts.onProgress?.(event.loaded / event.total);
        };
        request.onerror = () =>
          reject(
            new ApiError({
              status: 0,
              code: 'network_error',
              message: 'The chat service could not be reached.',
            }),
          );
        request.onabort = () => reject(new DOMException('The upload was stopped.', 'AbortError'));
        request.onload = () => {
          const response = new Response(request.responseText === '' ? null : request.responseText, {
            status: request.status,
            headers: { 'Content-Type': request.getResponseHeader('Content-Type') ?? 'application/json' },
          });
          if (response.ok) {
            response.json().then((body) => resolve(body as KbDocument), reject);
            return;
          }
          void errorFromResponse(response).then((error) => {
            if (error.status === 401) options.onUnauthorized?.(error);
            reject(error);
          });
        };
        opts.signal?.addEventListener('abort', () => request.abort(), { once: true });
        const form = new FormData();
        form.append('file', file, file.name);
        request.send(form);
      });
    },
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
