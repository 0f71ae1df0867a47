// The signed-in page: top bar, the chat (session list + conversation) or the settings.
import { lazy, Suspense, useCallback, useEffect, useRef, useState, type MouseEvent } from 'react';
import type { ApiClient } from '@chatbot/api-client';
import { describeError } from './api/errors.ts';
import type { Me, Session, Tenant } from '@chatbot/api-types';
import { ChatView } from './chat/chat-view.tsx';
import { SessionList, sessionTitle } from './chat/session-list.tsx';
import { placeHref, usePlace, type Place } from './navigation.ts';

// The settings are for tenant admins only: loaded on demand, so the chat page stays small.
const SettingsView = lazy(() => import('./settings/settings-view.tsx'));
const KnowledgeView = lazy(() => import('./knowledge/knowledge-view.tsx'));

export function Workspace(props: { api: ApiClient; me: Me; onSignOut: (() => void) | null }) {
  const { api, me, onSignOut } = props;
  const [tenant, setTenant] = useState<Tenant | null>(me.tenant);

  if (me.role === 'platform_admin' || tenant === null) {
    return (
      <main className="page-status">
        <h1>Chat</h1>
        <p>
          You are signed in as <strong>{me.sub}</strong>, a platform administrator. Platform administrators
          manage tenants through the API and have no chat of their own.
        </p>
        {onSignOut && (
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        )}
      </main>
    );
  }
  return (
    <TenantWorkspace api={api} me={me} tenant={tenant} onTenantChange={setTenant} onSignOut={onSignOut} />
  );
}

