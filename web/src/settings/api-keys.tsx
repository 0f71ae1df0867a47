// The tenant's API keys: create (the key is shown once), list, revoke.
import { useEffect, useState, type FormEvent } from 'react';
import type { ApiClient } from '@chatbot/api-client';
import { describeError } from '../api/errors.ts';
import { ConfirmButton } from '../confirm-button.tsx';
import type { ApiKey, CreatedApiKey } from '@chatbot/api-types';
import { formatWhen } from '../format.ts';

function NewKey({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  async function copy() {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  }
  return (
    <div className="new-key" role="region" aria-labelledby="new-key-heading">
      <h3 id="new-key-heading">New API key{created.name ? `: ${created.name}` : ''}</h3>
      <p>Copy this key now: it will not be shown again.</p>
      <label htmlFor="new-key-value">New API key</label>
      <div className="key-row">
        <input
          id="new-key-value"
          readOnly
          value={created.key}
          spellCheck={false}
          onFocus={(event) => event.currentTarget.select()}
        />
        <button type="button" onClick={copy}>
          Copy key
        </button>
      </div>
      <p role="status" className={copied === 'failed' ? 'error' : 'success'}>
        {copied === 'yes'
          ? 'Copied to the clipboard.'
          : copied === 'failed'
            ? 'Copy failed: select the key and copy it.'
            : ''}
      </p>
      <button type="button" className="primary" onClick={onDone}>
        Done
      </button>
    </div>
  );
}

export function ApiKeysPanel({ api, tenantId }: { api: ApiClient; tenantId: string }) {
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [reload, setReload] = useState(0);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');

  useEffect(() => {
    let active = true;
    api.listApiKeys(tenantId).then(
      (page) => {
        if (!active) return;
        setKeys(page.items);
        setNextCursor(page.nextCursor);
        setLoading(false);
      },
      (caught: unknown) => {
        if (!active) return;
        setError(describeError(caught));
        setLoading(false);
      },
    );
    return () => {
      active = false;
    };
  }, [api, tenantId, reload]);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setStatus('');
    try {
      const trimmed = name.trim();
      const key = await api.createApiKey(tenantId, trimmed === '' ? {} : { name: trimmed });
      setCreated(key);
      setName('');
      setReload((n) => n + 1);
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  }

  async function revoke(key: ApiKey) {
    setError(null);
    try {
      await api.revokeApiKey(tenantId, key.id);
      setKeys((current) => current.filter((k) => k.id !== key.id));
      setStatus(`Key ${key.name ?? key.prefix} revoked.`);
    } catch (caught) {
      setError(describeError(caught));
    }
  }

  async function loadMore() {
    if (nextCursor === null) return;
    try {
      const page = await api.listApiKeys(tenantId, { cursor: nextCursor });
      setKeys((current) => [...current, ...page.items.filter((k) => !current.some((c) => c.id === k.id))]);
      setNextCursor(page.nextCursor);
    } catch (caught) {
      setError(describeError(caught));
    }
  }

  return (
    <section className="card" aria-labelledby="settings-keys-heading">
      <h2 id="settings-keys-heading">API keys</h2>
      <p className="hint">Keys let this tenant’s own backend call the API. A key acts as a tenant admin.</p>
      {created ? (
        <NewKey created={created} onDone={() => setCreated(null)} />
      ) : (
        <form onSubmit={create} className="inline-form">
          <label htmlFor="api-key-name">Key name (optional)</label>
          <input
            id="api-key-name"
            name="name"
            value={name}
            maxLength={200}
            onChange={(event) => setName(event.target.value)}
            autoComplete="off"
          />
          <button type="submit" className="primary" disabled={busy}>
            Create API key
          </button>
        </form>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <p className="success" role="status">
        {status}
      </p>
      {loading ? (
        <p className="hint">Loading keys…</p>
      ) : keys.length === 0 ? (
        <p className="hint">No API keys yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="keys">
            <caption className="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key starts with</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.id}>
                  <th scope="row" id={`api-key-${key.id}`}>
                    {key.name ?? <span className="hint">(no name)</span>}
                  </th>
                  <td>
                    <code>{key.prefix}…</code>
                  </td>
                  <td>{formatWhen(key.createdAt)}</td>
                  <td>{key.lastUsedAt ? formatWhen(key.lastUsedAt) : 'Never'}</td>
                  <td className="actions">
                    <ConfirmButton
                      label="Revoke"
                      buttonProps={{ 'aria-describedby': `api-key-${key.id}` }}
                      onConfirm={() => void revoke(key)}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {nextCursor !== null && (
        <button type="button" onClick={loadMore}>
          Load more keys
        </button>
      )}
    </section>
  );
}
