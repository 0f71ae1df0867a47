// Knowledge bases for tenant admins: create and delete bases, choose which ones chats answer
// from, upload documents (with the upload's progress), follow their processing (the list is
// refreshed while any is queued or processing), retry or delete them, read a document's chunks
// (where chat citations link to), and try queries.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { isAbortError, type ApiClient } from '@chatbot/api-client';
import { describeError } from '../api/errors.ts';
import { ConfirmButton } from '../confirm-button.tsx';
import type { Chunk, KbDocument, KnowledgeBase, Source, Tenant } from '@chatbot/api-types';
import { formatNumber, formatWhen } from '../format.ts';
import type { Place } from '../navigation.ts';

type Feedback = { kind: 'ok' | 'error'; text: string } | null;

function FeedbackLine({ feedback }: { feedback: Feedback }) {
  if (feedback === null) return null;
  return (
    <p
      className={feedback.kind === 'ok' ? 'success' : 'error'}
      role={feedback.kind === 'ok' ? 'status' : 'alert'}
    >
      {feedback.text}
    </p>
  );
}

const ACCEPTED = '.txt,.md,.markdown,.html,.htm,.pdf,text/plain,text/markdown,text/html,application/pdf';

export function documentStatus(doc: KbDocument): string {
  switch (doc.status) {
    case 'queued':
      return doc.error === null ? 'Queued' : `Queued again after an error: ${doc.error}`;
    case 'processing':
      return `Processing ${doc.progress}%`;
    case 'ready':
      return `Ready: ${formatNumber(doc.chunks)} ${doc.chunks === 1 ? 'chunk' : 'chunks'}`;
    case 'failed':
      return `Failed: ${doc.error ?? 'unknown error'}`;
  }
}

const inFlight = (doc: KbDocument) => doc.status === 'queued' || doc.status === 'processing';

function SourceList({ sources }: { sources: Source[] }) {
  return (
    <ol className="search-results">
      {sources.map((s) => (
        <li key={s.chunkId}>
          <p className="source-title">
            <strong>{s.documentName}</strong>
            {s.heading && <span> — {s.heading}</span>}
            <span className="hint"> (score {s.score.toFixed(3)})</span>
          </p>
          <p className="source-text">{s.content}</p>
        </li>
      ))}
    </ol>
  );
}

