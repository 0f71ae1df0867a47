// The pipeline file as data: its jobs, with GitLab's `extends` resolved, for the tests that
// read what a job runs. Which jobs a pipeline holds is gitlab-ci-local's to say
// (gitlab-ci-local.ts), not this file's.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export type Vars = Record<string, string | undefined>;
export type Doc = Record<string, unknown>;
export type Job = Record<string, unknown>;

const GLOBAL_KEYWORDS = new Set([
  'workflow',
  'stages',
  'variables',
  'default',
  'include',
  'image',
  'services',
  'cache',
  'before_script',
  'after_script',
]);

export function loadPipeline(path: string): Doc {
  return parse(readFileSync(path, 'utf8'), { merge: true }) as Doc;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** GitLab's `extends`: hashes merge deeply, anything else (lists too) is replaced. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

export function resolveJob(doc: Doc, name: string, seen: string[] = []): Job {
  if (seen.includes(name)) throw new Error(`extends loop: ${[...seen, name].join(' -> ')}`);
  const job = doc[name];
  if (!isPlainObject(job)) throw new Error(`no job or template named ${name}`);
  const parents = job['extends'] === undefined ? [] : ([] as string[]).concat(job['extends'] as string);
  let merged: Record<string, unknown> = {};
  for (const parent of parents) merged = deepMerge(merged, resolveJob(doc, parent, [...seen, name]));
  const own = { ...job };
  delete own['extends'];
  return deepMerge(merged, own);
}

export function jobNames(doc: Doc): string[] {
  return Object.keys(doc).filter((k) => !k.startsWith('.') && !GLOBAL_KEYWORDS.has(k));
}
