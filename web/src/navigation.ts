// Where the page is: `?view=settings`, or the chat with `?session=<id>`. Kept in the
// address so a reload (or the back button) comes back to the same place.
import { useEffect, useState } from 'react';

export interface Place {
  view: 'chat' | 'settings';
  sessionId: string | null;
}

function readPlace(): Place {
  const params = new URLSearchParams(window.location.search);
  if (params.get('view') === 'settings') return { view: 'settings', sessionId: null };
  return { view: 'chat', sessionId: params.get('session') };
}

export function placeHref(place: Place): string {
  const params = new URLSearchParams();
  if (place.view === 'settings') params.set('view', 'settings');
  else if (place.sessionId) params.set('session', place.sessionId);
  const search = params.toString();
  return `${window.location.pathname}${search ? `?${search}` : ''}`;
}

export function usePlace(): [Place, (place: Place, options?: { replace?: boolean }) => void] {
  const [place, setPlace] = useState<Place>(readPlace);
  useEffect(() => {
    const onPop = () => setPlace(readPlace());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const go = (next: Place, options: { replace?: boolean } = {}) => {
    const href = placeHref(next);
    if (options.replace) window.history.replaceState(null, '', href);
    else window.history.pushState(null, '', href);
    setPlace(next);
  };
  return [place, go];
}
