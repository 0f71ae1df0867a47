// Writes what src/env.ts defines into the files people read: .env.example (every variable,
// with its default or an example value) and the table of docs/API.md, "Configuration
// (environment)", between its marker comments. test/config-files.test.ts fails when either is
// stale.
//
//   npm run gen:config -w service            rewrite both
//   npm run gen:config -w service -- --check exit 1 if either is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import type { TSchema } from 'typebox';
import { ENV } from '../src/env.ts';
import { formatValue, isRequired, isSecret, meaningOf } from '../src/lib/config-reader.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ENV_EXAMPLE = `${ROOT}.env.example`;
export const API_MD = `${ROOT}docs/API.md`;

export const TABLE_START =
  '<!-- Generated from service/src/env.ts by `npm run gen:config`: change the schema, not this table. -->';
export const TABLE_END = '<!-- End of the generated table. -->';

const variables = Object.entries(
  ENV.properties as Record<string, TSchema & { default?: unknown; examples?: unknown[] }>,
);

function defaultText(schema: TSchema & { default?: unknown }): string {
  if (isRequired(schema)) return '(required)';
  return formatValue(schema.default) ?? '';
}

export function renderEnvExample(): string {
  const lines = [
    '# Every variable the chat service reads (docs/API.md, "Configuration (environment)"). Copy to',
    '# .env for local development; never commit real values. Empty means unset (the default applies).',
    '# Generated from service/src/env.ts by `npm run gen:config`: change the schema, not this file.',
  ];
  for (const [name, schema] of variables) {
    const notes = `${isRequired(schema) ? '; required' : ''}${isSecret(schema) ? '; secret' : ''}`;
    // A required variable gets an example (a local server), the others their default.
    const value = isRequired(schema) ? schema.examples?.[0] : schema.default;
    lines.push('', `# ${meaningOf(schema)}${notes}`, `${name}=${formatValue(value) ?? ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderEnvTable(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = variables.map(
    ([name, schema]) =>
      `| ${name} | ${cell(defaultText(schema))} | ${cell(meaningOf(schema))} | ${isSecret(schema) ? 'yes' : ''} |`,
  );
  return ['| variable | default | meaning | secret |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** API.md with the generated table between the markers, formatted as `prettier --check` wants it. */
export async function renderApiMd(current: string): Promise<string> {
  const start = current.indexOf(TABLE_START);
  const end = current.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`${API_MD} lacks the marker comments of the env table`);
  const text = `${current.slice(0, start + TABLE_START.length)}\n\n${renderEnvTable()}\n\n${current.slice(end)}`;
  const options = await prettier.resolveConfig(API_MD);
  return prettier.format(text, { ...options, filepath: API_MD });
}

if (import.meta.main) {
  const check = process.argv.includes('--check');
  const api = readFileSync(API_MD, 'utf8');
  const wanted: [string, string, string][] = [
    [ENV_EXAMPLE, readFileSync(ENV_EXAMPLE, 'utf8'), renderEnvExample()],
    [API_MD, api, await renderApiMd(api)],
  ];
  for (const [file, current, generated] of wanted) {
    if (current === generated) continue;
    if (check) {
      console.error(`${file} is stale: run npm run gen:config -w service`);
      process.exitCode = 1;
    } else {
      writeFileSync(file, generated);
      console.log(`wrote ${file}`);
    }
  }
}
