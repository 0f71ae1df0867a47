// The page: finds out who is signed in, then shows sign-in, the chat or the settings. A token
// handed over in the address (`#token=...`) signs in at once only when nobody is signed in in
// this tab (or it is the same identity): another identity is shown beside the current one,
// and the user chooses (no login CSRF through a link).
import { useEffect, useRef, useState } from 'react';
import { ApiError, createApiClient, type ApiClient } from '@chatbot/api-client';
import { describeError } from './api/errors.ts';
import type { Me } from '@chatbot/api-types';
import { ConfirmSwitch } from './auth/confirm-switch.tsx';
import {
  clearToken,
  fragmentHasToken,
  readToken,
  saveToken,
  takeTokenFromFragment,
} from './auth/token-store.ts';
import { SignIn } from './auth/sign-in.tsx';
import { Workspace } from './workspace.tsx';

type AuthState =
  | { kind: 'checking' }
  | { kind: 'signed-out'; notice: string | null }
  | { kind: 'unreachable'; message: string }
  | { kind: 'signed-in'; me: Me; hasToken: boolean }
  /** A link's token names someone other than the signed-in user: ask before switching. */
  | { kind: 'switch'; current: Me; incoming: Me; token: string };

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

  /** The token a link handed over, until it is taken or declined (kept across retries). */
  const fromLink = useRef<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    fromLink.current ??= takeTokenFromFragment();
    const linked = fromLink.current;
    const stored = readToken();
    const identify = (token: string | null) => api.me({ token, signal, reportUnauthorized: false });
    const refused = (error: unknown) => error instanceof ApiError && error.status === 401;

    async function check(): Promise<AuthState> {
      if (linked !== null && stored !== null && linked !== stored) {
        const [current, incoming] = await Promise.allSettled([identify(stored), identify(linked)]);
        for (const result of [current, incoming]) {
          if (result.status === 'rejected' && !refused(result.reason)) throw result.reason;
        }
        fromLink.current = null;
        if (incoming.status === 'rejected') {
          // The link's token is refused: whoever is signed in stays.
          if (current.status === 'fulfilled') return { kind: 'signed-in', me: current.value, hasToken: true };
          clearToken();
          return { kind: 'signed-out', notice: TOKEN_REFUSED_NOTICE };
        }
        if (current.status === 'rejected' || sameIdentity(current.value, incoming.value)) {
          // Nobody is really signed in (the kept token is refused), or it is the same person.
          saveToken(linked);
          return { kind: 'signed-in', me: incoming.value, hasToken: true };
        }
        return { kind: 'switch', current: current.value, incoming: incoming.value, token: linked };
      }
      if (linked !== null) {
        saveToken(linked);
        fromLink.current = null;
      }
      const token = linked ?? stored;
      // Without a token first: a service running with DISABLE_AUTH answers anyway.
      try {
        return { kind: 'signed-in', me: await identify(token), hasToken: token !== null };
      } catch (error) {
        if (!refused(error)) throw error;
        if (token !== null) clearToken();
        return { kind: 'signed-out', notice: token !== null ? TOKEN_REFUSED_NOTICE : null };
      }
    }

    check().then(
      (next) => {
        if (!signal.aborted) setAuth(next);
      },
      (error: unknown) => {
        if (!signal.aborted) setAuth({ kind: 'unreachable', message: describeError(error) });
      },
    );
    return () => controller.abort();
  }, [api, attempt]);

  // A link followed within the page (the address changes, the page stays): the same check.
  useEffect(() => {
    const onHashChange = () => {
      if (!fragmentHasToken()) return;
      setAuth({ kind: 'checking' });
      setAttempt((n) => n + 1);
    };
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, []);

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
    case 'switch':
      return (
        <ConfirmSwitch
          current={auth.current}
          incoming={auth.incoming}
          onStay={() => setAuth({ kind: 'signed-in', me: auth.current, hasToken: true })}
          onSwitch={() => {
            saveToken(auth.token);
            setAuth({ kind: 'signed-in', me: auth.incoming, hasToken: true });
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

function sameIdentity(a: Me, b: Me): boolean {
  return a.sub === b.sub && a.role === b.role && (a.tenant?.id ?? null) === (b.tenant?.id ?? null);
}