function SearchPanel({ api, base }: { api: ApiClient; base: KnowledgeBase }) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<Source[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function search(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (query.trim() === '') return;
    setBusy(true);
    setError(null);
    try {
      setResults((await api.searchKnowledgeBase(base.id, query.trim(), 5)).items);
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="kb-search-heading">
      <h2 id="kb-search-heading">Try a query</h2>
      <form className="inline-form" onSubmit={search}>
        <label htmlFor="kb-search">Search this knowledge base</label>
        <input
          id="kb-search"
          type="search"
          value={query}
          onChange={(event) => setQuery(event.target.value)}
        />
        <button type="submit" disabled={busy}>
          Search
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {results !== null &&
        (results.length === 0 ? (
          <p role="status">Nothing found.</p>
        ) : (
          <div role="region" aria-label="Search results">
            <SourceList sources={results} />
          </div>
        ))}
    </section>
  );
}

function UploadForm(props: { api: ApiClient; base: KnowledgeBase; onUploaded: (doc: KbDocument) => void }) {
  const { api, base, onUploaded } = props;
  const fileRef = useRef<HTMLInputElement>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [feedback, setFeedback] = useState<Feedback>(null);

  async function upload(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const file = fileRef.current?.files?.[0];
    if (file === undefined) {
      setFeedback({ kind: 'error', text: 'Choose a file first.' });
      return;
    }
    setFeedback(null);
    setProgress(0);
    try {
      const doc = await api.uploadDocument(base.id, file, {
        onProgress: (fraction) => setProgress(fraction),
      });
      if (fileRef.current) fileRef.current.value = '';
      setFeedback({ kind: 'ok', text: `${doc.name} uploaded: it is queued for processing.` });
      onUploaded(doc);
    } catch (caught) {
      if (!isAbortError(caught)) setFeedback({ kind: 'error', text: describeError(caught) });
    } finally {
      setProgress(null);
    }
  }

  return (
    <form className="inline-form" onSubmit={upload}>
      <label htmlFor="kb-upload">Document to upload</label>
      <input id="kb-upload" ref={fileRef} type="file" accept={ACCEPTED} aria-describedby="kb-upload-help" />
      <button type="submit" className="primary" disabled={progress !== null}>
        Upload
      </button>
      <p id="kb-upload-help" className="hint">
        Text, Markdown, HTML or PDF.
      </p>
      {progress !== null && (
        <progress aria-label="Upload progress" max={100} value={Math.round(progress * 100)}>
          {Math.round(progress * 100)}%
        </progress>
      )}
      <FeedbackLine feedback={feedback} />
    </form>
  );
}

function DocumentRows(props: {
  api: ApiClient;
  base: KnowledgeBase;
  documents: KbDocument[];
  onChanged: () => void;
  onOpen: (doc: KbDocument) => void;
}) {
  const { api, base, documents, onChanged, onOpen } = props;
  const [error, setError] = useState<string | null>(null);

  async function act(work: () => Promise<unknown>) {
    setError(null);
    try {
      await work();
      onChanged();
    } catch (caught) {
      setError(describeError(caught));
    }
  }

  if (documents.length === 0) return <p className="hint">No documents yet.</p>;
  return (
    <>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="table-scroll">
        <table>
          <caption className="visually-hidden">Documents of {base.name}</caption>
          <thead>
            <tr>
              <th scope="col">Document</th>
              <th scope="col">Status</th>
              <th scope="col">Uploaded</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {documents.map((doc) => (
              <tr key={doc.id} data-status={doc.status}>
                <td>
                  {doc.status === 'ready' ? (
                    <a
                      href={`?view=knowledge&base=${base.id}&document=${doc.id}`}
                      onClick={(event) => {
                        event.preventDefault();
                        onOpen(doc);
                      }}
                    >
                      {doc.name}
                    </a>
                  ) : (
                    doc.name
                  )}
                </td>
                <td className="doc-status">
                  {documentStatus(doc)}
                  {doc.status === 'processing' && (
                    <progress aria-label={`Processing ${doc.name}`} max={100} value={doc.progress} />
                  )}
                </td>
                <td>{formatWhen(doc.createdAt)}</td>
                <td className="button-row">
                  {doc.status === 'failed' && (
                    <button type="button" onClick={() => act(() => api.retryDocument(base.id, doc.id))}>
                      Retry
                    </button>
                  )}
                  <ConfirmButton
                    label="Delete"
                    buttonProps={{ 'aria-label': `Delete ${doc.name}` }}
                    onConfirm={() => void act(() => api.deleteDocument(base.id, doc.id))}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function DocumentChunks(props: {
  api: ApiClient;
  base: KnowledgeBase;
  documentId: string;
  name: string | undefined;
  onBack: () => void;
}) {
  const { api, base, documentId, name, onBack } = props;
  const [chunks, setChunks] = useState<Chunk[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [target] = useState(() => /^#chunk-(\d+)$/.exec(window.location.hash)?.[1]);

  useEffect(() => {
    const controller = new AbortController();
    (async () => {
      const all: Chunk[] = [];
      let cursor: string | null = null;
      do {
        const page = await api.listChunks(base.id, documentId, { cursor, signal: controller.signal });
        all.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null);
      setChunks(all);
    })().catch((caught: unknown) => {
      if (!controller.signal.aborted) setError(describeError(caught));
    });
    return () => controller.abort();
  }, [api, base.id, documentId]);

  useEffect(() => {
    if (chunks !== null && target !== undefined) {
      document.getElementById(`chunk-${target}`)?.scrollIntoView?.({ block: 'center' });
    }
  }, [chunks, target]);

  return (
    <section className="card" aria-labelledby="kb-document-heading">
      <h2 id="kb-document-heading">{name ?? 'Document'}</h2>
      <p>
        <button type="button" onClick={onBack}>
          Back to the documents
        </button>
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {chunks === null && !error && <p className="hint">Loading chunks…</p>}
      {chunks !== null && (
        <ol className="chunks" aria-label="Chunks">
          {chunks.map((chunk) => {
            const current = String(chunk.index) === target;
            return (
              <li
                key={chunk.id}
                id={`chunk-${chunk.index}`}
                className={current ? 'chunk cited' : 'chunk'}
                aria-current={current ? 'true' : undefined}
              >
                {chunk.heading && <p className="chunk-heading">{chunk.heading}</p>}
                <p className="source-text">{chunk.content}</p>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}

function BasePanel(props: {
  api: ApiClient;
  base: KnowledgeBase;
  tenant: Tenant;
  documentId: string | null;
  pollMs: number;
  onTenantChange: (tenant: Tenant) => void;
  onBaseChange: (base: KnowledgeBase) => void;
  onDeleted: () => void;
  onOpenDocument: (documentId: string | null) => void;
}) {
  const { api, base, tenant, documentId, pollMs, onTenantChange, onBaseChange, onDeleted, onOpenDocument } =
    props;
  const [documents, setDocuments] = useState<KbDocument[] | null>(null);
  const [refresh, setRefresh] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [feedback, setFeedback] = useState<Feedback>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const used = tenant.settings.knowledgeBases.includes(base.id);
  const baseId = base.id;

  useEffect(() => {
    const controller = new AbortController();
    Promise.all([
      api.listDocuments(baseId, { signal: controller.signal }),
      api.getKnowledgeBase(baseId, { signal: controller.signal }),
    ]).then(
      ([page, fresh]) => {
        setDocuments(page.items);
        onBaseChange(fresh);
        setError(null);
      },
      (caught: unknown) => {
        if (!controller.signal.aborted) setError(describeError(caught));
      },
    );
    return () => controller.abort();
  }, [api, baseId, refresh, onBaseChange]);

  // While anything is queued or processing, look again.
  const pending = (documents ?? []).some(inFlight) || base.reindex?.status === 'building';
  useEffect(() => {
    if (!pending) return;
    const timer = window.setTimeout(() => setRefresh((n) => n + 1), pollMs);
    return () => window.clearTimeout(timer);
  }, [pending, pollMs, documents]);

  async function toggleUse() {
    setFeedback(null);
    const next = used
      ? tenant.settings.knowledgeBases.filter((k) => k !== base.id)
      : [...tenant.settings.knowledgeBases, base.id];
    try {
      onTenantChange(await api.updateTenant(tenant.id, { settings: { knowledgeBases: next } }));
      setFeedback({
        kind: 'ok',
        text: used
          ? 'Chats no longer answer from this knowledge base.'
          : 'Chats now answer from this knowledge base.',
      });
    } catch (caught) {
      setFeedback({ kind: 'error', text: describeError(caught) });
    }
  }

  async function remove() {
    setConfirmDelete(false);
    try {
      await api.deleteKnowledgeBase(base.id);
      if (used) {
        onTenantChange({
          ...tenant,
          settings: {
            ...tenant.settings,
            knowledgeBases: tenant.settings.knowledgeBases.filter((k) => k !== base.id),
          },
        });
      }
      onDeleted();
    } catch (caught) {
      setFeedback({ kind: 'error', text: describeError(caught) });
    }
  }

  if (documentId !== null) {
    return (
      <DocumentChunks
        api={api}
        base={base}
        documentId={documentId}
        name={documents?.find((d) => d.id === documentId)?.name}
        onBack={() => onOpenDocument(null)}
      />
    );
  }

  return (
    <>
      <section className="card" aria-labelledby="kb-base-heading">
        <h2 id="kb-base-heading">{base.name}</h2>
        {base.description && <p>{base.description}</p>}
        <dl className="facts">
          <dt>Documents ready</dt>
          <dd>{formatNumber(base.documents.ready)}</dd>
          <dt>In progress</dt>
          <dd>{formatNumber(base.documents.queued + base.documents.processing)}</dd>
          <dt>Failed</dt>
          <dd>{formatNumber(base.documents.failed)}</dd>
          <dt>Chunks</dt>
          <dd>{formatNumber(base.chunks)}</dd>
          <dt>Embedding model</dt>
          <dd>
            {base.embeddingModel}
            {base.embeddingDimensions !== null && ` (${base.embeddingDimensions} dimensions)`}
          </dd>
        </dl>
        {base.reindex && (
          <p className={base.reindex.status === 'failed' ? 'error' : 'hint'}>
            {base.reindex.status === 'building'
              ? `Re-indexing with ${base.reindex.embeddingModel}: ${base.reindex.progress}%`
              : `Re-indexing with ${base.reindex.embeddingModel} failed: ${base.reindex.error ?? 'unknown error'}`}
          </p>
        )}
        <label className="checkbox">
          <input type="checkbox" checked={used} onChange={toggleUse} />
          Answer chats from this knowledge base
        </label>
        <FeedbackLine feedback={feedback} />
        <UploadForm api={api} base={base} onUploaded={() => setRefresh((n) => n + 1)} />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {documents === null ? (
          <p className="hint">Loading documents…</p>
        ) : (
          <DocumentRows
            api={api}
            base={base}
            documents={documents}
            onChanged={() => setRefresh((n) => n + 1)}
            onOpen={(doc) => onOpenDocument(doc.id)}
          />
        )}
        <div className="button-row">
          {confirmDelete ? (
            <button type="button" className="danger" onClick={remove}>
              Confirm delete knowledge base
            </button>
          ) : (
            <button type="button" className="danger" onClick={() => setConfirmDelete(true)}>
              Delete knowledge base
            </button>
          )}
        </div>
      </section>
      <SearchPanel key={base.id} api={api} base={base} />
    </>
  );
}

export default function KnowledgeView(props: {
  api: ApiClient;
  tenant: Tenant;
  onTenantChange: (tenant: Tenant) => void;
  place: Place;
  go: (place: Place) => void;
  /** How often the page looks again while documents are processed. */
  pollMs?: number;
}) {
  const { api, tenant, onTenantChange, place, go, pollMs = 1000 } = props;
  const [bases, setBases] = useState<KnowledgeBase[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [feedback, setFeedback] = useState<Feedback>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    api.listKnowledgeBases({ signal: controller.signal }).then(
      (page) => setBases(page.items),
      (caught: unknown) => {
        if (!controller.signal.aborted) setError(describeError(caught));
      },
    );
    return () => controller.abort();
  }, [api, reload]);

  const selected = bases?.find((b) => b.id === place.baseId) ?? bases?.[0] ?? null;
  const select = (baseId: string | null, documentId: string | null = null) =>
    go({ view: 'knowledge', sessionId: null, baseId, documentId });
  const onBaseChange = useCallback(
    (fresh: KnowledgeBase) =>
      setBases((current) => current?.map((b) => (b.id === fresh.id ? fresh : b)) ?? null),
    [],
  );

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (name.trim() === '') return;
    setFeedback(null);
    try {
      const created = await api.createKnowledgeBase({ name: name.trim() });
      setBases((current) => [created, ...(current ?? [])]);
      setName('');
      select(created.id);
    } catch (caught) {
      setFeedback({ kind: 'error', text: describeError(caught) });
    }
  }

  return (
    <div className="settings knowledge">
      <h1>Knowledge bases</h1>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <section className="card" aria-labelledby="kb-list-heading">
        <h2 id="kb-list-heading">Your knowledge bases</h2>
        {bases === null && !error && <p className="hint">Loading…</p>}
        {bases !== null && bases.length === 0 && (
          <p className="hint">None yet: create one to upload documents.</p>
        )}
        {bases !== null && bases.length > 0 && (
          <ul className="kb-list">
            {bases.map((b) => (
              <li key={b.id}>
                <button type="button" aria-pressed={selected?.id === b.id} onClick={() => select(b.id)}>
                  {b.name}
                </button>
                <span className="hint">
                  {' '}
                  {formatNumber(b.documents.ready)} ready
                  {tenant.settings.knowledgeBases.includes(b.id) && ', used by chats'}
                </span>
              </li>
            ))}
          </ul>
        )}
        <form className="inline-form" onSubmit={create}>
          <label htmlFor="kb-new-name">New knowledge base name</label>
          <input
            id="kb-new-name"
            value={name}
            onChange={(event) => setName(event.target.value)}
            maxLength={200}
          />
          <button type="submit">Create knowledge base</button>
        </form>
        <FeedbackLine feedback={feedback} />
      </section>
      {selected && (
        <BasePanel
          key={selected.id}
          api={api}
          base={selected}
          tenant={tenant}
          documentId={place.baseId === selected.id ? (place.documentId ?? null) : null}
          pollMs={pollMs}
          onTenantChange={onTenantChange}
          onBaseChange={onBaseChange}
          onDeleted={() => {
            setBases((current) => current?.filter((b) => b.id !== selected.id) ?? null);
            select(null);
            setReload((n) => n + 1);
          }}
          onOpenDocument={(documentId) => select(selected.id, documentId)}
        />
      )}
    </div>
  );
}
