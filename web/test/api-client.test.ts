import { describe, expect, it, vi } from 'vitest';
import { ApiError, createApiClient, parseRetryAfter } from '@chatbot/api-client';
import { describeError } from '../src/api/errors.ts';
import { apiError, installFakeApi, json, sseStream } from './support/fake-api.ts';
import { message } from './support/fixtures.ts';

describe('API client', () => {
  it('sends a message as a stream and hands over the stored message, the pieces and the reply', async () => {
    const user = message('user', 'Hi');
    const reply = message('assistant', 'Hello there', { usage: { promptTokens: 3, completionTokens: 2 } });
    const fake = installFakeApi({
      'POST /v1/sessions/:id/messages': () => {
        const stream = sseStream();
        // two events in one chunk, then one event split over two chunks
        stream.raw(
          `event: message\ndata: ${JSON.stringify(user)}\n\nevent: delta\ndata: {"content":"Hello"}\n\nevent: del`,
        );
        stream.raw(`ta\ndata: {"content":" there"}\n\n`);
        stream.send('done', reply);
        stream.close();
        return stream.response;
      },
    });
    const api = createApiClient({ getToken: () => 'tok' });
    const onMessage = vi.fn();
    const pieces: string[] = [];
    const result = await api.sendMessage('s 1', 'Hi', {
      idempotencyKey: 'key-1',
      onMessage,
      onDelta: (piece) => pieces.push(piece),
    });
    expect(result).toEqual(reply);
    expect(onMessage).toHaveBeenCalledWith(user);
    expect(pieces).toEqual(['Hello', ' there']);
    const [call] = fake.calls;
    expect(call?.path).toBe('/v1/sessions/s%201/messages');
    expect(call?.body).toEqual({ content: 'Hi', stream: true });
    expect(call?.headers.get('Authorization')).toBe('Bearer tok');
    expect(call?.headers.get('Idempotency-Key')).toBe('key-1');
    expect(call?.headers.get('Accept')).toBe('text/event-stream');
  });

  it('rejects with the code and message of an error event', async () => {
    installFakeApi({
      'POST /v1/sessions/:id/messages': () => {
        const stream = sseStream();
        stream.send('delta', { content: 'Par' });
        stream.send('error', { code: 'upstream_error', message: 'provider said 500' });
        stream.close();
        return stream.response;
      },
    });
    const api = createApiClient({ getToken: () => null });
    const error = await api.sendMessage('s1', 'Hi').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'upstream_error', message: 'provider said 500', status: 200 });
  });

  it('rejects with stream_interrupted when the stream ends without done', async () => {
    installFakeApi({
      'POST /v1/sessions/:id/messages': () => {
        const stream = sseStream();
        stream.send('delta', { content: 'Par' });
        stream.close();
        return stream.response;
      },
    });
    const api = createApiClient({ getToken: () => null });
    await expect(api.sendMessage('s1', 'Hi')).rejects.toMatchObject({ code: 'stream_interrupted' });
  });

  it('turns a 429 into rate_limited with the Retry-After seconds', async () => {
    installFakeApi({
      'POST /v1/sessions/:id/messages': () =>
        apiError(429, 'rate_limited', 'tenant request budget spent', { 'Retry-After': '7' }),
    });
    const api = createApiClient({ getToken: () => null });
    await expect(api.sendMessage('s1', 'Hi')).rejects.toMatchObject({
      status: 429,
      code: 'rate_limited',
      retryAfterSeconds: 7,
    });
  });

  it('reports a 401 to onUnauthorized, except for an explicit sign-in check', async () => {
    installFakeApi({ 'GET /v1/me': () => apiError(401, 'unauthorized', 'token expired') });
    const onUnauthorized = vi.fn();
    const api = createApiClient({ getToken: () => 'old', onUnauthorized });
    await expect(api.me({ reportUnauthorized: false })).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).not.toHaveBeenCalled();
    await expect(api.me()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('sends no Authorization header without a token', async () => {
    const fake = installFakeApi({
      'GET /v1/me': () => json(200, { sub: 'dev', role: 'tenant_admin', tenant: null }),
    });
    await createApiClient({ getToken: () => null }).me();
    expect(fake.calls[0]?.headers.has('Authorization')).toBe(false);
  });

  it('follows nextCursor to read a whole history', async () => {
    const first = message('user', 'one');
    const second = message('assistant', 'two');
    const fake = installFakeApi({
      'GET /v1/sessions/:id/messages': (call) =>
        call.search.get('cursor') === null
          ? json(200, { items: [first], nextCursor: 'c2' })
          : json(200, { items: [second], nextCursor: null }),
    });
    const all = await createApiClient({ getToken: () => null }).listAllMessages('s1');
    expect(all).toEqual([first, second]);
    expect(fake.calls.map((c) => c.search.toString())).toEqual(['limit=100', 'limit=100&cursor=c2']);
  });

  it('maps an unreachable service and a non-JSON error page to codes', async () => {
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('Failed to fetch')));
    const api = createApiClient({ getToken: () => null });
    await expect(api.me()).rejects.toMatchObject({ status: 0, code: 'network_error' });
    vi.stubGlobal(
      'fetch',
      vi.fn().mockResolvedValue(new Response('<html>Bad gateway</html>', { status: 502 })),
    );
    await expect(api.me()).rejects.toMatchObject({ status: 502, code: 'upstream_error' });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('30')).toBe(30);
    expect(
      parseRetryAfter(new Date(Date.UTC(2025, 0, 1, 0, 0, 45)).toUTCString(), Date.UTC(2025, 0, 1)),
    ).toBe(45);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });
});

describe('error messages', () => {
  it('says in words what each code of the API means', () => {
    const error = (code: string, message = 'x') => new ApiError({ status: 400, code, message });
    expect(describeError(error('upstream_timeout'))).toBe('The model provider did not answer in time.');
    expect(describeError(error('unavailable'))).toMatch(/temporarily unavailable/);
    expect(describeError(error('invalid_request', 'model is not allowed'))).toBe(
      'The request was not accepted. model is not allowed.',
    );
    expect(describeError(error('not_configured', 'FERNET_KEY is not set.'))).toBe(
      'The service is not set up for this yet. FERNET_KEY is not set.',
    );
    expect(describeError(error('something_new', 'A new kind of failure'))).toBe('A new kind of failure');
  });
});
