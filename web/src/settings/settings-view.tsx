// Tenant settings for tenant admins: model and system prompt, limits (read-only here),
// the tenant's own provider key, API keys and usage.
import { useEffect, useId, useState, type FormEvent } from 'react';
import type { ApiClient } from '@chatbot/api-client';
import { describeError } from '../api/errors.ts';
import type { Tenant, TenantSettingsPatch } from '@chatbot/api-types';
import { formatNumber } from '../format.ts';
import { ApiKeysPanel } from './api-keys.tsx';
import { UsagePanel } from './usage.tsx';

type Feedback = { kind: 'ok' | 'error'; text: string } | null;

function FeedbackLine({ feedback }: { feedback: Feedback }) {
  if (feedback === null) return null;
  return feedback.kind === 'ok' ? (
    <p className="success" role="status">
      {feedback.text}
    </p>
  ) : (
    <p className="error" role="alert">
      {feedback.text}
    </p>
  );
}

function ModelForm(props: { api: ApiClient; tenant: Tenant; onTenantChange: (tenant: Tenant) => void }) {
  const { api, tenant, onTenantChange } = props;
  const [model, setModel] = useState(tenant.settings.model);
  const [systemPrompt, setSystemPrompt] = useState(tenant.settings.systemPrompt);
  const [busy, setBusy] = useState(false);
  const [feedback, setFeedback] = useState<Feedback>(null);
  const modelsListId = useId();
  const allowed = tenant.settings.allowedModels;

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const settings: TenantSettingsPatch = {};
    const wantedModel = model.trim();
    if (wantedModel !== tenant.settings.model) settings.model = wantedModel === '' ? null : wantedModel;
    if (systemPrompt !== tenant.settings.systemPrompt) settings.systemPrompt = systemPrompt;
    if (Object.keys(settings).length === 0) {
      setFeedback({ kind: 'ok', text: 'No changes to save.' });
      return;
    }
    setBusy(true);
    setFeedback(null);
    try {
      const updated = await api.updateTenant(tenant.id, { settings });
      onTenantChange(updated);
      setModel(updated.settings.model);
      setSystemPrompt(updated.settings.systemPrompt);
      setFeedback({ kind: 'ok', text: 'Settings saved.' });
    } catch (error) {
      setFeedback({ kind: 'error', text: describeError(error) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="settings-model-heading">
      <h2 id="settings-model-heading">Model and system prompt</h2>
      <form onSubmit={save} className="stack">
        <label htmlFor="settings-model">Model</label>
        <input
          id="settings-model"
          name="model"
          value={model}
          onChange={(event) => setModel(event.target.value)}
          list={allowed.length > 0 ? modelsListId : undefined}
          aria-describedby="settings-model-help"
          autoComplete="off"
          spellCheck={false}
        />
        {allowed.length > 0 && (
          <datalist id={modelsListId}>
            {allowed.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
        )}
        <p id="settings-model-help" className="hint">
          {allowed.length > 0
            ? `Allowed models: ${allowed.join(', ')}.`
            : 'Any model the provider offers, such as openai/gpt-4o-mini. Leave empty for the platform default.'}
          {tenant.settings.fallbackModels.length > 0 &&
            ` Fallback models: ${tenant.settings.fallbackModels.join(', ')}.`}
        </p>
        <label htmlFor="settings-system-prompt">System prompt</label>
        <textarea
          id="settings-system-prompt"
          name="systemPrompt"
          rows={6}
          value={systemPrompt}
          onChange={(event) => setSystemPrompt(event.target.value)}
          aria-describedby="settings-system-prompt-help"
        />
        <p id="settings-system-prompt-help" className="hint">
          Sent to the model before every conversation of this tenant.
        </p>
        <FeedbackLine feedback={feedback} />
        <div>
          <button type="submit" className="primary" disabled={busy}>
            Save settings
          </button>
        </div>
      </form>
    </section>
  );
}

function LimitsPanel({ tenant }: { tenant: Tenant }) {
  const { rateLimit, maxOutputTokens } = tenant.settings;
  return (
    <section className="card" aria-labelledby="settings-limits-heading">
      <h2 id="settings-limits-heading">Limits</h2>
      <dl className="facts">
        <dt>Requests per minute</dt>
        <dd>{formatNumber(rateLimit.rpm)}</dd>
        <dt>Tokens per minute</dt>
        <dd>{formatNumber(rateLimit.tpm)}</dd>
        <dt>Longest reply (tokens)</dt>
        <dd>{formatNumber(maxOutputTokens)}</dd>
      </dl>
      <p className="hint">Only the platform operator can change the rate limits.</p>
    </section>
  );
}

function ProviderKeyForm(props: {
  api: ApiClient;
  tenant: Tenant;
  onTenantChange: (tenant: Tenant) => void;
}) {
  const { api, tenant, onTenantChange } = props;
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [feedback, setFeedback] = useState<Feedback>(null);

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const apiKey = key.trim();
    if (apiKey === '') {
      setFeedback({ kind: 'error', text: 'Paste the provider key first.' });
      return;
    }
    setBusy(true);
    setFeedback(null);
    try {
      await api.setProviderKey(tenant.id, apiKey);
      setKey('');
      onTenantChange({ ...tenant, hasProviderKey: true });
      setFeedback({
        kind: 'ok',
        text: 'Provider key saved. It is stored encrypted and cannot be shown again.',
      });
    } catch (error) {
      setFeedback({ kind: 'error', text: describeError(error) });
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    setFeedback(null);
    try {
      await api.deleteProviderKey(tenant.id);
      onTenantChange({ ...tenant, hasProviderKey: false });
      setFeedback({ kind: 'ok', text: 'Provider key removed: the platform key is used again.' });
    } catch (error) {
      setFeedback({ kind: 'error', text: describeError(error) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="settings-provider-heading">
      <h2 id="settings-provider-heading">Provider key</h2>
      <p className="provider-status">
        {tenant.hasProviderKey
          ? 'This tenant uses its own provider key.'
          : 'This tenant uses the platform’s provider key.'}
      </p>
      <form onSubmit={save} className="stack">
        <label htmlFor="settings-provider-key">
          {tenant.hasProviderKey ? 'New provider API key' : 'Provider API key'}
        </label>
        <input
          id="settings-provider-key"
          name="providerKey"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(event) => setKey(event.target.value)}
          aria-describedby="settings-provider-key-help"
        />
        <p id="settings-provider-key-help" className="hint">
          Your own OpenRouter key. It is write-only: once saved it is never shown.
        </p>
        <FeedbackLine feedback={feedback} />
        <div className="button-row">
          <button type="submit" className="primary" disabled={busy}>
            Save provider key
          </button>
          {tenant.hasProviderKey && (
            <button type="button" className="danger" onClick={remove} disabled={busy}>
              Remove provider key
            </button>
          )}
        </div>
      </form>
    </section>
  );
}

export default function SettingsView(props: {
  api: ApiClient;
  tenant: Tenant;
  onTenantChange: (tenant: Tenant) => void;
}) {
  const { api, tenant, onTenantChange } = props;
  const [loadError, setLoadError] = useState<string | null>(null);
  const [revision, setRevision] = useState(0);
  const [startedWith] = useState(tenant.settings);
  const tenantId = tenant.id;

  // The sign-in answer may be old: fetch the tenant's current settings.
  useEffect(() => {
    let active = true;
    api.getTenant(tenantId).then(
      (fresh) => {
        if (!active) return;
        onTenantChange(fresh);
        // Only when they differ, so nothing typed meanwhile is thrown away for no reason.
        if (
          fresh.settings.model !== startedWith.model ||
          fresh.settings.systemPrompt !== startedWith.systemPrompt
        ) {
          setRevision((n) => n + 1);
        }
      },
      (error: unknown) => {
        if (active) setLoadError(describeError(error));
      },
    );
    return () => {
      active = false;
    };
  }, [api, tenantId, onTenantChange, startedWith]);

  return (
    <div className="settings">
      <h1>Settings for {tenant.name}</h1>
      {loadError && (
        <p className="error" role="alert">
          {loadError}
        </p>
      )}
      {/* Remounted when the fresh settings arrive, so the form starts from them. */}
      <ModelForm key={revision} api={api} tenant={tenant} onTenantChange={onTenantChange} />
      <LimitsPanel tenant={tenant} />
      <ProviderKeyForm api={api} tenant={tenant} onTenantChange={onTenantChange} />
      <ApiKeysPanel api={api} tenantId={tenant.id} />
      <UsagePanel api={api} />
    </div>
  );
}
