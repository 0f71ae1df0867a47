import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from '../src/app.tsx';
import type { Message } from '@chatbot/api-types';
import { apiError, installFakeApi, json, sseStream, type Call, type Handler } from './support/fake-api.ts';
import { adminMe, message, session, userMe } from './support/fixtures.ts';

type Stream = ReturnType<typeof sseStream>;

/** The app signed in as a user with one chat open, its replies written by the test. */
function chatApp(opts: { history?: Message[]; routes?: Record<string, Handler> } = {}) {
  const streams: Stream[] = [];
  const fake = installFakeApi({
    'GET /v1/me': () => json(200, userMe),
    'GET /v1/sessions': () => json(200, { items: [session('s1', 'Trip plans')], nextCursor: null }),
    'GET /v1/sessions/:id/messages': () => json(200, { items: opts.history ?? [], nextCursor: null }),
    'POST /v1/sessions/:id/messages': (call) => {
      const stream = sseStream(call.signal);
      streams.push(stream);
      return stream.response;
    },
    ...opts.routes,
  });
  window.history.replaceState(null, '', '/?session=s1');
  const user = userEvent.setup();
  render(<App />);
  return { fake, streams, user };
}

const log = () => screen.getByRole('log', { name: 'Messages' });
const lastAssistant = () => {
  const items = log().querySelectorAll('[data-role="assistant"]');
  return items[items.length - 1] as HTMLElement;
};
/** The visible text of the newest reply (without the screen-reader label). */
const lastReply = () => lastAssistant()?.querySelector('.message-body')?.textContent ?? '';

async function sendMessage(user: ReturnType<typeof userEvent.setup>, text: string) {
  const box = await screen.findByRole('textbox', { name: 'Message' });
  await user.type(box, text);
  await user.click(screen.getByRole('button', { name: 'Send' }));
}

afterEach(() => {
  vi.useRealTimers();
});

const citation = {
  knowledgeBaseId: 'kb1',
  documentId: 'doc1',
  documentName: 'handbook.md',
  chunkId: 'c1',
  chunkIndex: 3,
  heading: 'Handbook > Refunds',
  content: 'Damaged items may be returned within 30 days.',
  score: 0.03,
};

