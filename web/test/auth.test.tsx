import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../src/app.tsx';
import type { Me } from '@chatbot/api-types';
import { apiError, installFakeApi, json, type Call } from './support/fake-api.ts';
import { tenant, userMe } from './support/fixtures.ts';

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

  describe('no login CSRF through the URL', () => {
    const mallory: Me = {
      sub: 'mallory',
      role: 'tenant_admin',
      tenant: { ...tenant, id: '9d9a7c1e-3b1f-4c0e-8f57-0c6f0d1a2b3c', name: 'Evil Corp', slug: 'evil' },
    };
    /** /v1/me knows alice's token and mallory's. */
    const meOf = (call: Call) => {
      const auth = call.headers.get('Authorization');
      if (auth === 'Bearer alice-token') return json(200, userMe);
      if (auth === 'Bearer mallory-token') return json(200, mallory);
      return apiError(401, 'unauthorized', 'missing or bad credentials');
    };

    it('no login CSRF through the URL: a different identity by #token= asks before switching, showing both; staying keeps the token', async () => {
      window.sessionStorage.setItem('chatbot.token', 'alice-token');
      window.history.replaceState(null, '', '/#token=mallory-token');
      const fake = installFakeApi({ 'GET /v1/me': meOf, 'GET /v1/sessions': emptyList });
      const user = userEvent.setup();
      render(<App />);

      const dialog = await screen.findByRole('dialog', { name: 'Switch account?' });
      // Nothing switched while the question is open; the token left the address.
      expect(window.sessionStorage.getItem('chatbot.token')).toBe('alice-token');
      expect(window.location.hash).toBe('');
      expect(fake.callsTo('GET', '/v1/sessions')).toHaveLength(0);
      const now = within(within(dialog).getByRole('region', { name: 'Signed in now' }));
      expect(now.getByText('alice')).toBeInTheDocument();
      expect(now.getByText('user')).toBeInTheDocument();
      expect(now.getByText('Acme (acme)')).toBeInTheDocument();
      const link = within(within(dialog).getByRole('region', { name: 'The link signs in as' }));
      expect(link.getByText('mallory')).toBeInTheDocument();
      expect(link.getByText('tenant admin')).toBeInTheDocument();
      expect(link.getByText('Evil Corp (evil)')).toBeInTheDocument();

      await user.click(screen.getByRole('button', { name: 'Stay signed in as alice' }));
      expect(await screen.findByRole('button', { name: 'New chat' })).toBeInTheDocument();
      expect(window.sessionStorage.getItem('chatbot.token')).toBe('alice-token');
      expect(fake.callsTo('GET', '/v1/sessions')[0]?.headers.get('Authorization')).toBe('Bearer alice-token');
    });

    it('no login CSRF through the URL: switching is the user’s choice, and then the link’s token is kept', async () => {
      window.sessionStorage.setItem('chatbot.token', 'alice-token');
      window.history.replaceState(null, '', '/?session=abc#token=mallory-token');
      const fake = installFakeApi({ 'GET /v1/me': meOf, 'GET /v1/sessions': emptyList });
      const user = userEvent.setup();
      render(<App />);
      await user.click(await screen.findByRole('button', { name: 'Switch to mallory' }));
      expect(await screen.findByRole('button', { name: 'New chat' })).toBeInTheDocument();
      expect(window.sessionStorage.getItem('chatbot.token')).toBe('mallory-token');
      expect(window.location.search).toBe('?session=abc');
      expect(fake.callsTo('GET', '/v1/sessions')[0]?.headers.get('Authorization')).toBe(
        'Bearer mallory-token',
      );
    });

    it('no login CSRF through the URL: a link followed inside the page asks too', async () => {
      window.sessionStorage.setItem('chatbot.token', 'alice-token');
      installFakeApi({ 'GET /v1/me': meOf, 'GET /v1/sessions': emptyList });
      render(<App />);
      await screen.findByRole('button', { name: 'New chat' });
      window.location.hash = '#token=mallory-token';
      expect(await screen.findByRole('dialog', { name: 'Switch account?' })).toBeInTheDocument();
      expect(window.sessionStorage.getItem('chatbot.token')).toBe('alice-token');
    });

    it('takes a fresh token for the same identity, and ignores a refused one, without asking', async () => {
      window.sessionStorage.setItem('chatbot.token', 'alice-token');
      window.history.replaceState(null, '', '/#token=not-accepted');
      installFakeApi({ 'GET /v1/me': meOf, 'GET /v1/sessions': emptyList });
      const { unmount } = render(<App />);
      expect(await screen.findByRole('button', { name: 'New chat' })).toBeInTheDocument();
      expect(window.sessionStorage.getItem('chatbot.token')).toBe('alice-token');
      unmount();

      window.history.replaceState(null, '', '/#token=alice-again');
      installFakeApi({
        'GET /v1/me': (call) =>
          call.headers.get('Authorization') === 'Bearer alice-again' ? json(200, userMe) : meOf(call),
        'GET /v1/sessions': emptyList,
      });
      render(<App />);
      expect(await screen.findByRole('button', { name: 'New chat' })).toBeInTheDocument();
      expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
      expect(window.sessionStorage.getItem('chatbot.token')).toBe('alice-again');
    });
  });
});
