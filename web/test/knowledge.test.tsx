import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { App } from '../src/app.tsx';
import type { KbDocument, KnowledgeBase, Source, Tenant } from '@chatbot/api-types';
import { apiError, installFakeApi, json, type Handler } from './support/fake-api.ts';
import { adminMe, tenant, userMe } from './support/fixtures.ts';

function knowledgeBase(id: string, name: string, extra: Partial<KnowledgeBase> = {}): KnowledgeBase {
  return {
    id,
    name,
    description: '',
    embeddingModel: 'openai/text-embedding-3-small',
    embeddingDimensions: 1536,
    chunkSize: 1200,
    chunkOverlap: 200,
    documents: { queued: 0, processing: 0, ready: 0, failed: 0 },
    chunks: 0,
    reindex: null,
    createdAt: '2025-03-01T10:00:00.000Z',
    updatedAt: '2025-03-01T10:00:00.000Z',
    ...extra,
  };
}

function kbDocument(id: string, name: string, extra: Partial<KbDocument> = {}): KbDocument {
  return {
    id,
    knowledgeBaseId: 'kb1',
    name,
    contentType: 'text/markdown',
    bytes: 120,
    status: 'ready',
    progress: 100,
    chunks: 3,
    attempts: 1,
    error: null,
    createdAt: '2025-03-01T10:00:00.000Z',
    updatedAt: '2025-03-01T10:00:00.000Z',
    ...extra,
  };
}

/** XMLHttpRequest for the upload: the test sends its progress and its answer. */
class FakeUpload {
  static last: FakeUpload | undefined;
  upload: {
    onprogress: ((event: { lengthComputable: boolean; loaded: number; total: number }) => void) | null;
  } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  status = 0;
  responseText = '';
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: FormData | undefined;
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  getResponseHeader() {
    return 'application/json';
  }
  send(body: FormData) {
    this.body = body;
    FakeUpload.last = this;
  }
  abort() {
    this.onabort?.();
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ lengthComputable: true, loaded, total });
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

function knowledgeApp(
  opts: { routes?: Record<string, Handler>; path?: string; documents?: KbDocument[] } = {},
) {
  let current: Tenant = structuredClone(tenant);
  const bases = [
    knowledgeBase('kb1', 'Handbook', { documents: { queued: 0, processing: 0, ready: 1, failed: 0 } }),
  ];
  const state = { documents: opts.documents ?? [kbDocument('d1', 'handbook.md')] };
  const fake = installFakeApi({
    'GET /v1/me': () => json(200, { ...adminMe, tenant: current }),
    'GET /v1/sessions': () => json(200, { items: [], nextCursor: null }),
    'GET /v1/knowledge-bases': () => json(200, { items: bases, nextCursor: null }),
    'GET /v1/knowledge-bases/:id': (_call, params) =>
      json(
        200,
        bases.find((b) => b.id === params.id),
      ),
    'GET /v1/knowledge-bases/:id/documents': () => json(200, { items: state.documents, nextCursor: null }),
    'PATCH /v1/tenants/:id': (call) => {
      const patch = (call.body as { settings: { knowledgeBases?: string[] } }).settings;
      current = { ...current, settings: { ...current.settings, knowledgeBases: patch.knowledgeBases ?? [] } };
      return json(200, current);
    },
    ...opts.routes,
  });
  vi.stubGlobal('XMLHttpRequest', FakeUpload);
  window.history.replaceState(null, '', opts.path ?? '/?view=knowledge');
  const user = userEvent.setup();
  render(<App />);
  return { fake, user, state, bases };
}

const rowOf = (name: string) => screen.getByRole('cell', { name }).closest('tr') as HTMLElement;

