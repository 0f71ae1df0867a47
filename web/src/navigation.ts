// Where the page is: `?view=settings`, `?view=knowledge` (with `&base=<id>` and
// `&document=<id>`; a chunk as `#chunk-<index>`), or the chat with `?session=<id>`. Kept in the
// address so a reload (or the back button) comes back to the same place.
import { useEffect, useState } from 'react';

export interface Place {
  view: 'chat' | 'settings' | 'knowledge';
  sessionId: string | null;
  /** On the knowledge page: the knowledge base and the document shown. */
  baseId?: string | null;
  documentId?: string | null;
}

function readPlace(): Place {
  const params = new URLSearchParams(window.location.search);
  if (params.get('view') === 'settings') return { view: 'settings', sessionId: null };
  if (params.get('view') === 'knowledge') {
    return {
      view: 'knowledge',
      sessionId: null,
      baseId: params.get('base'),
      documentId: params.get('document'),
    };
  }
  return { view: 'chat', sessionId: params.get('session') };
}

export function placeHref(place: Place): string {
  const params = new URLSearchParams();
  if (place.view === 'settings') params.set('view', 'settings');
  else if (place.view === 'knowledge') {
    params.set('view', 'knowledge');
    if (place.baseId) params.set('base', place.baseId);
    if (place.documentId) params.set('document', place.documentId);
  } else if (place.sessionId) params.set('session', place.sessionId);
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

/** Where a cited passage is shown: its document on the knowledge page, at the chunk. */
export function sourceHref(source: {
  knowledgeBaseId: string;
  documentId: string;
  chunkIndex: number;
}): string {
  const href = placeHref({
    view: 'knowledge',
    sessionId: null,
    baseId: source.knowledgeBaseId,
    documentId: source.documentId,
  });
  return `${href}#chunk-${source.chunkIndex}`;
}
