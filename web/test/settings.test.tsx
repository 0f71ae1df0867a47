import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../src/app.tsx';
import type { ApiKey, Tenant } from '@chatbot/api-types';
import { fillDays, lastDays } from '../src/settings/usage.tsx';
import { apiError, installFakeApi, json, type Handler } from './support/fake-api.ts';
import { adminMe, tenant } from './support/fixtures.ts';

const base = `/v1/tenants/${tenant.id}`;

function settingsApp(routes: Record<string, Handler> = {}, path = '/?view=settings', start: Tenant = tenant) {
  let current: Tenant = structuredClone(start);
  let keys: ApiKey[] = [
    {
      id: 'k1',
      name: 'old backend',
      prefix: 'cbk_old1',
      createdAt: '2025-02-01T00:00:00.000Z',
      lastUsedAt: null,
    },
  ];
  const fake = installFakeApi({
    'GET /v1/me': () => json(200, { ...adminMe, tenant: current }),
    'GET /v1/sessions': () => json(200, { items: [], nextCursor: null }),
    'GET /v1/tenants/:id': () => json(200, current),
    'PATCH /v1/tenants/:id': (call) => {
      const patch = (call.body as { settings: Record<string, unknown> }).settings;
      const settings = { ...current.settings };
      if ('model' in patch) settings.model = (patch.model as string | null) ?? 'platform/default';
      if ('systemPrompt' in patch) settings.systemPrompt = (patch.systemPrompt as string | null) ?? '';
      current = { ...current, settings };
      return json(200, current);
    },
    'PUT /v1/tenants/:id/provider-key': () => json(204),
    'DELETE /v1/tenants/:id/provider-key': () => json(204),
    'GET /v1/tenants/:id/api-keys': () => json(200, { items: keys, nextCursor: null }),
    'POST /v1/tenants/:id/api-keys': (call) => {
      const name = (call.body as { name?: string }).name ?? null;
      const created = { id: 'k2', name, prefix: 'cbk_new2', createdAt: '2025-03-01T00:00:00.000Z' };
      keys = [{ ...created, lastUsedAt: null }, ...keys];
      return json(201, { ...created, key: 'cbk_new2SECRETvalue' });
    },
    'DELETE /v1/tenants/:id/api-keys/:keyId': (_call, params) => {
      keys = keys.filter((k) => k.id !== params.keyId);
      return json(204);
    },
    'GET /v1/usage': () => json(200, { items: [] }),
    ...routes,
  });
  window.history.replaceState(null, '', path);
  const user = userEvent.setup();
  render(<App />);
  return { fake, user };
}

const section = (name: string) => screen.getByRole('region', { name });

