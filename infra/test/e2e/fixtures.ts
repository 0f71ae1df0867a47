// What the e2e test adds around the stack: the LLM stub in a container on the stack network,
// tokens from the image's `token` command inside a running app container (its environment
// holds JWT_PRIVATE_KEY; nothing secret on a command line), and a test-only image whose
// migrations fail.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '@chatbot/test-kit/process';
import { ROOT } from '../support/stack.ts';
import { api, containerLogs, ensureImage, tarOf } from './docker-engine.ts';
import { RUN_LABEL } from './providers.ts';

export const STUB_ALIAS = 'llm-stub';
export const STUB_PORT = 8080;
const STUB_IMAGE = 'node:24-bookworm-slim';

/** The test kit's LLM stub (one file), standalone, in node:24-bookworm-slim on the network. */
export async function startLlmStub(opts: {
  name: string;
  network: string;
  runId: string;
  slowDelayMs: number;
}): Promise<void> {
  const source = readFileSync(fileURLToPath(import.meta.resolve('@chatbot/test-kit/llm-stub')));
  await ensureImage(STUB_IMAGE);
  const { Id: id } = await api<{ Id: string }>('POST', `/containers/create?name=${opts.name}`, {
    Image: STUB_IMAGE,
    Cmd: ['node', '/stub/llm-stub.ts'],
    Env: [`STUB_PORT=${STUB_PORT}`, `STUB_SLOW_DELAY_MS=${opts.slowDelayMs}`],
    Labels: { [RUN_LABEL]: opts.runId },
    HostConfig: { NetworkMode: opts.network },
    NetworkingConfig: { EndpointsConfig: { [opts.network]: { Aliases: [STUB_ALIAS] } } },
  });
  await api(
    'PUT',
    `/containers/${id}/archive?path=/`,
    tarOf([{ path: 'stub/llm-stub.ts', content: source }]),
  );
  await api('POST', `/containers/${id}/start`);
  const deadline = Date.now() + 30_000;
  while (!(await containerLogs(id)).includes('llm stub listening')) {
    if (Date.now() > deadline) throw new Error(`the LLM stub did not start: ${await containerLogs(id)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A JWT from the image's `token` command, run inside the app container. */
export async function tokenFrom(container: string, args: string[]): Promise<string> {
  const r = await run('docker', ['exec', container, 'node', '/app/service/src/main.ts', 'token', ...args], {
    timeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(`token command failed (exit ${r.code}): ${r.stderr}`);
  const token = r.stdout.trim();
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) throw new Error('the token command printed no JWT');
  return token;
}

/**
 * FROM the release image, one more migration that cannot apply (a foreign key to a table that
 * does not exist), journaled the way drizzle-kit journals them (service/drizzle/meta).
 */
export async function buildBrokenMigrationImage(from: string, tag: string, runId: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chatbot-e2e-broken-'));
  try {
    const journal = JSON.parse(
      readFileSync(join(ROOT, 'service', 'drizzle', 'meta', '_journal.json'), 'utf8'),
    ) as {
      entries: { idx: number; version: string; when: number; tag: string; breakpoints: boolean }[];
    };
    const last = journal.entries[journal.entries.length - 1];
    const idx = (last?.idx ?? -1) + 1;
    const name = `${String(idx).padStart(4, '0')}_e2e_broken`;
    journal.entries.push({
      idx,
      version: last?.version ?? '7',
      when: Date.now(),
      tag: name,
      breakpoints: true,
    });
    writeFileSync(join(dir, '_journal.json'), JSON.stringify(journal, null, 2));
    writeFileSync(
      join(dir, `${name}.sql`),
      'CREATE TABLE "e2e_broken" ("id" uuid PRIMARY KEY REFERENCES "e2e_table_that_does_not_exist" ("id"));\n',
    );
    writeFileSync(
      join(dir, 'Dockerfile'),
      [
        `FROM ${from}`,
        `COPY ${name}.sql /app/service/drizzle/`,
        'COPY _journal.json /app/service/drizzle/meta/_journal.json',
        '',
      ].join('\n'),
    );
    const r = await run('docker', ['build', '--tag', tag, '--label', `${RUN_LABEL}=${runId}`, dir], {
      env: { DOCKER_BUILDKIT: '1' },
      timeoutMs: 120_000,
    });
    if (r.code !== 0) throw new Error(`building ${tag} failed: ${r.stderr.slice(-2000)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
