// One conversation: its history, the reply streaming in, the composer.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { ApiError, isAbortError, type ApiClient } from '@chatbot/api-client';
import { describeError } from '../api/errors.ts';
import type { Message, Session, Source } from '@chatbot/api-types';
import { formatClock, randomId } from '../format.ts';
import { sourceHref } from '../navigation.ts';
import { Composer } from './composer.tsx';
import { SafeMarkdown } from './markdown.tsx';

/** The turn being sent or the last one that did not complete. */
interface Turn {
  content: string;
  idempotencyKey: string;
  /** The stored user message, once the service confirmed it (`event: message`). */
  userMessage: Message | null;
  reply: string;
  /** The knowledge-base passages the reply is given (`event: sources`). */
  sources: Source[] | undefined;
  phase: 'sending' | 'streaming' | 'failed' | 'stopped';
  error: ApiError | null;
}

/** Failures after which the first attempt may still have completed: retry with the same key. */
const CONNECTION_FAILURES = new Set(['network_error', 'stream_interrupted']);

export function titleFor(content: string): string {
  const line = content.replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

/**
 * The passages a reply was given, numbered as it cites them: each a link to its document and
 * chunk on the knowledge page (tenant admins), and the passage itself, to unfold.
 */
export function Sources(props: { sources: Source[]; linked: boolean }) {
  const { sources, linked } = props;
  if (sources.length === 0) return null;
  return (
    <details className="sources">
      <summary>Sources ({sources.length})</summary>
      <ol aria-label="Sources">
        {sources.map((source, i) => {
          const title = `${source.documentName}${source.heading ? ` — ${source.heading}` : ''}`;
          return (
            <li key={source.chunkId} value={i + 1}>
              {linked ? <a href={sourceHref(source)}>{title}</a> : <span>{title}</span>}
              <p className="source-text">{source.content}</p>
            </li>
          );
        })}
      </ol>
    </details>
  );
}

function MessageItem({ message, linked }: { message: Message; linked: boolean }) {
  return (
    <li className={`message message-${message.role}`} data-role={message.role} data-status={message.status}>
      <p className="visually-hidden">{message.role === 'user' ? 'You:' : 'Assistant:'}</p>
      <div className="message-body">
        {message.role === 'assistant' ? (
          <SafeMarkdown text={message.content} />
        ) : (
          <p className="plain">{message.content}</p>
        )}
      </div>
      {message.sources && <Sources sources={message.sources} linked={linked} />}
      {message.status === 'failed' && <p className="message-note">This reply did not complete.</p>}
      {message.status === 'streaming' && <p className="message-note">This reply was still being written.</p>}
    </li>
  );
}

function RateLimitNotice({ until }: { until: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 500);
    return () => window.clearInterval(timer);
  }, []);
  const seconds = Math.max(0, Math.ceil((until - now) / 1000));
  return (
    <div className="notice rate-limit">
      <p role="alert">Message limit reached for now. You can send again at {formatClock(until)}.</p>
      <p>
        Sending resumes in <span className="countdown">{seconds}</span> {seconds === 1 ? 'second' : 'seconds'}
        .
      </p>
    </div>
  );
}