describe('settings', () => {
  it('is reached from the Settings link', async () => {
    const { user } = settingsApp({}, '/');
    await screen.findByRole('textbox', { name: 'Message' });
    await user.click(screen.getByRole('link', { name: 'Settings' }));
    expect(await screen.findByRole('heading', { level: 1, name: 'Settings for Acme' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Settings' })).toHaveAttribute('aria-current', 'page');
    expect(window.location.search).toBe('?view=settings');
    expect(screen.queryByRole('textbox', { name: 'Message' })).not.toBeInTheDocument();
    await user.click(screen.getByRole('link', { name: 'Chat' }));
    expect(await screen.findByRole('textbox', { name: 'Message' })).toBeInTheDocument();
  });

  it('saves the model and system prompt with a PATCH of the changed settings only', async () => {
    const { fake, user } = settingsApp();
    const model = await screen.findByLabelText('Model');
    await waitFor(() => expect(fake.callsTo('GET', base)).toHaveLength(1));
    const prompt = screen.getByLabelText('System prompt');
    expect(model).toHaveValue('openai/gpt-4o-mini');
    expect(prompt).toHaveValue('Be brief.');

    await user.clear(prompt);
    await user.type(prompt, 'Answer in French.');
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    expect(await screen.findByText('Settings saved.')).toBeInTheDocument();
    expect(fake.callsTo('PATCH', base).map((c) => c.body)).toEqual([
      { settings: { systemPrompt: 'Answer in French.' } },
    ]);

    await user.clear(screen.getByLabelText('Model'));
    await user.type(screen.getByLabelText('Model'), 'anthropic/claude-3.5-haiku');
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    await waitFor(() => expect(fake.callsTo('PATCH', base)).toHaveLength(2));
    expect(fake.callsTo('PATCH', base)[1]?.body).toEqual({
      settings: { model: 'anthropic/claude-3.5-haiku' },
    });

    // an empty model goes back to the platform's default
    await user.clear(screen.getByLabelText('Model'));
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    await waitFor(() => expect(fake.callsTo('PATCH', base)).toHaveLength(3));
    expect(fake.callsTo('PATCH', base)[2]?.body).toEqual({ settings: { model: null } });
    await waitFor(() => expect(screen.getByLabelText('Model')).toHaveValue('platform/default'));
  });

  it('shows the reason when the service refuses a setting', async () => {
    const { user } = settingsApp({
      'PATCH /v1/tenants/:id': () => apiError(400, 'invalid_request', 'model is not in allowedModels'),
    });
    const model = await screen.findByLabelText('Model');
    await user.type(model, 'x');
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    expect(await within(section('Model and system prompt')).findByRole('alert')).toHaveTextContent(
      'The request was not accepted. model is not in allowedModels.',
    );
  });

  it('shows the rate limits read-only', async () => {
    settingsApp();
    const limits = await screen.findByRole('region', { name: 'Limits' });
    expect(limits).toHaveTextContent('Requests per minute60');
    expect(limits).toHaveTextContent('Tokens per minute100,000');
    expect(within(limits).queryByRole('textbox')).not.toBeInTheDocument();
    expect(within(limits).queryByRole('spinbutton')).not.toBeInTheDocument();
    expect(limits).toHaveTextContent('Only the platform operator can change the rate limits.');
  });

  it('treats the provider key as write-only: PUT sends it, then nothing shows it', async () => {
    const { fake, user } = settingsApp();
    const region = await screen.findByRole('region', { name: 'Provider key' });
    expect(region).toHaveTextContent('uses the platform’s provider key');
    const input = within(region).getByLabelText('Provider API key');
    expect(input).toHaveAttribute('type', 'password');
    await user.type(input, 'sk-or-secret-123');
    await user.click(within(region).getByRole('button', { name: 'Save provider key' }));
    expect(await within(region).findByText(/Provider key saved/)).toBeInTheDocument();
    expect(fake.callsTo('PUT', `${base}/provider-key`)[0]?.body).toEqual({ apiKey: 'sk-or-secret-123' });
    expect(region).toHaveTextContent('This tenant uses its own provider key.');
    expect(within(region).getByLabelText('New provider API key')).toHaveValue('');
    expect(document.body.innerHTML).not.toContain('sk-or-secret-123');

    await user.click(within(region).getByRole('button', { name: 'Remove provider key' }));
    expect(await within(region).findByText(/platform key is used again/)).toBeInTheDocument();
    expect(fake.callsTo('DELETE', `${base}/provider-key`)).toHaveLength(1);
    expect(region).toHaveTextContent('uses the platform’s provider key');
  });

  it('shows a new API key once with a copy button, then only in the list by its prefix', async () => {
    const { fake, user } = settingsApp();
    const region = await screen.findByRole('region', { name: 'API keys' });
    await within(region).findByText('old backend');
    await user.type(within(region).getByLabelText('Key name (optional)'), 'chat backend');
    await user.click(within(region).getByRole('button', { name: 'Create API key' }));

    const shown = await within(region).findByRole('textbox', { name: 'New API key' });
    expect(shown).toHaveValue('cbk_new2SECRETvalue');
    expect(fake.callsTo('POST', `${base}/api-keys`)[0]?.body).toEqual({ name: 'chat backend' });
    expect(region).toHaveTextContent('it will not be shown again');
    await user.click(within(region).getByRole('button', { name: 'Copy key' }));
    expect(await navigator.clipboard.readText()).toBe('cbk_new2SECRETvalue');
    expect(await within(region).findByText('Copied to the clipboard.')).toBeInTheDocument();

    await user.click(within(region).getByRole('button', { name: 'Done' }));
    expect(within(region).queryByRole('textbox', { name: 'New API key' })).not.toBeInTheDocument();
    expect(document.body.innerHTML).not.toContain('SECRETvalue');
    const row = within(region).getByRole('row', { name: /chat backend/ });
    expect(row).toHaveTextContent('cbk_new2…');
    expect(within(region).getAllByRole('button', { name: 'Revoke' })).toHaveLength(2);
  });

  it('creates a key without a name when none is given', async () => {
    const { fake, user } = settingsApp();
    const region = await screen.findByRole('region', { name: 'API keys' });
    await user.click(within(region).getByRole('button', { name: 'Create API key' }));
    await within(region).findByRole('textbox', { name: 'New API key' });
    expect(fake.callsTo('POST', `${base}/api-keys`)[0]?.body).toEqual({});
  });

  it('revokes a key after confirmation', async () => {
    const { fake, user } = settingsApp();
    const region = await screen.findByRole('region', { name: 'API keys' });
    const row = await within(region).findByRole('row', { name: /old backend/ });
    const revoke = within(row).getByRole('button', { name: 'Revoke' });
    expect(revoke).toHaveAccessibleDescription('old backend');
    await user.click(revoke);
    expect(fake.callsTo('DELETE', `${base}/api-keys/k1`)).toHaveLength(0);
    await user.click(within(row).getByRole('button', { name: 'Confirm revoke' }));
    await waitFor(() => expect(within(region).queryByText('old backend')).not.toBeInTheDocument());
    expect(fake.callsTo('DELETE', `${base}/api-keys/k1`)).toHaveLength(1);
    expect(region).toHaveTextContent('Key old backend revoked.');
    expect(region).toHaveTextContent('No API keys yet.');
  });

  it('draws usage per day as bars over the last 30 days', async () => {
    const days = lastDays(30);
    const { fake } = settingsApp({
      'GET /v1/usage': () =>
        json(200, {
          items: [
            { day: days[27], requests: 3, promptTokens: 300, completionTokens: 100 },
            { day: days[29], requests: 5, promptTokens: 800, completionTokens: 200 },
          ],
        }),
    });
    const region = await screen.findByRole('region', { name: 'Usage, last 30 days' });
    const chart = await within(region).findByRole('img');
    expect(chart.getAttribute('aria-label')).toBe(
      `Tokens per day from ${days[0]} to ${days[29]}: 1,400 in total, at most 1,000 on one day.`,
    );
    expect(chart.querySelectorAll('.bar-prompt')).toHaveLength(30);
    const bars = [...chart.querySelectorAll('.bar-prompt')].map((bar) => Number(bar.getAttribute('height')));
    expect(bars[29]).toBeGreaterThan(bars[27]!);
    expect(bars[0]).toBe(0);
    expect(region).toHaveTextContent('Requests8');
    expect(fake.callsTo('GET', '/v1/usage')[0]?.search.toString()).toBe(`from=${days[0]}&to=${days[29]}`);
  });

  it('fills the days without traffic with zeros', () => {
    const days = lastDays(3, new Date(Date.UTC(2025, 2, 1, 15)));
    expect(days).toEqual(['2025-02-27', '2025-02-28', '2025-03-01']);
    expect(
      fillDays(days, [{ day: '2025-02-28', requests: 1, promptTokens: 2, completionTokens: 3 }]),
    ).toEqual([
      { day: '2025-02-27', requests: 0, promptTokens: 0, completionTokens: 0 },
      { day: '2025-02-28', requests: 1, promptTokens: 2, completionTokens: 3 },
      { day: '2025-03-01', requests: 0, promptTokens: 0, completionTokens: 0 },
    ]);
  });
});
