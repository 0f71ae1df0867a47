import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../src/app.tsx';
import { apiError, installFakeApi, json, type Call } from './support/fake-api.ts';
import { userMe } from './support/fixtures.ts';

const emptyList = () => json(200, { items: [], nextCursor: null });

/** /v1/me accepts exactly the `good` token (and none when `good` is null: DISABLE_AUTH). */
function meAccepting(good: string | null) {
  return (call: Call) => {
    const auth = call.headers.get('Authorization');
    if (good === null || auth === `Bearer ${good}`) return json(200, userMe);
    return apiError(401, 'unauthorized', 'missing or bad credentials');
  };
}

describe('sign-in', () => {
  it('needs no token when the service runs without authentication (DISABLE_AUTH)', async () => {
    const fake = installFakeApi({ 'GET /v1/me': meAccepting(null), 'GET /v1/sessions': emptyList });
    render(<App />);
    expect(await screen.findByRole('button', { name: 'New chat' })).toBeInTheDocument();
    expect(fake.calls[0]?.headers.has('Authorization')).toBe(false);
    expect(screen.queryByLabelText('Token')).not.toBeInTheDocument();
    // nothing to sign out of without a token
    expect(screen.queryByRole('button', { name: 'Sign out' })).not.toBeInTheDocument();
  });

  it('asks for a token when the service answers 401, and keeps a good one for the tab', async () => {
    const fake = installFakeApi({ 'GET /v1/me': meAccepting('good-token'), 'GET /v1/sessions': emptyList });
    const user = userEvent.setup();
    render(<App />);
    const input = await screen.findByLabelText('Token');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();

    await user.type(input, 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('This token was not accepted.');
    expect(window.sessionStorage.getItem('chatbot.token')).toBeNull();

    await user.clear(input);
    await user.type(input, 'good-token');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('button', { name: 'New chat' })).toBeInTheDocument();
    expect(window.sessionStorage.getItem('chatbot.token')).toBe('good-token');
    expect(fake.callsTo('GET', '/v1/sessions')[0]?.headers.get('Authorization')).toBe('Bearer good-token');

    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByLabelText('Token')).toBeInTheDocument();
    expect(window.sessionStorage.getItem('chatbot.token')).toBeNull();
  });

  it('takes a token from the URL fragment once, keeps it and removes it from the address', async () => {
    const fake = installFakeApi({
      'GET /v1/me': meAccepting('frag.jwt.value'),
      'GET /v1/sessions': emptyList,
    });
    window.history.replaceState(null, '', '/?session=abc#token=frag.jwt.value');
    render(<App />);
    expect(await screen.findByRole('button', { name: 'New chat' })).toBeInTheDocument();
    expect(window.location.hash).toBe('');
    expect(window.location.search).toBe('?session=abc');
    expect(window.sessionStorage.getItem('chatbot.token')).toBe('frag.jwt.value');
    expect(fake.calls[0]?.headers.get('Authorization')).toBe('Bearer frag.jwt.value');
  });

  it('returns to sign-in with a message when the kept token is refused', async () => {
    window.sessionStorage.setItem('chatbot.token', 'expired');
    installFakeApi({ 'GET /v1/me': meAccepting('fresh') });
    render(<App />);
    expect(await screen.findByLabelText('Token')).toBeInTheDocument();
    expect(screen.getByText(/The sign-in token was not accepted/)).toBeInTheDocument();
    expect(window.sessionStorage.getItem('chatbot.token')).toBeNull();
  });

  it('says so when the service cannot be reached, and tries again on request', async () => {
    const fake = installFakeApi({ 'GET /v1/me': () => apiError(503, 'unavailable', 'database unreachable') });
    const user = userEvent.setup();
    render(<App />);
    expect(await screen.findByRole('alert')).toHaveTextContent('The service is temporarily unavailable.');
    fake.routes['GET /v1/me'] = meAccepting(null);
    fake.routes['GET /v1/sessions'] = emptyList;
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('button', { name: 'New chat' })).toBeInTheDocument();
  });

  it('tells a platform admin that they have no chat', async () => {
    installFakeApi({ 'GET /v1/me': () => json(200, { sub: 'ops', role: 'platform_admin', tenant: null }) });
    render(<App />);
    expect(
      await screen.findByText(/Platform administrators manage tenants through the API/),
    ).toBeInTheDocument();
    expect(screen.queryByRole('textbox', { name: 'Message' })).not.toBeInTheDocument();
  });

  it('shows the Settings link to tenant admins only', async () => {
    installFakeApi({ 'GET /v1/me': meAccepting(null), 'GET /v1/sessions': emptyList });
    render(<App />);
    await screen.findByRole('button', { name: 'New chat' });
    expect(screen.getByRole('link', { name: 'Chat' })).toHaveAttribute('aria-current', 'page');
    expect(screen.queryByRole('link', { name: 'Settings' })).not.toBeInTheDocument();
  });
});
