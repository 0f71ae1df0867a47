// A small evaluator of GitLab CI `workflow:rules` and job `rules`, for the forms the pipeline
// uses: `if:` expressions with $VARIABLES, "strings", null, /regular expressions/, ==, !=,
// =~, !~, &&, || and parentheses (&& binds tighter than ||), and `when` / `allow_failure`.
// Anything else (only/except, rules:changes, rules:exists, ...) is refused with an error, so
// that a pipeline using it makes the test fail instead of being judged wrongly.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export type Vars = Record<string, string | undefined>;
export type Doc = Record<string, unknown>;
export type Job = Record<string, unknown>;

type Token =
  | { kind: 'var'; name: string }
  | { kind: 'str'; value: string }
  | { kind: 'null' }
  | { kind: 're'; re: RegExp }
  | { kind: 'op'; op: '==' | '!=' | '=~' | '!~' | '&&' | '||' }
  | { kind: '(' }
  | { kind: ')' };

export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const rest = expr.slice(i);
    const space = /^\s+/.exec(rest);
    if (space !== null) {
      i += space[0].length;
      continue;
    }
    const variable = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(rest);
    if (variable !== null) {
      tokens.push({ kind: 'var', name: (variable[1] ?? variable[2]) as string });
      i += variable[0].length;
      continue;
    }
    const str = /^(?:"([^"]*)"|'([^']*)')/.exec(rest);
    if (str !== null) {
      tokens.push({ kind: 'str', value: (str[1] ?? str[2]) as string });
      i += str[0].length;
      continue;
    }
    const op = /^(==|!=|=~|!~|&&|\|\|)/.exec(rest);
    if (op !== null) {
      tokens.push({ kind: 'op', op: op[1] as '==' });
      i += op[0].length;
      continue;
    }
    const previous = tokens[tokens.length - 1];
    if (rest.startsWith('/') && previous?.kind === 'op' && (previous.op === '=~' || previous.op === '!~')) {
      const re = /^\/((?:\\.|[^\\/])*)\/([a-z]*)/.exec(rest);
      if (re === null) throw new Error(`unterminated regular expression in: ${expr}`);
      if (!/^i?$/.test(re[2] as string)) throw new Error(`unsupported regex flags "${re[2]}" in: ${expr}`);
      tokens.push({ kind: 're', re: new RegExp(re[1] as string, re[2]) });
      i += re[0].length;
      continue;
    }
    if (/^null\b/.test(rest)) {
      tokens.push({ kind: 'null' });
      i += 4;
      continue;
    }
    if (rest[0] === '(' || rest[0] === ')') {
      tokens.push({ kind: rest[0] });
      i += 1;
      continue;
    }
    throw new Error(`unsupported syntax at "${rest}" in: ${expr}`);
  }
  return tokens;
}

type Value = string | null | RegExp;

/** Evaluates one `if:` expression against the pipeline's variables. */
export function evaluate(expr: string, vars: Vars): boolean {
  const tokens = tokenize(expr);
  let pos = 0;
  const peek = () => tokens[pos];
  const isOp = (op: string) => {
    const t = peek();
    return t?.kind === 'op' && t.op === op;
  };

  const operand = (): Value => {
    const t = tokens[pos++];
    if (t === undefined) throw new Error(`expression ends too early: ${expr}`);
    if (t.kind === 'var') return vars[t.name] ?? null;
    if (t.kind === 'str') return t.value;
    if (t.kind === 'null') return null;
    if (t.kind === 're') return t.re;
    throw new Error(`expected a value, got ${t.kind === 'op' ? t.op : t.kind} in: ${expr}`);
  };

  const comparison = (): boolean => {
    if (peek()?.kind === '(') {
      pos++;
      const inner = or();
      if (tokens[pos++]?.kind !== ')') throw new Error(`missing ) in: ${expr}`);
      return inner;
    }
    const left = operand();
    const t = peek();
    if (t?.kind === 'op' && ['==', '!=', '=~', '!~'].includes(t.op)) {
      pos++;
      const right = operand();
      if (t.op === '==' || t.op === '!=') {
        if (right instanceof RegExp || left instanceof RegExp) throw new Error(`regex with ${t.op}: ${expr}`);
        return (left === right) === (t.op === '==');
      }
      if (!(right instanceof RegExp)) throw new Error(`${t.op} needs a /regex/ on its right: ${expr}`);
      const matches = typeof left === 'string' && right.test(left);
      return t.op === '=~' ? matches : !matches;
    }
    // A lone variable: defined and not empty.
    if (left instanceof RegExp) throw new Error(`a lone regex: ${expr}`);
    return left !== null && left !== '';
  };

  const and = (): boolean => {
    let value = comparison();
    while (isOp('&&')) {
      pos++;
      const right = comparison();
      value = value && right;
    }
    return value;
  };

  const or = (): boolean => {
    let value = and();
    while (isOp('||')) {
      pos++;
      const right = and();
      value = value || right;
    }
    return value;
  };

  const result = or();
  if (pos !== tokens.length) throw new Error(`unexpected tokens after position ${pos} in: ${expr}`);
  return result;
}

