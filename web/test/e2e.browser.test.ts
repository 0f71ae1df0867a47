// The web UI end to end: headless Chromium (playwright-core) against the real service
// process serving the web build (WEB_ROOT), on real Postgres and Redis, with the streaming
// LLM stub as the only stand-in. Screenshots at phone and desktop widths go to
// web/test-results/browser/; a failed step saves `failed-<step>.png` there.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createApiClient } from '@chatbot/api-client';
import type { Tenant } from '@chatbot/api-types';
import { createTokenSigner, type Role } from '@chatbot/service/jwt';
import {
  createTestDatabase,
  generateRsaKeys,
  startServiceProcess,
  testServiceEnv,
  type ServiceProcess,
} from '@chatbot/service/test-harness';
import type {} from '@chatbot/test-kit/global-setup';
import { startLlmStub, type LlmStub } from '@chatbot/test-kit/llm-stub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACTS_DIR,
  buildWeb,
  DESKTOP,
  launchChromium,
  PHONE,
  resetArtifacts,
  screenshot,
  step,
} from './support/browser.ts';

/** The limiter's window in this run: short, so the test sees the limit lift. */
const WINDOW_SECONDS = 10;
/** Pause between the stub's streamed words: the reply visibly grows. */
const STUB_WORD_DELAY_MS = 150;

let browser: Browser;
let service: ServiceProcess;
let stub: LlmStub;
const cleanups: (() => Promise<unknown>)[] = [];
let tenantId: string;
let tenantName: string;
let platformToken: string;
let tokenFor: (sub: string, role: Role) => Promise<string>;

/** The API client of the web, in Node, with one credential: anything but 2xx throws an ApiError. */
const as = (token: string) => createApiClient({ baseUrl: service.url, getToken: () => token });

async function setRpm(rpm: number | null): Promise<void> {
  await as(platformToken).updateTenant(tenantId, { settings: { rateLimit: { rpm } } });
}

/** A browser context at a width; every request it makes must go to the service. */
async function openPage(
  viewport: { width: number; height: number },
  phone = false,
): Promise<{ context: BrowserContext; page: Page; check(): void }> {
  const context = await browser.newContext({
    viewport,
    ...(phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const foreign: string[] = [];
  const pageErrors: string[] = [];
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin !== service.url && url.protocol !== 'data:' && url.protocol !== 'blob:')
      foreign.push(request.url());
  });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  // The browser reports the refusals the test provokes (401 before sign-in, 429); nothing else.
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of (401|429)\b/.test(message.text()))
      return;
    pageErrors.push(`console: ${message.text()}`);
  });
  return {
    context,
    page,
    check: () => {
      expect(foreign, 'requests that left the service').toEqual([]);
      expect(pageErrors, 'errors in the page').toEqual([]);
    },
  };
}

/** The chat list's button that opens a chat (named by its title, then its time). */
const chatButton = (page: Page, title: string) =>
  page
    .getByRole('complementary', { name: 'Chats' })
    .getByRole('button', { name: new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) });
const composer = (page: Page) => page.getByRole('textbox', { name: 'Message' });
const messages = (page: Page) => page.getByRole('log', { name: 'Messages' });
const assistantReplies = (page: Page, status: string) =>
  messages(page).locator(`li[data-role="assistant"][data-status="${status}"]`);