function TenantWorkspace(props: {
  api: ApiClient;
  me: Me;
  tenant: Tenant;
  onTenantChange: (tenant: Tenant) => void;
  onSignOut: (() => void) | null;
}) {
  const { api, me, tenant, onTenantChange, onSignOut } = props;
  const isAdmin = me.role === 'tenant_admin';
  const [place, go] = usePlace();
  const view = isAdmin && place.view !== 'chat' ? place.view : 'chat';

  const [sessions, setSessions] = useState<Session[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [sessionsState, setSessionsState] = useState<'loading' | 'ready' | 'more'>('loading');
  const [sessionsError, setSessionsError] = useState<string | null>(null);
  const [drawerOpen, setDrawerOpen] = useState(false);
  // A new chat is a draft until its first message creates the session; the conversation
  // stays mounted through that (its reply is streaming), and is replaced on any other move.
  const [draft, setDraft] = useState<{ key: number; sessionId: string | null }>({ key: 0, sessionId: null });
  const chatKey =
    place.sessionId !== null && place.sessionId !== draft.sessionId
      ? `session-${place.sessionId}`
      : `draft-${draft.key}`;
  const [blockedUntil, setBlockedUntil] = useState<number | null>(null);
  const drawerToggle = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const controller = new AbortController();
    api.listSessions({ signal: controller.signal }).then(
      (page) => {
        setSessions(page.items);
        setNextCursor(page.nextCursor);
        setSessionsState('ready');
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setSessionsError(describeError(error));
        setSessionsState('ready');
      },
    );
    return () => controller.abort();
  }, [api]);

  useEffect(() => {
    if (blockedUntil === null) return;
    const timer = window.setTimeout(() => setBlockedUntil(null), Math.max(0, blockedUntil - Date.now()));
    return () => window.clearTimeout(timer);
  }, [blockedUntil]);

  const closeDrawer = useCallback((returnFocus: boolean) => {
    setDrawerOpen(false);
    if (returnFocus) drawerToggle.current?.focus();
  }, []);

  const openedSession = sessions.find((s) => s.id === place.sessionId);
  const chatTitle = openedSession
    ? sessionTitle(openedSession)
    : place.sessionId === null
      ? 'New chat'
      : 'Chat';

  function openSession(sessionId: string | null) {
    go({ view: 'chat', sessionId });
    if (sessionId === null) setDraft((current) => ({ key: current.key + 1, sessionId: null }));
    closeDrawer(false);
  }

  async function loadMore() {
    if (nextCursor === null) return;
    setSessionsState('more');
    try {
      const page = await api.listSessions({ cursor: nextCursor });
      setSessions((current) => [
        ...current,
        ...page.items.filter((s) => !current.some((c) => c.id === s.id)),
      ]);
      setNextCursor(page.nextCursor);
      setSessionsError(null);
    } catch (error) {
      setSessionsError(describeError(error));
    } finally {
      setSessionsState('ready');
    }
  }

  async function deleteSession(session: Session) {
    try {
      await api.deleteSession(session.id);
      setSessions((current) => current.filter((s) => s.id !== session.id));
      setSessionsError(null);
      if (place.sessionId === session.id) openSession(null);
    } catch (error) {
      setSessionsError(describeError(error));
    }
  }

  function navLink(target: Place, label: string) {
    const current = view === target.view;
    return (
      <a
        href={placeHref(target)}
        aria-current={current ? 'page' : undefined}
        onClick={(event: MouseEvent<HTMLAnchorElement>) => {
          if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
          event.preventDefault();
          go(target);
        }}
      >
        {label}
      </a>
    );
  }

  return (
    <div className={`app view-${view}${drawerOpen ? ' drawer-open' : ''}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        {view === 'chat' && (
          <button
            ref={drawerToggle}
            type="button"
            className="drawer-toggle"
            aria-expanded={drawerOpen}
            aria-controls="session-drawer"
            onClick={() => setDrawerOpen((open) => !open)}
          >
            Chats
          </button>
        )}
        <p className="brand">{tenant.name}</p>
        <nav aria-label="Main" className="main-nav">
          {navLink({ view: 'chat', sessionId: place.view === 'chat' ? place.sessionId : null }, 'Chat')}
          {isAdmin && navLink({ view: 'knowledge', sessionId: null }, 'Knowledge')}
          {isAdmin && navLink({ view: 'settings', sessionId: null }, 'Settings')}
        </nav>
        <p className="who">
          <span className="visually-hidden">Signed in as </span>
          {me.sub}
          {isAdmin && <span className="role"> (admin)</span>}
        </p>
        {onSignOut && (
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        )}
      </header>

      {view === 'knowledge' ? (
        <main id="main" className="settings-main" tabIndex={-1}>
          <Suspense
            fallback={
              <p role="status" className="page-status">
                Loading knowledge bases…
              </p>
            }
          >
            <KnowledgeView api={api} tenant={tenant} onTenantChange={onTenantChange} place={place} go={go} />
          </Suspense>
        </main>
      ) : view === 'settings' ? (
        <main id="main" className="settings-main" tabIndex={-1}>
          <Suspense
            fallback={
              <p role="status" className="page-status">
                Loading settings…
              </p>
            }
          >
            <SettingsView api={api} tenant={tenant} onTenantChange={onTenantChange} />
          </Suspense>
        </main>
      ) : (
        <div className="chat-layout">
          <div className="drawer-backdrop" aria-hidden="true" onClick={() => closeDrawer(true)} />
          <SessionList
            id="session-drawer"
            open={drawerOpen}
            sessions={sessions}
            activeId={place.sessionId}
            state={sessionsState}
            error={sessionsError}
            hasMore={nextCursor !== null}
            onNew={() => openSession(null)}
            onOpen={(session) => openSession(session.id)}
            onDelete={deleteSession}
            onLoadMore={loadMore}
            onClose={() => closeDrawer(true)}
          />
          <main id="main" className="chat-main" tabIndex={-1}>
            <ChatView
              key={chatKey}
              api={api}
              sessionId={place.sessionId}
              title={chatTitle}
              blockedUntil={blockedUntil}
              linkSources={isAdmin}
              onRateLimited={(seconds) => setBlockedUntil(Date.now() + seconds * 1000)}
              onSessionCreated={(session) => {
                setSessions((current) => [session, ...current.filter((s) => s.id !== session.id)]);
                setDraft((current) => ({ ...current, sessionId: session.id }));
                go({ view: 'chat', sessionId: session.id }, { replace: true });
              }}
            />
          </main>
        </div>
      )}
    </div>
  );
}
