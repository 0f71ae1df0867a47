import { useState, type FormEvent } from 'react';
import { ApiError, type ApiClient } from '@chatbot/api-client';
import { describeError } from '../api/errors.ts';
import type { Me } from '@chatbot/api-types';

export function SignIn(props: {
  api: ApiClient;
  notice: string | null;
  onSignedIn: (me: Me, token: string) => void;
}) {
  const { api, notice, onSignedIn } = props;
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const candidate = token.trim();
    if (candidate === '') {
      setError('Paste the token you were given.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const me = await api.me({ token: candidate, reportUnauthorized: false });
      onSignedIn(me, candidate);
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? 'This token was not accepted. Check that it is complete and has not expired.'
          : describeError(caught),
      );
      setBusy(false);
    }
  }

  return (
    <main className="sign-in">
      <form className="card sign-in-card" onSubmit={submit} noValidate>
        <h1>Sign in to chat</h1>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <label htmlFor="sign-in-token">Token</label>
        <input
          id="sign-in-token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(event) => setToken(event.target.value)}
          aria-describedby="sign-in-help"
          aria-invalid={error !== null}
          aria-errormessage={error !== null ? 'sign-in-error' : undefined}
        />
        <p id="sign-in-help" className="hint">
          The access token (or API key) your organisation gave you. It is kept only in this browser tab.
        </p>
        {error && (
          <p id="sign-in-error" className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
