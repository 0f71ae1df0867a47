// Support for the browser end-to-end test: the web build it serves, headless Chromium, and
// steps that leave a screenshot behind when they fail.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const WEB_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** Screenshots of the run; the web-e2e job keeps `web/test-results/` as artifacts (ignored by git). */
export const ARTIFACTS_DIR = join(WEB_DIR, 'test-results', 'browser');

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

/** Runs a command to its end; rejects with its output when it fails. */
function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${args.join(' ')} exited with ${code}:\n${output}`)),
    );
  });
}

/** `vite build` of the current sources into a temporary folder (removed by `remove`). */
export async function buildWeb(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'chatbot-web-e2e-'));
  try {
    const viteBin = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin/vite.js');
    await run(
      process.execPath,
      [viteBin, 'build', '--outDir', dir, '--emptyOutDir', '--logLevel', 'warn'],
      WEB_DIR,
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Headless Chromium from CHROMIUM_PATH (default /usr/bin/chromium, Debian's package). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
  });
}

export async function resetArtifacts(): Promise<void> {
  await rm(ARTIFACTS_DIR, { recursive: true, force: true });
  await mkdir(ARTIFACTS_DIR, { recursive: true });
}

const fileName = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(ARTIFACTS_DIR, `${fileName(name)}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * One step of the story: when it fails, a screenshot named after it
 * (`failed-<step>.png`) is saved next to the others and the failure goes on.
 */
export async function step<T>(page: Page, name: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    const saved = await screenshot(page, `failed-${name}`).catch((shotError: unknown) => {
      console.error(`no screenshot of the failed step "${name}": ${String(shotError)}`);
      return null;
    });
    if (saved !== null && error instanceof Error) error.message += `\n(screenshot: ${saved})`;
    throw error;
  }
}
