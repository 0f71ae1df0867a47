// The OpenAI-compatible endpoints, called with the official `openai` client.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/harness.ts';

let svc: TestService;
let t: Awaited<ReturnType<TestService['createTenant']>>;
let client: OpenAI;

beforeAll(async () => {
  svc = await startTestService();
  t = await svc.createTenant({ settings: { allowedModels: ['m/a', 'm/b'], model: 'm/a' } });
  client = new OpenAI({ apiKey: t.userToken, baseURL: `${svc.url}/v1`, maxRetries: 0 });
});
afterAll(async () => svc?.close());
beforeEach(() => svc.stub.reset());

describe('POST /v1/chat/completions', () => {
  it("answers in OpenAI's shape with usage, and counts it", async () => {
    const res = await client.chat.completions.create({
      model: 'm/b',
      messages: [
        { role: 'system', content: 'Be nice.' },
        { role: 'user', content: 'hello there' },
      ],
      max_tokens: 64,
      temperature: 0.2,
      user: 'end-user-7',
      seed: 42,
    });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.model).toBe('m/b');
    expect(res.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Echo: hello there' });
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    const upstream = svc.stub.requests[0]!.body;
    expect(upstream).toMatchObject({ model: 'm/b', max_tokens: 64, temperature: 0.2 });
    expect(upstream.messages).toEqual([
      { role: 'system', content: 'Be nice.' },
      { role: 'user', content: 'hello there' },
    ]);
    const usage = await svc.request('GET', '/v1/usage', { token: t.adminToken });
    expect(usage.body.items[0]).toMatchObject({ requests: 1, promptTokens: 5, completionTokens: 3 });
  });

  it('uses the tenant model when none is given', async () => {
    const res = await client.chat.completions.create({ messages: [{ role: 'user', content: 'x' }] } as never);
    expect((res as OpenAI.ChatCompletion).model).toBe('m/a');
  });

  it('streams chunks ending with [DONE], with usage when asked', async () => {
    svc.stub.enqueue({ kind: 'reply', chunks: ['a', 'b', 'c'] });
    const stream = await client.chat.completions.create({
      model: 'm/a',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null = null;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (choice?.delta.content) pieces.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    expect(pieces).toEqual(['a', 'b', 'c']);
    expect(finish).toBe('stop');
    expect(usage).toEqual({ prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });
  });

  it("errors carry OpenAI's type and param", async () => {
    const notAllowed = await client.chat.completions
      .create({ model: 'm/zzz', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(notAllowed).toBeInstanceOf(OpenAI.BadRequestError);
    const error = (notAllowed as InstanceType<typeof OpenAI.BadRequestError>).error as Record<
      string,
      unknown
    >;
    expect(error).toMatchObject({ code: 'invalid_request', type: 'invalid_request_error', param: 'model' });

    const noMessages = await svc.request('POST', '/v1/chat/completions', {
      token: t.userToken,
      body: { model: 'm/a', messages: 'hello' },
    });
    expect(noMessages.status).toBe(400);
    expect(noMessages.body.error).toMatchObject({
      code: 'invalid_request',
      type: 'invalid_request_error',
      param: 'messages',
    });

    const unauthenticated = await new OpenAI({
      apiKey: 'nope',
      baseURL: `${svc.url}/v1`,
      maxRetries: 0,
    }).chat.completions
      .create({ model: 'm/a', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(unauthenticated).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((unauthenticated as InstanceType<typeof OpenAI.AuthenticationError>).error).toMatchObject({
      code: 'unauthorized',
      type: 'authentication_error',
    });
  });

  it('answers a provider failure with 502 upstream_error', async () => {
    svc.stub.setDefault({ kind: 'error', status: 500 });
    const failed = await client.chat.completions
      .create({ model: 'm/a', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OpenAI.APIError);
    expect((failed as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((failed as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
      code: 'upstream_error',
      type: 'api_error',
    });
  });
});

describe("the tenant's settings on both chat routes", () => {
  it('refuses a model outside allowedModels on both routes and max_tokens above maxOutputTokens, before counting anything', async () => {
    const capped = await svc.createTenant({
      settings: { allowedModels: ['m/a'], model: 'm/a', maxOutputTokens: 64 },
    });
    const token = capped.userToken;
    const session = (await svc.request('POST', '/v1/sessions', { token, body: {} })).body.id;
    const messages = [{ role: 'user', content: 'hi' }];
    for (const stream of [false, true]) {
      const turn = await svc.request('POST', `/v1/sessions/${session}/messages`, {
        token,
        body: { content: 'hi', model: 'm/zzz', stream },
      });
      expect(turn.status).toBe(400);
      expect(turn.body.error).toEqual({ code: 'invalid_request', message: expect.stringContaining('m/zzz') });

      const completion = await svc.request('POST', '/v1/chat/completions', {
        token,
        body: { model: 'm/zzz', messages, stream },
      });
      expect(completion.status).toBe(400);
      expect(completion.body.error).toMatchObject({
        code: 'invalid_request',
        type: 'invalid_request_error',
        param: 'model',
      });

      for (const field of ['max_tokens', 'max_completion_tokens']) {
        const over = await svc.request('POST', '/v1/chat/completions', {
          token,
          body: { messages, [field]: 65, stream },
        });
        expect(over.status).toBe(400);
        expect(over.body.error).toMatchObject({
          code: 'invalid_request',
          type: 'invalid_request_error',
          param: field,
        });
      }
    }
    expect(svc.stub.requests).toHaveLength(0);

    // At the cap: admitted and asked for; none of the refusals used the request budget.
    const atCap = await svc.request('POST', '/v1/chat/completions', {
      token,
      body: { messages, max_tokens: 64 },
    });
    expect(atCap.status).toBe(200);
    expect(atCap.headers.get('x-ratelimit-remaining-requests')).toBe('59');
    expect(svc.stub.requests[0]!.body.max_tokens).toBe(64);
  });
});

describe('GET /v1/models', () => {
  it("lists the tenant's allowed models in OpenAI's list shape", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['m/a', 'm/b']);
    expect(models.data[0]).toMatchObject({ object: 'model' });
  });

  it('lists the tenant model when allowedModels is empty', async () => {
    const other = await svc.createTenant();
    const res = await svc.request('GET', '/v1/models', { token: other.userToken });
    expect(res.body).toEqual({
      object: 'list',
      data: [{ id: 'test/model', object: 'model', created: expect.any(Number), owned_by: 'test' }],
    });
  });
});