export type When = 'on_success' | 'manual' | 'always' | 'never' | 'on_failure' | 'delayed';

export interface RuleOutcome {
  when: When;
  allowFailure: boolean;
}

const RULE_KEYS = new Set(['if', 'when', 'allow_failure']);

/** The first matching rule's outcome; `when: never` when no rule matches. */
export function applyRules(rules: unknown, vars: Vars, defaults: RuleOutcome): RuleOutcome {
  if (!Array.isArray(rules)) throw new Error('rules must be a list');
  for (const rule of rules as Record<string, unknown>[]) {
    for (const key of Object.keys(rule)) {
      if (!RULE_KEYS.has(key)) throw new Error(`rules:${key} is not supported by this evaluator`);
    }
    if (rule['if'] !== undefined && !evaluate(String(rule['if']), vars)) continue;
    const when = (rule['when'] as When | undefined) ?? defaults.when;
    const allowFailure =
      typeof rule['allow_failure'] === 'boolean' ? rule['allow_failure'] : defaults.allowFailure;
    return { when, allowFailure };
  }
  return { when: 'never', allowFailure: defaults.allowFailure };
}

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

/** The pipeline variables a rule sees: the file's global `variables`, then the pipeline's own. */
export function ruleVars(doc: Doc, pipeline: Vars): Vars {
  const globals = isPlainObject(doc['variables']) ? doc['variables'] : {};
  const vars: Vars = {};
  for (const [k, v] of Object.entries(globals)) {
    vars[k] = isPlainObject(v) ? String(v['value'] ?? '') : String(v);
  }
  return { ...vars, ...pipeline };
}

export interface PlannedJob extends RuleOutcome {
  name: string;
  stage: string;
}

/**
 * The jobs a pipeline with these predefined variables holds (without `when: never` ones), or
 * null when `workflow:rules` creates no pipeline at all.
 */
export function plannedJobs(doc: Doc, pipeline: Vars): PlannedJob[] | null {
  const vars = ruleVars(doc, pipeline);
  const workflow = doc['workflow'];
  if (isPlainObject(workflow) && workflow['rules'] !== undefined) {
    const outcome = applyRules(workflow['rules'], vars, { when: 'always', allowFailure: false });
    if (outcome.when === 'never') return null;
  }
  const planned: PlannedJob[] = [];
  for (const name of jobNames(doc)) {
    const job = resolveJob(doc, name);
    for (const key of ['only', 'except']) {
      if (job[key] !== undefined) throw new Error(`${name}: ${key} is not supported by this evaluator`);
    }
    const jobWhen = (job['when'] as When | undefined) ?? 'on_success';
    const defaults: RuleOutcome = {
      when: jobWhen,
      allowFailure: typeof job['allow_failure'] === 'boolean' ? job['allow_failure'] : false,
    };
    const outcome =
      job['rules'] === undefined
        ? {
            when: jobWhen,
            // A manual job without rules may fail by default.
            allowFailure:
              typeof job['allow_failure'] === 'boolean' ? job['allow_failure'] : jobWhen === 'manual',
          }
        : applyRules(job['rules'], vars, defaults);
    if (outcome.when === 'never') continue;
    planned.push({ name, stage: String(job['stage'] ?? 'test'), ...outcome });
  }
  return planned;
}