/** Records every text the streaming reply shows, as the page renders it. */
async function watchReplyGrowth(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { replyTexts: string[] }).replyTexts = seen;
    new MutationObserver(() => {
      const streaming = document.querySelectorAll(
        '[role="log"] li[data-role="assistant"][data-status="streaming"] .message-body',
      );
      const text = streaming[streaming.length - 1]?.textContent ?? '';
      if (text !== '' && text !== seen[seen.length - 1]) seen.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

const replyTexts = (page: Page) =>
  page.evaluate(() => (window as unknown as { replyTexts: string[] }).replyTexts);

beforeAll(async () => {
  await resetArtifacts();
  const [built, db, llmStub] = await Promise.allSettled([
    buildWeb(),
    createTestDatabase(),
    startLlmStub({ slowDelayMs: STUB_WORD_DELAY_MS }),
  ]);
  if (built.status === 'fulfilled') cleanups.push(built.value.remove);
  if (db.status === 'fulfilled') cleanups.push(db.value.drop);
  if (llmStub.status === 'fulfilled') cleanups.push(llmStub.value.close);
  for (const result of [built, db, llmStub]) if (result.status === 'rejected') throw result.reason;
  const web = (built as PromiseFulfilledResult<{ dir: string }>).value;
  const database = (db as PromiseFulfilledResult<{ url: string }>).value;
  const llm = (llmStub as PromiseFulfilledResult<LlmStub>).value;
  stub = llm;
  const keys = generateRsaKeys();
  const uploads = await mkdtemp(join(tmpdir(), 'e2e-uploads-'));
  cleanups.push(() => rm(uploads, { recursive: true, force: true }));
  const sign = createTokenSigner(keys.privateKey, { issuer: undefined, audience: undefined });
  tokenFor = async (sub, role) => (await sign({ sub, role, tenantId }, 3600)).token;
  // Secrets go to the process through its environment only.
  service = await startServiceProcess({
    ...testServiceEnv({ databaseUrl: database.url, stubUrl: stub.url, keys }),
    DEFAULT_MODEL: 'stub/slow',
    LLM_TIMEOUT_MS: '10000',
    RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
    WEB_ROOT: web.dir,
    // Knowledge bases: one worker in the service process, embeddings from the stub.
    UPLOADS_DIR: uploads,
    KB_WORKER_CONCURRENCY: '1',
    KB_QUEUE_PREFIX: `e2e-${randomBytes(4).toString('hex')}`,
    EMBEDDING_MODEL: 'test/embed',
  });
  cleanups.unshift(() => service.stop());
  platformToken = (await sign({ sub: 'ops', role: 'platform_admin', tenantId: null }, 3600)).token;
  tenantName = `E2E ${randomBytes(3).toString('hex')}`;
  tenantId = (await as(platformToken).request<Tenant>('POST', '/v1/tenants', { body: { name: tenantName } }))
    .id;
  browser = await launchChromium();
  cleanups.unshift(() => browser.close());
});

afterAll(async () => {
  if (service !== undefined)
    await writeFile(join(ARTIFACTS_DIR, 'service.log'), service.logs.join('\n') + '\n').catch(
      (error: unknown) => console.error(error),
    );
  for (const cleanup of cleanups) await cleanup().catch((error: unknown) => console.error(error));
});

describe('the web UI in Chromium against the service', () => {
  it('a user signs in with the form, starts a chat, watches the reply stream in and finds it after a reload (desktop)', async () => {
    const { context, page, check } = await openPage(DESKTOP);
    const question = 'Hello from the browser test, please say something back';
    const answer = `Echo: ${question}`;
    try {
      await step(page, 'desktop sign-in form', async () => {
        await page.goto(service.url + '/');
        await page.getByRole('heading', { name: 'Sign in to chat' }).waitFor();
        await screenshot(page, 'desktop-sign-in');
        // A token the service refuses (401) keeps the form up with a reason.
        await page.getByLabel('Token').fill('not-a-token');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('alert').filter({ hasText: 'This token was not accepted' }).waitFor();
        await page.getByLabel('Token').fill(await tokenFor('alice', 'user'));
        await page.getByRole('button', { name: 'Sign in' }).click();
        await composer(page).waitFor();
        await page.getByText(tenantName).waitFor();
      });

      await step(page, 'desktop new chat streams a reply', async () => {
        await page
          .getByRole('complementary', { name: 'Chats' })
          .getByRole('button', { name: 'New chat' })
          .click();
        await watchReplyGrowth(page);
        await composer(page).fill(question);
        await page.getByRole('button', { name: 'Send' }).click();
        await page.getByRole('button', { name: 'Stop' }).waitFor();
        const done = assistantReplies(page, 'complete').filter({ hasText: answer });
        await done.waitFor();
        expect((await done.textContent())?.trim()).toContain(answer);
        // The reply grew in steps: at least two partial texts, each longer, each the start of the whole.
        const seen = (await replyTexts(page)).map((text) => text.trim());
        const partial = seen.filter((text) => text !== answer);
        expect(partial.length, `texts seen while streaming: ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(
          2,
        );
        for (const [i, text] of partial.entries()) {
          expect(answer.startsWith(text), text).toBe(true);
          if (i > 0) expect(text.length).toBeGreaterThan(partial[i - 1]!.length);
        }
        expect(stub.requests.at(-1)?.body.model).toBe('stub/slow');
      });

      let sessionId = '';
      await step(page, 'desktop session created', async () => {
        // The first message created the session: in the list, in the address and in the API.
        await chatButton(page, question).waitFor();
        await expect.poll(() => new URL(page.url()).searchParams.get('session')).toMatch(/^[0-9a-f-]{36}$/);
        sessionId = new URL(page.url()).searchParams.get('session')!;
        const listed = await as(await tokenFor('alice', 'user')).listSessions();
        expect(listed.items.map((s) => [s.id, s.title])).toEqual([[sessionId, question]]);
        await screenshot(page, 'desktop-chat');
      });

      await step(page, 'desktop history after reload', async () => {
        await page.reload();
        await messages(page).locator('li[data-role="user"]').filter({ hasText: question }).waitFor();
        await assistantReplies(page, 'complete').filter({ hasText: answer }).waitFor();
        expect(await messages(page).locator('li[data-role]').count()).toBe(2);
        expect(new URL(page.url()).searchParams.get('session')).toBe(sessionId);
        await chatButton(page, question).and(page.locator('[aria-current="true"]')).waitFor();
        await screenshot(page, 'desktop-history-after-reload');
      });
      check();
    } finally {
      await context.close();
    }
  });

  it('no login CSRF through the URL: a signed-in user who opens a link with another identity’s #token= is asked, sees both, and chooses (desktop)', async () => {
    const { context, page, check } = await openPage(DESKTOP);
    const aliceToken = await tokenFor('alice', 'user');
    const storedToken = () => page.evaluate(() => window.sessionStorage.getItem('chatbot.token'));
    try {
      // Someone else's credential: an API key of a tenant of their own.
      const evilName = `Evil ${randomBytes(3).toString('hex')}`;
      const ops = as(platformToken);
      const evil = await ops.request<Tenant>('POST', '/v1/tenants', { body: { name: evilName } });
      const evilKey = await ops.createApiKey(evil.id, { name: 'lure' });
      const lure = `${service.url}/#token=${encodeURIComponent(evilKey.key)}`;

      await step(page, 'desktop signed in before the lure', async () => {
        await page.goto(`${service.url}/#token=${encodeURIComponent(aliceToken)}`);
        await composer(page).waitFor();
        await page.getByText(tenantName).waitFor();
      });

      await step(page, 'desktop lure link asks before switching', async () => {
        // Another site sends the tab to the chat with its own token in the address.
        await page.goto('about:blank');
        await page.goto(lure);
        const dialog = page.getByRole('dialog', { name: 'Switch account?' });
        await dialog.waitFor();
        const now = dialog.getByRole('region', { name: 'Signed in now' });
        await now.getByText('alice', { exact: true }).waitFor();
        await now.getByText('user', { exact: true }).waitFor();
        await now.getByText(new RegExp(`^${tenantName} \\(`)).waitFor();
        const link = dialog.getByRole('region', { name: 'The link signs in as' });
        await link.getByText(`key:${evilKey.id}`, { exact: true }).waitFor();
        await link.getByText('tenant admin', { exact: true }).waitFor();
        await link.getByText(new RegExp(`^${evilName} \\(`)).waitFor();
        expect(page.url()).not.toContain('token=');
        expect((await storedToken()) === aliceToken, 'the kept token is still alice’s').toBe(true);
        await composer(page).waitFor({ state: 'detached' });
        await screenshot(page, 'desktop-switch-account');
      });

      await step(page, 'desktop stays signed in', async () => {
        await page.getByRole('button', { name: 'Stay signed in as alice' }).click();
        await composer(page).waitFor();
        await page.getByText(tenantName).waitFor();
        expect((await storedToken()) === aliceToken, 'the kept token is still alice’s').toBe(true);
      });

      await step(page, 'desktop switches when asked to', async () => {
        await page.goto('about:blank');
        await page.goto(lure);
        await page.getByRole('button', { name: `Switch to key:${evilKey.id}` }).click();
        await page.getByText(evilName).waitFor();
        expect((await storedToken()) === evilKey.key, 'the link’s key is kept once chosen').toBe(true);
      });
      check();
    } finally {
      await context.close();
    }
  });

  it('a tenant admin signed in through #token= hits the rate limit, sees when sending resumes, and sends again (phone)', async () => {
    const { context, page, check } = await openPage(PHONE, true);
    let adminToken = '';
    try {
      await step(page, 'phone sign-in from the fragment', async () => {
        adminToken = await tokenFor('admin', 'tenant_admin');
        await page.goto(`${service.url}/#token=${encodeURIComponent(adminToken)}`);
        await composer(page).waitFor();
        // The token left the address and stays for the tab.
        expect(page.url()).not.toContain('token=');
        const stored = await page.evaluate(() => window.sessionStorage.getItem('chatbot.token'));
        expect(stored === adminToken, 'the token kept in sessionStorage').toBe(true);
        await page.getByRole('button', { name: 'Chats' }).waitFor();
      });

      await setRpm(1);
      const limitNotice = page.getByText('Message limit reached for now');
      let refused = '';
      await step(page, 'phone message refused by the rate limit', async () => {
        // One message per window: whether one is admitted first depends on what else the
        // tenant sent inside the window, so send until the limit answers (at most three).
        for (let n = 1; n <= 3 && refused === ''; n++) {
          const content = `Message ${n} under a limit of one`;
          await composer(page).fill(content);
          if (n === 1) await composer(page).press('Enter');
          else await page.getByRole('button', { name: 'Send' }).click();
          const done = assistantReplies(page, 'complete').filter({ hasText: `Echo: ${content}` });
          await done.or(limitNotice).waitFor();
          if (await limitNotice.isVisible()) refused = content;
        }
        expect(refused, 'a message refused by the limit').not.toBe('');
        await limitNotice.waitFor();
        await page.getByText('Your message was not sent: the message limit is reached for now.').waitFor();
        const countdown = Number(await page.locator('.rate-limit .countdown').textContent());
        expect(countdown).toBeGreaterThanOrEqual(1);
        expect(countdown).toBeLessThanOrEqual(WINDOW_SECONDS + 1);
        await page.getByText(/Sending resumes in \d+ seconds?\./).waitFor();
        await page.getByText(/You can send again at /).waitFor();
        expect(await page.getByRole('button', { name: 'Retry' }).isDisabled()).toBe(true);
        await composer(page).fill('Not yet');
        expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
        await composer(page).fill('');
        await screenshot(page, 'phone-rate-limit');
      });

      await setRpm(null);
      await step(page, 'phone sending resumes after the limit', async () => {
        await limitNotice.waitFor({ state: 'hidden', timeout: (WINDOW_SECONDS + 10) * 1000 });
        await page.getByRole('button', { name: 'Retry' }).click();
        await assistantReplies(page, 'complete')
          .filter({ hasText: `Echo: ${refused}` })
          .waitFor();
      });

      await step(page, 'phone chat list drawer', async () => {
        await page.getByRole('button', { name: 'Chats' }).click();
        await chatButton(page, 'Message 1 under a limit of one').waitFor();
        await screenshot(page, 'phone-chats-drawer');
      });
      check();
    } finally {
      await context.close();
    }
  });

  it('a tenant admin creates an API key that works, and revokes it, which stops it (phone, then desktop)', async () => {
    const { context, page, check } = await openPage(PHONE, true);
    const keyName = 'E2E backend';
    try {
      let key = '';
      await step(page, 'phone settings', async () => {
        await page.goto(
          `${service.url}/#token=${encodeURIComponent(await tokenFor('admin', 'tenant_admin'))}`,
        );
        await page.getByRole('link', { name: 'Settings' }).click();
        await page.getByRole('button', { name: 'Create API key' }).waitFor();
        await page.getByText('No API keys yet.').waitFor();
      });

      await step(page, 'phone create API key', async () => {
        await page.getByLabel('Key name (optional)').fill(keyName);
        await page.getByRole('button', { name: 'Create API key' }).click();
        const shown = page.getByRole('textbox', { name: 'New API key' });
        await shown.waitFor();
        key = await shown.inputValue();
        expect(key).toMatch(/^cbk_/);
        await page.getByRole('button', { name: 'Copy key' }).waitFor();
        await screenshot(page, 'phone-settings-new-api-key');
        // The key is a tenant admin's credential for the tenant's backend.
        const me = await as(key).me();
        expect(me.role).toBe('tenant_admin');
        expect(me.tenant?.id).toBe(tenantId);
        await page.getByRole('button', { name: 'Done' }).click();
        await page.getByRole('row', { name: new RegExp(keyName) }).waitFor();
      });

      await step(page, 'phone revoke API key', async () => {
        const row = page.getByRole('row', { name: new RegExp(keyName) });
        await row.getByRole('button', { name: 'Revoke' }).click();
        await row.getByRole('button', { name: 'Confirm revoke' }).click();
        await page.getByText(`Key ${keyName} revoked.`).waitFor();
        await row.waitFor({ state: 'detached' });
        await expect(as(key).me()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
        await screenshot(page, 'phone-settings-key-revoked');
      });

      await step(page, 'desktop settings', async () => {
        await page.setViewportSize(DESKTOP);
        await page.getByRole('button', { name: 'Save settings' }).waitFor();
        await screenshot(page, 'desktop-settings');
      });
      check();
    } finally {
      await context.close();
    }
  });

  it('a tenant admin uploads a document, sees it become ready, and a chat answer cites it with a link to the chunk (desktop)', async () => {
    const { context, page, check } = await openPage(DESKTOP);
    const handbook = [
      '# Handbook',
      '',
      '## Refunds',
      '',
      'Customers may return damaged items within 30 days for a full refund to the original payment method.',
      '',
      '## Holidays',
      '',
      'Every employee has 25 days of paid holiday a year, booked in the HR portal.',
    ].join('\n');
    try {
      await step(page, 'desktop knowledge base upload', async () => {
        await page.goto(
          `${service.url}/#token=${encodeURIComponent(await tokenFor('admin', 'tenant_admin'))}`,
        );
        await page.getByRole('link', { name: 'Knowledge' }).click();
        await page.getByLabel('New knowledge base name').fill('Handbook');
        await page.getByRole('button', { name: 'Create knowledge base' }).click();
        await page.getByRole('heading', { level: 2, name: 'Handbook' }).waitFor();
        await page.getByLabel('Document to upload').setInputFiles({
          name: 'handbook.md',
          mimeType: 'text/markdown',
          buffer: Buffer.from(handbook),
        });
        await page.getByRole('button', { name: 'Upload', exact: true }).click();
        await page.getByText('handbook.md uploaded: it is queued for processing.').waitFor();
        // The list follows it until the workers are done with it.
        await page
          .getByRole('row', { name: /handbook\.md/ })
          .getByText(/^Ready: \d+ chunks?$/)
          .waitFor({ timeout: 60_000 });
        // Checked once the tenant setting is saved.
        const use = page.getByRole('checkbox', { name: 'Answer chats from this knowledge base' });
        await use.click();
        await page.getByText('Chats now answer from this knowledge base.').waitFor();
        expect(await use.isChecked()).toBe(true);
        await page.getByLabel('Search this knowledge base').fill('refund for damaged items');
        await page.getByRole('button', { name: 'Search' }).click();
        await page
          .getByRole('region', { name: 'Search results' })
          .getByText(/damaged items within 30 days/)
          .waitFor();
        await screenshot(page, 'desktop-knowledge');
      });

      const question = 'How do refunds for damaged items work?';
      await step(page, 'desktop cited answer', async () => {
        await page.getByRole('link', { name: 'Chat' }).click();
        await page
          .getByRole('complementary', { name: 'Chats' })
          .getByRole('button', { name: 'New chat' })
          .click();
        await composer(page).fill(question);
        await page.getByRole('button', { name: 'Send' }).click();
        const reply = assistantReplies(page, 'complete').filter({ hasText: `Echo: ${question}` });
        await reply.waitFor();
        await reply.getByText(/^Sources \(\d+\)$/).click();
        const link = reply
          .getByRole('list', { name: 'Sources' })
          .getByRole('link', { name: /handbook\.md — Handbook > Refunds/ });
        await link.waitFor();
        expect(await link.getAttribute('href')).toMatch(
          /\?view=knowledge&base=[0-9a-f-]{36}&document=[0-9a-f-]{36}#chunk-\d+$/,
        );
        // The model was given the passage, numbered.
        const sent = stub.requests.at(-1)!.body.messages;
        expect(
          sent.some((m) => m.role === 'system' && m.content.includes('[1] handbook.md — Handbook > Refunds')),
        ).toBe(true);
        await screenshot(page, 'desktop-cited-answer');
        await link.click();
        const cited = page.getByRole('list', { name: 'Chunks' }).locator('li[aria-current="true"]');
        await cited.getByText(/damaged items within 30 days/).waitFor();
        await screenshot(page, 'desktop-cited-chunk');
      });
      check();
    } finally {
      await context.close();
    }
  });
});
