// The message box: Enter sends, Shift+Enter adds a line; Stop while a reply streams.
import { useLayoutEffect, useState, type KeyboardEvent, type RefObject } from 'react';
import { formatNumber } from '../format.ts';

export const MAX_MESSAGE_LENGTH = 32_000;

export function Composer(props: {
  inputRef: RefObject<HTMLTextAreaElement | null>;
  busy: boolean;
  blocked: boolean;
  onSend: (content: string) => boolean;
  onStop: () => void;
}) {
  const { inputRef, busy, blocked, onSend, onStop } = props;
  const [text, setText] = useState('');
  const content = text.trim();
  const tooLong = content.length > MAX_MESSAGE_LENGTH;
  const canSend = content !== '' && !busy && !blocked && !tooLong;

  // Grow with the text, up to the height CSS allows.
  useLayoutEffect(() => {
    const input = inputRef.current;
    if (!input) return;
    input.style.height = 'auto';
    if (input.scrollHeight > 0) input.style.height = `${input.scrollHeight + 2}px`;
  }, [text, inputRef]);

  function submit() {
    if (!canSend) return;
    if (onSend(content)) setText('');
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  }

  return (
    <form
      className="composer"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
        inputRef.current?.focus();
      }}
    >
      <label htmlFor="composer-input" className="visually-hidden">
        Message
      </label>
      <textarea
        id="composer-input"
        ref={inputRef}
        name="message"
        rows={1}
        value={text}
        placeholder="Write a message…"
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
        aria-describedby="composer-hint"
        aria-invalid={tooLong}
      />
      <div className="composer-actions">
        <p id="composer-hint" className={tooLong ? 'error' : 'hint'}>
          {tooLong
            ? `Too long: ${formatNumber(content.length)} of ${formatNumber(MAX_MESSAGE_LENGTH)} characters.`
            : 'Enter to send, Shift+Enter for a new line.'}
        </p>
        {busy ? (
          <button type="button" className="danger" onClick={onStop}>
            Stop
          </button>
        ) : (
          <button type="submit" className="primary" disabled={!canSend}>
            Send
          </button>
        )}
      </div>
    </form>
  );
}