describe('knowledge bases', () => {
  it('is reached from the Knowledge link by tenant admins only', async () => {
    installFakeApi({
      'GET /v1/me': () => json(200, userMe),
      'GET /v1/sessions': () => json(200, { items: [], nextCursor: null }),
    });
    window.history.replaceState(null, '', '/?view=knowledge');
    render(<App />);
    await screen.findByRole('log', { name: 'Messages' });
    expect(screen.queryByRole('link', { name: 'Knowledge' })).toBeNull();
  });

  it('uploads a document with its progress, then follows it from queued to ready', async () => {
    const { user, state, fake } = knowledgeApp({ documents: [] });
    await screen.findByRole('heading', { level: 2, name: 'Handbook' });
    expect(await screen.findByText('No documents yet.')).toBeInTheDocument();

    const file = new File(['# Refunds\n\nWithin 30 days.'], 'refunds.md', { type: 'text/markdown' });
    await user.upload(screen.getByLabelText('Document to upload'), file);
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    const xhr = FakeUpload.last!;
    expect(xhr.method).toBe('POST');
    expect(xhr.url).toBe('/v1/knowledge-bases/kb1/documents');
    expect((xhr.body!.get('file') as File).name).toBe('refunds.md');
    act(() => xhr.progress(50, 200));
    expect(screen.getByRole('progressbar', { name: 'Upload progress' })).toHaveAttribute('value', '25');

    state.documents = [kbDocument('d2', 'refunds.md', { status: 'processing', progress: 40, chunks: 0 })];
    act(() => xhr.answer(202, kbDocument('d2', 'refunds.md', { status: 'queued', progress: 0, chunks: 0 })));
    expect(await screen.findByText('refunds.md uploaded: it is queued for processing.')).toBeInTheDocument();
    expect(await screen.findByText('Processing 40%')).toBeInTheDocument();
    expect(screen.queryByRole('progressbar', { name: 'Upload progress' })).toBeNull();

    // The list is looked at again while a document is in flight, until it is ready.
    state.documents = [kbDocument('d2', 'refunds.md', { chunks: 2 })];
    expect(await screen.findByText('Ready: 2 chunks', {}, { timeout: 5000 })).toBeInTheDocument();
    expect(fake.callsTo('GET', '/v1/knowledge-bases/kb1/documents').length).toBeGreaterThan(2);
  });

  it("shows why an upload was refused, in the service's words", async () => {
    const { user } = knowledgeApp();
    await screen.findByRole('heading', { level: 2, name: 'Handbook' });
    await user.upload(screen.getByLabelText('Document to upload'), new File(['x'], 'a.md'));
    await user.click(screen.getByRole('button', { name: 'Upload' }));
    act(() =>
      FakeUpload.last!.answer(413, {
        error: { code: 'payload_too_large', message: 'the file is larger than 20971520 bytes' },
      }),
    );
    expect(await screen.findByRole('alert')).toHaveTextContent('larger than 20971520 bytes');
  });

  it('shows a failed document with its reason, retries it, and deletes one after confirmation', async () => {
    const { user, state, fake } = knowledgeApp({
      documents: [
        kbDocument('d1', 'handbook.md'),
        kbDocument('d2', 'broken.pdf', { status: 'failed', error: 'the file is not a PDF', chunks: 0 }),
      ],
      routes: {
        'POST /v1/knowledge-bases/:id/documents/:doc/retry': () => {
          state.documents = [
            state.documents[0]!,
            kbDocument('d2', 'broken.pdf', { status: 'queued', chunks: 0 }),
          ];
          return json(202, state.documents[1]);
        },
        'DELETE /v1/knowledge-bases/:id/documents/:doc': (_call, params) => {
          state.documents = state.documents.filter((d) => d.id !== params.doc);
          return json(204);
        },
      },
    });
    expect(await screen.findByText('Failed: the file is not a PDF')).toBeInTheDocument();
    await user.click(within(rowOf('broken.pdf')).getByRole('button', { name: 'Retry' }));
    expect(await screen.findByText('Queued')).toBeInTheDocument();
    expect(fake.callsTo('POST', '/v1/knowledge-bases/kb1/documents/d2/retry')).toHaveLength(1);

    await user.click(screen.getByRole('button', { name: 'Delete handbook.md' }));
    await user.click(within(rowOf('handbook.md')).getByRole('button', { name: 'Confirm delete' }));
    await waitFor(() => expect(screen.queryByRole('cell', { name: 'handbook.md' })).toBeNull());
    expect(fake.callsTo('DELETE', '/v1/knowledge-bases/kb1/documents/d1')).toHaveLength(1);
  });

  it('makes chats answer from a base, and stop, through the tenant setting', async () => {
    const { user, fake } = knowledgeApp();
    const box = await screen.findByRole('checkbox', { name: 'Answer chats from this knowledge base' });
    expect(box).not.toBeChecked();
    await user.click(box);
    await waitFor(() => expect(box).toBeChecked());
    expect(fake.callsTo('PATCH', `/v1/tenants/${tenant.id}`)[0]!.body).toEqual({
      settings: { knowledgeBases: ['kb1'] },
    });
    await user.click(box);
    await waitFor(() => expect(box).not.toBeChecked());
    expect(fake.callsTo('PATCH', `/v1/tenants/${tenant.id}`)[1]!.body).toEqual({
      settings: { knowledgeBases: [] },
    });
  });

  it('creates a knowledge base and tries a query on it', async () => {
    const found: Source = {
      knowledgeBaseId: 'kb2',
      documentId: 'd9',
      documentName: 'faq.md',
      chunkId: 'c9',
      chunkIndex: 0,
      heading: 'FAQ > Shipping',
      content: 'We ship within two days.',
      score: 0.0328,
    };
    const { user, fake, bases } = knowledgeApp({
      routes: {
        'POST /v1/knowledge-bases': (call) => {
          const created = knowledgeBase('kb2', (call.body as { name: string }).name);
          bases.unshift(created);
          return json(201, created);
        },
        'POST /v1/knowledge-bases/:id/search': () => json(200, { items: [found] }),
      },
    });
    await screen.findByRole('heading', { level: 2, name: 'Handbook' });
    await user.type(screen.getByLabelText('New knowledge base name'), 'FAQ');
    await user.click(screen.getByRole('button', { name: 'Create knowledge base' }));
    expect(await screen.findByRole('heading', { level: 2, name: 'FAQ' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'FAQ' })).toHaveAttribute('aria-pressed', 'true');

    await user.type(screen.getByLabelText('Search this knowledge base'), 'shipping time');
    await user.click(screen.getByRole('button', { name: 'Search' }));
    const results = await screen.findByRole('region', { name: 'Search results' });
    expect(within(results).getByText('We ship within two days.')).toBeInTheDocument();
    expect(within(results).getByText('faq.md')).toBeInTheDocument();
    expect(fake.callsTo('POST', '/v1/knowledge-bases/kb2/search')[0]!.body).toEqual({
      query: 'shipping time',
      k: 5,
    });
  });

  it("opens a citation's document at the cited chunk", async () => {
    knowledgeApp({
      path: '/?view=knowledge&base=kb1&document=d1#chunk-1',
      routes: {
        'GET /v1/knowledge-bases/:id/documents/:doc/chunks': () =>
          json(200, {
            items: [
              { id: 'c0', documentId: 'd1', index: 0, heading: 'Handbook', content: 'Welcome.' },
              {
                id: 'c1',
                documentId: 'd1',
                index: 1,
                heading: 'Handbook > Refunds',
                content: 'Within 30 days.',
              },
            ],
            nextCursor: null,
          }),
      },
    });
    const chunks = await screen.findByRole('list', { name: 'Chunks' });
    const cited = within(chunks).getByText('Within 30 days.').closest('li')!;
    expect(cited).toHaveAttribute('aria-current', 'true');
    expect(cited).toHaveAttribute('id', 'chunk-1');
    expect(screen.getByRole('heading', { level: 2, name: 'handbook.md' })).toBeInTheDocument();
  });

  it('answers an unreadable list with the reason', async () => {
    knowledgeApp({
      routes: {
        'GET /v1/knowledge-bases': () => apiError(503, 'unavailable', 'the database is unreachable'),
      },
    });
    expect(await screen.findByRole('alert')).toHaveTextContent('temporarily unavailable');
  });
});
