// The page: finds out who is signed in, then shows sign-in, the chat or the settings.
import { useEffect, useState } from 'react';
import { ApiError, createApiClient, type ApiClient } from './api/client.ts';
import { describeError } from './api/errors.ts';
import type { Me } from './api/types.ts';
import { clearToken, readToken, saveToken, takeTokenFromFragment } from './auth/token-store.ts';
import { SignIn } from './auth/sign-in.tsx';
import { Workspace } from './workspace.tsx';

type AuthState =
  | { kind: 'checking' }
  | { kind: 'signed-out'; notice: string | null }
  | { kind: 'unreachable'; message: string }
  | { kind: 'signed-in'; me: Me; hasToken: boolean };

export const SESSION_ENDED_NOTICE =
  'Your sign-in has ended (the token expired or was revoked). Sign in again to continue.';
export const TOKEN_REFUSED_NOTICE = 'The sign-in token was not accepted: it may have expired. Sign in again.';

export function App() {
  const [auth, setAuth] = useState<AuthState>({ kind: 'checking' });
  const [attempt, setAttempt] = useState(0);
  const [api] = useState<ApiClient>(() =>
    createApiClient({
      getToken: readToken,
      onUnauthorized: () => {
        clearToken();
        setAuth({ kind: 'signed-out', notice: SESSION_ENDED_NOTICE });
      },
    }),
  );

  useEffect(() => {
    const controller = new AbortController();
    takeTokenFromFragment();
    const token = readToken();
    // Without a token first: a service running with DISABLE_AUTH answers anyway.
    api.me({ token, signal: controller.signal, reportUnauthorized: false }).then(
      (me) => setAuth({ kind: 'signed-in', me, hasToken: token !== null }),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) {
          if (token !== null) clearToken();
          setAuth({ kind: 'signed-out', notice: token !== null ? TOKEN_REFUSED_NOTICE : null });
        } else {
          setAuth({ kind: 'unreachable', message: describeError(error) });
        }
      },
    );
    return () => controller.abort();
  }, [api, attempt]);

  switch (auth.kind) {
    case 'checking':
      return (
        <p className="page-status" role="status">
          Loading…
        </p>
      );
    case 'unreachable':
      return (
        <main className="page-status">
          <h1>Chat</h1>
          <p role="alert">{auth.message}</p>
          <button
            type="button"
            onClick={() => {
              setAuth({ kind: 'checking' });
              setAttempt((n) => n + 1);
            }}
          >
            Try again
          </button>
        </main>
      );
    case 'signed-out':
      return (
        <SignIn
          api={api}
          notice={auth.notice}
          onSignedIn={(me, token) => {
            saveToken(token);
            setAuth({ kind: 'signed-in', me, hasToken: true });
          }}
        />
      );
    case 'signed-in':
      return (
        <Workspace
          api={api}
          me={auth.me}
          onSignOut={
            auth.hasToken
              ? () => {
                  clearToken();
                  setAuth({ kind: 'signed-out', notice: 'You are signed out.' });
                }
              : null
          }
        />
      );
  }
}