describe('chat', () => {
  it('shows the sources a reply is given (before its first piece) and keeps them with the stored reply', async () => {
    const { streams, user } = chatApp();
    await sendMessage(user, 'Refunds?');
    await waitFor(() => expect(streams).toHaveLength(1));
    const stream = streams[0]!;
    act(() => stream.send('message', message('user', 'Refunds?')));
    act(() => stream.send('sources', { sources: [citation] }));
    const sources = await within(lastAssistant()).findByRole('list', { name: 'Sources' });
    // A user sees the passage, without a link to the admins' knowledge page.
    expect(within(sources).getByText('handbook.md — Handbook > Refunds').tagName).toBe('SPAN');
    expect(within(sources).getByText(citation.content)).toBeInTheDocument();
    act(() => stream.send('delta', { content: 'Within 30 days [1].' }));
    act(() => {
      stream.send('done', message('assistant', 'Within 30 days [1].', { sources: [citation] }));
      stream.close();
    });
    await waitFor(() => expect(lastAssistant()).toHaveAttribute('data-status', 'complete'));
    expect(within(lastAssistant()).getByText('Sources (1)')).toBeInTheDocument();
  });

  it('links a tenant admin to the cited document and chunk', async () => {
    installFakeApi({
      'GET /v1/me': () => json(200, adminMe),
      'GET /v1/sessions': () => json(200, { items: [session('s1', 'Trip plans')], nextCursor: null }),
      'GET /v1/sessions/:id/messages': () =>
        json(200, {
          items: [message('user', 'Refunds?'), message('assistant', 'See [1].', { sources: [citation] })],
          nextCursor: null,
        }),
    });
    window.history.replaceState(null, '', '/?session=s1');
    render(<App />);
    const link = await screen.findByRole('link', { name: 'handbook.md — Handbook > Refunds' });
    expect(link).toHaveAttribute('href', '/?view=knowledge&base=kb1&document=doc1#chunk-3');
  });

  it('shows the history of the opened chat', async () => {
    chatApp({ history: [message('user', 'Where to?'), message('assistant', 'How about **Lisbon**?')] });
    await screen.findByRole('log', { name: 'Messages' });
    expect(await within(log()).findByText('Where to?')).toBeInTheDocument();
    expect(within(log()).getByText('Lisbon').tagName).toBe('STRONG');
    expect(screen.getByRole('heading', { level: 1, name: 'Trip plans' })).toBeInTheDocument();
  });

  it('renders the reply as its pieces arrive, then the stored message replaces it', async () => {
    const { fake, streams, user } = chatApp();
    await sendMessage(user, 'Hello');
    await waitFor(() => expect(streams).toHaveLength(1));
    const stream = streams[0]!;
    expect(fake.callsTo('POST', '/v1/sessions/s1/messages')[0]?.body).toEqual({
      content: 'Hello',
      stream: true,
    });
    expect(screen.getByRole('button', { name: 'Stop' })).toBeInTheDocument();
    expect(log()).toHaveAttribute('aria-busy', 'true');

    act(() => stream.send('message', message('user', 'Hello')));
    act(() => stream.send('delta', { content: 'Hi ' }));
    await waitFor(() => expect(lastReply()).toBe('Hi'));
    act(() => stream.send('delta', { content: 'there, **friend**' }));
    await waitFor(() => expect(lastReply()).toBe('Hi there, friend'));
    expect(lastAssistant()).toHaveAttribute('data-status', 'streaming');

    act(() => {
      stream.send(
        'done',
        message('assistant', 'Hi there, friend. (stored)', { model: 'openai/gpt-4o-mini' }),
      );
      stream.close();
    });
    await waitFor(() => expect(lastReply()).toBe('Hi there, friend. (stored)'));
    expect(lastAssistant()).toHaveAttribute('data-status', 'complete');
    expect(log()).toHaveAttribute('aria-busy', 'false');
    expect(screen.getByRole('button', { name: 'Send' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry' })).not.toBeInTheDocument();
  });

  it('shows HTML in a streamed reply as text, never as elements', async () => {
    const { streams, user } = chatApp();
    await sendMessage(user, 'Show me HTML');
    await waitFor(() => expect(streams).toHaveLength(1));
    act(() => {
      streams[0]!.send('delta', { content: '<img src=x onerror="window.hacked=1">' });
      streams[0]!.send('delta', { content: '\n\n<script>window.hacked=1</script>' });
    });
    await waitFor(() => expect(lastReply()).toContain('<script>window.hacked=1</script>'));
    expect(lastReply()).toContain('<img src=x onerror="window.hacked=1">');
    expect(log().querySelector('img, script')).toBeNull();
  });

  it('Enter sends the message and Shift+Enter adds a line instead', async () => {
    const { fake, user } = chatApp();
    const box = await screen.findByRole('textbox', { name: 'Message' });
    await user.type(box, 'line one{Shift>}{Enter}{/Shift}line two');
    expect(box).toHaveValue('line one\nline two');
    expect(fake.callsTo('POST', '/v1/sessions/s1/messages')).toHaveLength(0);
    await user.keyboard('{Enter}');
    await waitFor(() => expect(fake.callsTo('POST', '/v1/sessions/s1/messages')).toHaveLength(1));
    expect(fake.callsTo('POST', '/v1/sessions/s1/messages')[0]?.body).toMatchObject({
      content: 'line one\nline two',
    });
    expect(box).toHaveValue('');
  });

  it('does not send an empty message', async () => {
    const { fake, user } = chatApp();
    const box = await screen.findByRole('textbox', { name: 'Message' });
    await user.type(box, '   {Enter}');
    expect(screen.getByRole('button', { name: 'Send' })).toBeDisabled();
    expect(fake.callsTo('POST', '/v1/sessions/s1/messages')).toHaveLength(0);
  });

  it('shows why a reply failed (upstream_error in the stream) and Retry sends it again', async () => {
    const { fake, streams, user } = chatApp();
    await sendMessage(user, 'Tell me a story');
    await waitFor(() => expect(streams).toHaveLength(1));
    act(() => {
      streams[0]!.send('message', message('user', 'Tell me a story'));
      streams[0]!.send('delta', { content: 'Once upon' });
      streams[0]!.send('error', { code: 'upstream_error', message: 'provider answered 500' });
      streams[0]!.close();
    });
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The reply failed. The model provider failed to answer.',
    );
    expect(lastAssistant()).toHaveTextContent('Once upon');
    expect(lastAssistant()).toHaveAttribute('data-status', 'failed');

    await user.click(screen.getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(streams).toHaveLength(2));
    const posts = fake.callsTo('POST', '/v1/sessions/s1/messages');
    expect(posts.map((c) => c.body)).toEqual([
      { content: 'Tell me a story', stream: true },
      { content: 'Tell me a story', stream: true },
    ]);
    act(() => {
      streams[1]!.send('message', message('user', 'Tell me a story'));
      streams[1]!.send('done', message('assistant', 'Once upon a time.'));
      streams[1]!.close();
    });
    await waitFor(() => expect(lastAssistant()).toHaveTextContent('Once upon a time.'));
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    // The failed first attempt stays in the conversation, as the service stored it.
    expect(log().querySelectorAll('[data-role="assistant"][data-status="failed"]')).toHaveLength(1);
  });

  it('retries a reply cut off by the connection with the same Idempotency-Key', async () => {
    const { fake, streams, user } = chatApp();
    await sendMessage(user, 'Hi');
    await waitFor(() => expect(streams).toHaveLength(1));
    act(() => streams[0]!.close()); // ends without done or error
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The connection closed before the reply was complete.',
    );
    await user.click(screen.getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(streams).toHaveLength(2));
    const keys = fake
      .callsTo('POST', '/v1/sessions/s1/messages')
      .map((c: Call) => c.headers.get('Idempotency-Key'));
    expect(keys[0]).toBeTruthy();
    expect(keys[1]).toBe(keys[0]);
  });

  it('on a 429 says when the next message can be sent and keeps Send disabled until then', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const { fake, user } = chatApp();
    fake.routes['POST /v1/sessions/:id/messages'] = () =>
      apiError(429, 'rate_limited', 'request budget spent', { 'Retry-After': '30' });
    await sendMessage(user, 'One more');
    const alerts = await screen.findAllByRole('alert');
    expect(alerts.map((a) => a.textContent).join(' ')).toMatch(
      /Message limit reached for now\. You can send again at /,
    );
    expect(screen.getByText(/Sending resumes in/)).toHaveTextContent(/Sending resumes in (29|30) seconds\./);
    expect(screen.getByText(/Your message was not sent/)).toBeInTheDocument();

    const box = screen.getByRole('textbox', { name: 'Message' });
    await user.type(box, 'Next');
    expect(screen.getByRole('button', { name: 'Send' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Retry' })).toBeDisabled();
    await user.keyboard('{Enter}');
    expect(fake.callsTo('POST', '/v1/sessions/s1/messages')).toHaveLength(1);

    act(() => vi.advanceTimersByTime(20_000));
    await waitFor(() =>
      expect(screen.getByText(/Sending resumes in/)).toHaveTextContent(/in (9|10) seconds/),
    );
    act(() => vi.advanceTimersByTime(11_000));
    await waitFor(() => expect(screen.getByRole('button', { name: 'Send' })).toBeEnabled());
    expect(screen.queryByText(/Sending resumes in/)).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Retry' })).toBeEnabled();
  });

  it('Stop aborts the request and keeps what arrived, with Retry', async () => {
    const { fake, streams, user } = chatApp();
    await sendMessage(user, 'Write a long poem');
    await waitFor(() => expect(streams).toHaveLength(1));
    act(() => {
      streams[0]!.send('message', message('user', 'Write a long poem'));
      streams[0]!.send('delta', { content: 'Roses are red' });
    });
    await waitFor(() => expect(lastAssistant()).toHaveTextContent('Roses are red'));
    await user.click(screen.getByRole('button', { name: 'Stop' }));
    const signal = fake.callsTo('POST', '/v1/sessions/s1/messages')[0]?.signal;
    expect(signal?.aborted).toBe(true);
    expect(await screen.findByText('You stopped this reply.')).toBeInTheDocument();
    expect(lastAssistant()).toHaveTextContent('Roses are red');
    expect(screen.getByRole('button', { name: 'Retry' })).toBeEnabled();
    expect(screen.queryByRole('button', { name: 'Stop' })).not.toBeInTheDocument();
    expect(screen.getByText('Reply stopped.')).toHaveAttribute('role', 'status');
  });

  it('a 401 while sending returns to sign-in with a clear message', async () => {
    const { fake, user } = chatApp();
    fake.routes['POST /v1/sessions/:id/messages'] = () => apiError(401, 'unauthorized', 'token expired');
    await sendMessage(user, 'Hello?');
    expect(await screen.findByLabelText('Token')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.getByText(/Your sign-in has ended/)).toBeInTheDocument();
  });

  it('a new chat gets its session, titled by the first message, when that message is sent', async () => {
    const { fake, streams, user } = chatApp();
    fake.routes['POST /v1/sessions'] = (call) =>
      json(201, session('s2', (call.body as { title: string }).title, '2025-03-02T10:00:00.000Z'));
    await user.click(await screen.findByRole('button', { name: 'New chat' }));
    expect(screen.getByRole('heading', { level: 1, name: 'New chat' })).toBeInTheDocument();
    await sendMessage(user, 'Plan a weekend   in Porto');
    await waitFor(() => expect(streams).toHaveLength(1));
    expect(fake.callsTo('POST', '/v1/sessions')[0]?.body).toEqual({ title: 'Plan a weekend in Porto' });
    expect(fake.callsTo('POST', '/v1/sessions/s2/messages')).toHaveLength(1);
    const list = screen.getByRole('complementary', { name: 'Chats' });
    const buttons = within(list).getAllByRole('button', { name: /Plan a weekend in Porto|Trip plans/ });
    expect(buttons[0]).toHaveTextContent('Plan a weekend in Porto'); // newest first
    expect(buttons[0]).toHaveAttribute('aria-current', 'true');
    expect(window.location.search).toBe('?session=s2');

    act(() => {
      streams[0]!.send('delta', { content: 'Sure' });
    });
    await waitFor(() => expect(lastAssistant()).toHaveTextContent('Sure'));
  });

  it('deletes a chat after confirmation', async () => {
    const { fake, user } = chatApp();
    fake.routes['DELETE /v1/sessions/:id'] = () => json(204);
    await user.click(await screen.findByRole('button', { name: 'Delete chat “Trip plans”' }));
    await user.click(screen.getByRole('button', { name: 'Confirm delete' }));
    await waitFor(() => expect(screen.queryByRole('button', { name: /Trip plans/ })).not.toBeInTheDocument());
    expect(fake.callsTo('DELETE', '/v1/sessions/s1')).toHaveLength(1);
    expect(screen.getByRole('heading', { level: 1, name: 'New chat' })).toBeInTheDocument();
  });

  it('pages through the chats with Load more', async () => {
    const { fake, user } = chatApp({
      routes: {
        'GET /v1/sessions': (call) =>
          call.search.get('cursor') === 'next'
            ? json(200, { items: [session('s0', 'Older chat')], nextCursor: null })
            : json(200, { items: [session('s1', 'Trip plans')], nextCursor: 'next' }),
      },
    });
    await user.click(await screen.findByRole('button', { name: 'Load more chats' }));
    expect(await screen.findByRole('button', { name: /^Older chat/ })).toBeInTheDocument();
    expect(fake.callsTo('GET', '/v1/sessions').map((c) => c.search.toString())).toEqual([
      'limit=20',
      'limit=20&cursor=next',
    ]);
    expect(screen.queryByRole('button', { name: 'Load more chats' })).not.toBeInTheDocument();
  });
});
