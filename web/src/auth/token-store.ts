// The sign-in token lives in sessionStorage (gone when the tab closes); a memory copy
// covers browsers that refuse storage.
const KEY = 'chatbot.token';
let memory: string | null = null;

export function readToken(): string | null {
  try {
    return window.sessionStorage.getItem(KEY) ?? memory;
  } catch {
    return memory;
  }
}

export function saveToken(token: string): void {
  memory = token;
  try {
    window.sessionStorage.setItem(KEY, token);
  } catch {
    // storage refused: the memory copy lasts until the page reloads
  }
}

export function clearToken(): void {
  memory = null;
  try {
    window.sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}

/** Whether the address carries a token (`#token=...`), without taking it. */
export function fragmentHasToken(): boolean {
  return window.location.hash
    .replace(/^#/, '')
    .split('&')
    .some((part) => part.startsWith('token='));
}

/**
 * A tenant's site may hand over a token once as `#token=...`: take it out of the address (so
 * it is not bookmarked, shared or left in the history) and answer it, or null when there is
 * none. It is not kept: the caller decides whether it replaces the token of the tab (a link
 * must not silently sign a signed-in user in as someone else).
 */
export function takeTokenFromFragment(): string | null {
  const hash = window.location.hash.replace(/^#/, '');
  if (hash === '') return null;
  const parts = hash.split('&');
  const index = parts.findIndex((part) => part.startsWith('token='));
  if (index === -1) return null;
  let token = parts[index]!.slice('token='.length);
  try {
    token = decodeURIComponent(token);
  } catch {
    // keep it as written
  }
  parts.splice(index, 1);
  token = token.trim();
  const rest = parts.join('&');
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, '', `${pathname}${search}${rest ? `#${rest}` : ''}`);
  return token === '' ? null : token;
}
