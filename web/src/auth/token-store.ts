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

/**
 * A tenant's site may hand over a token once as `#token=...`: keep it and take it out of
 * the address (so it is not bookmarked, shared or left in the history).
 */
export function takeTokenFromFragment(): void {
  const hash = window.location.hash.replace(/^#/, '');
  if (hash === '') return;
  const parts = hash.split('&');
  const index = parts.findIndex((part) => part.startsWith('token='));
  if (index === -1) return;
  let token = parts[index]!.slice('token='.length);
  try {
    token = decodeURIComponent(token);
  } catch {
    // keep it as written
  }
  parts.splice(index, 1);
  token = token.trim();
  if (token !== '') saveToken(token);
  const rest = parts.join('&');
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, '', `${pathname}${search}${rest ? `#${rest}` : ''}`);
}
