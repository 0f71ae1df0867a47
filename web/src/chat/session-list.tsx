// The user's chats, newest first; a drawer on narrow screens.
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { Session } from '@chatbot/api-types';
import { formatWhen } from '../format.ts';

export function sessionTitle(session: Session): string {
  return session.title?.trim() || 'Untitled chat';
}

export function SessionList(props: {
  id: string;
  open: boolean;
  sessions: Session[];
  activeId: string | null;
  state: 'loading' | 'ready' | 'more';
  error: string | null;
  hasMore: boolean;
  onNew: () => void;
  onOpen: (session: Session) => void;
  onDelete: (session: Session) => void;
  onLoadMore: () => void;
  onClose: () => void;
}) {
  const {
    id,
    open,
    sessions,
    activeId,
    state,
    error,
    hasMore,
    onNew,
    onOpen,
    onDelete,
    onLoadMore,
    onClose,
  } = props;
  const [confirming, setConfirming] = useState<string | null>(null);
  const newChatButton = useRef<HTMLButtonElement>(null);

  // Opening the drawer moves focus into it.
  useEffect(() => {
    if (open) newChatButton.current?.focus();
  }, [open]);

  function onKeyDown(event: KeyboardEvent<HTMLElement>) {
    if (event.key === 'Escape' && open) {
      event.stopPropagation();
      onClose();
    }
  }

  return (
    <aside id={id} className={`sessions${open ? ' open' : ''}`} aria-label="Chats" onKeyDown={onKeyDown}>
      <button ref={newChatButton} type="button" className="primary new-chat" onClick={onNew}>
        New chat
      </button>
      <h2 className="sessions-heading">Your chats</h2>
      {state === 'loading' && (
        <p role="status" className="hint">
          Loading chats…
        </p>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {state !== 'loading' && sessions.length === 0 && !error && <p className="hint">No chats yet.</p>}
      <ul className="session-items">
        {sessions.map((session) => {
          const title = sessionTitle(session);
          const active = session.id === activeId;
          return (
            <li key={session.id} className={active ? 'active' : undefined}>
              {confirming === session.id ? (
                <div className="confirm-row" role="group" aria-label={`Delete “${title}”?`}>
                  <span className="confirm-text">Delete “{title}”?</span>
                  <button
                    type="button"
                    className="danger"
                    onClick={() => {
                      setConfirming(null);
                      onDelete(session);
                    }}
                  >
                    Confirm delete
                  </button>
                  <button type="button" onClick={() => setConfirming(null)}>
                    Cancel
                  </button>
                </div>
              ) : (
                <>
                  <button
                    type="button"
                    className="session-open"
                    aria-current={active ? 'true' : undefined}
                    onClick={() => onOpen(session)}
                  >
                    <span className="session-title">{title}</span>
                    <span className="session-time">{formatWhen(session.updatedAt)}</span>
                  </button>
                  <button
                    type="button"
                    className="icon-button"
                    aria-label={`Delete chat “${title}”`}
                    title="Delete chat"
                    onClick={() => setConfirming(session.id)}
                  >
                    <span aria-hidden="true">×</span>
                  </button>
                </>
              )}
            </li>
          );
        })}
      </ul>
      {hasMore && (
        <button type="button" className="load-more" onClick={onLoadMore} disabled={state === 'more'}>
          {state === 'more' ? 'Loading…' : 'Load more chats'}
        </button>
      )}
    </aside>
  );
}