export function ChatView(props: {
  api: ApiClient;
  sessionId: string | null;
  title: string;
  blockedUntil: number | null;
  onRateLimited: (retryAfterSeconds: number) => void;
  onSessionCreated: (session: Session) => void;
  /** Sources link to the knowledge page (which only tenant admins may open). */
  linkSources?: boolean;
}) {
  const { api, title, blockedUntil, onRateLimited, onSessionCreated, linkSources = false } = props;
  // The session this conversation shows; a draft gets one with its first message.
  const [initialSessionId] = useState(props.sessionId);
  const sessionRef = useRef(props.sessionId);
  const [history, setHistory] = useState<Message[]>([]);
  const [loading, setLoading] = useState(initialSessionId !== null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [turn, setTurn] = useState<Turn | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const logRef = useRef<HTMLDivElement>(null);
  const followRef = useRef(true);

  const busy = turn !== null && (turn.phase === 'sending' || turn.phase === 'streaming');
  const blocked = blockedUntil !== null;

  useEffect(() => {
    if (initialSessionId === null) return;
    const controller = new AbortController();
    api.listAllMessages(initialSessionId, { signal: controller.signal }).then(
      (messages) => {
        setHistory(messages);
        setLoading(false);
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setLoadError(describeError(error));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [api, initialSessionId]);

  // Leaving the conversation stops its reply.
  useEffect(() => () => abortRef.current?.abort(), []);

  useEffect(() => {
    // A fine pointer means a keyboard is likely at hand; on phones this would pop the keyboard up.
    if (window.matchMedia?.('(pointer: fine)').matches) inputRef.current?.focus({ preventScroll: true });
  }, []);

  // Keep the newest text in view while the reader is at the bottom.
  useLayoutEffect(() => {
    const log = logRef.current;
    if (log && followRef.current) log.scrollTop = log.scrollHeight;
  }, [history, turn]);

  async function run(content: string, idempotencyKey: string) {
    const controller = new AbortController();
    abortRef.current = controller;
    const stored: { user: Message | null } = { user: null };
    setTurn({
      content,
      idempotencyKey,
      userMessage: null,
      reply: '',
      sources: undefined,
      phase: 'sending',
      error: null,
    });
    followRef.current = true;
    try {
      let sessionId = sessionRef.current;
      if (sessionId === null) {
        const session = await api.createSession({ title: titleFor(content) }, { signal: controller.signal });
        sessionId = session.id;
        sessionRef.current = session.id;
        onSessionCreated(session);
      }
      const reply = await api.sendMessage(sessionId, content, {
        signal: controller.signal,
        idempotencyKey,
        onMessage: (message) => {
          stored.user = message;
          setTurn((t) => t && { ...t, userMessage: message, phase: 'streaming' });
        },
        onSources: (sources) => setTurn((t) => t && { ...t, sources }),
        onDelta: (piece) => setTurn((t) => t && { ...t, reply: t.reply + piece, phase: 'streaming' }),
      });
      const user: Message = stored.user ?? {
        id: `local-${idempotencyKey}`,
        role: 'user',
        content,
        status: 'complete',
        createdAt: reply.createdAt,
      };
      setHistory((messages) => [...messages, user, reply]);
      setTurn(null);
    } catch (error) {
      if (isAbortError(error)) {
        setTurn((t) => t && { ...t, phase: 'stopped' });
        return;
      }
      if (error instanceof ApiError && error.status === 401) return; // the page returns to sign-in
      const failure =
        error instanceof ApiError
          ? error
          : new ApiError({ status: 0, code: 'internal', message: String(error), cause: error });
      if (failure.code === 'rate_limited') onRateLimited(failure.retryAfterSeconds ?? 60);
      setTurn((t) => t && { ...t, phase: 'failed', error: failure });
    } finally {
      if (abortRef.current === controller) abortRef.current = null;
    }
  }

  /** A turn that did not complete stays in the conversation as the service stored it. */
  function settle(previous: Turn) {
    const user = previous.userMessage;
    if (user === null) return; // never stored: nothing to keep
    const failed: Message = {
      id: `failed-${user.id}`,
      role: 'assistant',
      content: previous.reply,
      status: 'failed',
      createdAt: user.createdAt,
    };
    setHistory((messages) => [...messages, user, failed]);
  }

  function send(content: string): boolean {
    if (busy || blocked) return false;
    if (turn) settle(turn);
    void run(content, randomId());
    return true;
  }

  function retry() {
    if (!turn || busy || blocked) return;
    settle(turn);
    const sameKey = turn.error !== null && CONNECTION_FAILURES.has(turn.error.code);
    void run(turn.content, sameKey ? turn.idempotencyKey : randomId());
  }

  function failureText(t: Turn): string {
    if (t.error === null) return '';
    if (t.error.code === 'rate_limited')
      return 'Your message was not sent: the message limit is reached for now.';
    const reason = describeError(t.error);
    return t.userMessage === null ? `Your message was not sent. ${reason}` : `The reply failed. ${reason}`;
  }

  const status =
    turn?.phase === 'sending'
      ? 'Sending your message…'
      : turn?.phase === 'streaming'
        ? 'The assistant is replying…'
        : turn?.phase === 'stopped'
          ? 'Reply stopped.'
          : '';

  return (
    <div className="chat">
      <h1 className="chat-title">{title}</h1>
      <div
        ref={logRef}
        className="log"
        role="log"
        aria-label="Messages"
        aria-live="polite"
        aria-busy={busy}
        tabIndex={0}
        onScroll={(event) => {
          const el = event.currentTarget;
          followRef.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
      >
        {loading && <p className="hint">Loading messages…</p>}
        {loadError && (
          <p className="error" role="alert">
            {loadError}
          </p>
        )}
        {!loading && !loadError && history.length === 0 && turn === null && (
          <p className="empty">Ask anything to start the conversation.</p>
        )}
        <ol className="messages">
          {history.map((message) => (
            <MessageItem key={message.id} message={message} linked={linkSources} />
          ))}
          {turn && (
            <>
              <li
                className="message message-user"
                data-role="user"
                data-status={turn.userMessage ? 'complete' : turn.phase === 'failed' ? 'failed' : 'pending'}
              >
                <p className="visually-hidden">You:</p>
                <div className="message-body">
                  <p className="plain">{turn.content}</p>
                </div>
              </li>
              <li
                className="message message-assistant"
                data-role="assistant"
                data-status={busy ? 'streaming' : 'failed'}
              >
                <p className="visually-hidden">Assistant:</p>
                {turn.reply !== '' && (
                  <div className="message-body">
                    <SafeMarkdown text={turn.reply} />
                  </div>
                )}
                {busy && turn.reply === '' && (
                  <p className="typing" aria-hidden="true">
                    <span />
                    <span />
                    <span />
                  </p>
                )}
                {turn.sources && <Sources sources={turn.sources} linked={linkSources} />}
                {turn.phase === 'stopped' && <p className="message-note">You stopped this reply.</p>}
                {turn.phase === 'failed' && (
                  <p className="error" role="alert">
                    {failureText(turn)}
                  </p>
                )}
                {!busy && (
                  <button type="button" className="retry" onClick={retry} disabled={blocked}>
                    Retry
                  </button>
                )}
              </li>
            </>
          )}
        </ol>
      </div>
      <p className="visually-hidden" role="status">
        {status}
      </p>
      {blockedUntil !== null && <RateLimitNotice key={blockedUntil} until={blockedUntil} />}
      <Composer
        inputRef={inputRef}
        busy={busy}
        blocked={blocked}
        onSend={send}
        onStop={() => abortRef.current?.abort()}
      />
    </div>
  );
}
