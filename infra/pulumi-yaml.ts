// Pulumi.yaml's `config:` block, generated from CONFIG_SPEC (config.ts): every key with its
// type, description and default, as `pulumi config` shows them. test/project-file.test.ts
// fails when the file is stale. Everything above the block is kept as written.
//
//   npm run gen:config -w infra              rewrite it
//   npm run gen:config -w infra -- --check   exit 1 if it is stale
import { formatValue, isSecret, kindOf } from '@chatbot/service/config-reader';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import type { TSchema } from 'typebox';
import { stringify } from 'yaml';
import { CONFIG_SPEC } from './config.ts';
import { REPO_ROOT } from './repo.ts';

export const PULUMI_YAML = join(REPO_ROOT, 'Pulumi.yaml');

export interface KeyDeclaration {
  type: 'string' | 'integer' | 'boolean';
  description: string;
  default: string | number | boolean;
}

/** Each key as Pulumi.yaml declares it: lists and enums are strings, unset is empty. */
export function declarations(): Record<string, KeyDeclaration> {
  const entries = Object.entries(CONFIG_SPEC.properties as Record<string, TSchema>).map(([key, schema]) => {
    const kind = kindOf(schema);
    const { description = '', default: value } = schema as { description?: string; default?: unknown };
    const type = kind === 'integer' || kind === 'boolean' ? kind : 'string';
    const declaration: KeyDeclaration = {
      type,
      description: isSecret(schema)
        ? `${description} Secret. Set it with: pulumi config set --secret ${key} <value>`
        : description,
      default: type === 'string' ? (formatValue(value) ?? '') : (value as number | boolean),
    };
    return [key, declaration] as const;
  });
  return Object.fromEntries(entries);
}

/** The project file with a freshly generated config block (its last top-level key). */
export async function renderProjectFile(current: string): Promise<string> {
  const start = current.search(/^config:\s*$/m);
  const head = start < 0 ? `${current.trimEnd()}\n` : current.slice(0, start);
  const text = head + stringify({ config: declarations() }, { lineWidth: 0, singleQuote: true });
  const options = await prettier.resolveConfig(PULUMI_YAML);
  return prettier.format(text, { ...options, filepath: PULUMI_YAML });
}

if (import.meta.main) {
  const current = readFileSync(PULUMI_YAML, 'utf8');
  const generated = await renderProjectFile(current);
  if (current === generated) {
    // up to date
  } else if (process.argv.includes('--check')) {
    process.stderr.write(`${PULUMI_YAML} is stale: run npm run gen:config -w infra\n`);
    process.exitCode = 1;
  } else {
    writeFileSync(PULUMI_YAML, generated);
    process.stdout.write(`wrote ${PULUMI_YAML}\n`);
  }
}
