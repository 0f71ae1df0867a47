// Configuration given as text (environment variables, Pulumi config) read against a TypeBox
// object schema: one reader for the service's environment (config.ts) and the infra's stack
// configuration (infra/config.ts).
//
// A value is trimmed, and empty means unset: the schema's default applies, an optional value
// stays undefined, anything else is required. Integers, booleans, enums and comma-separated
// lists (arrays of strings) are parsed from the text; refinements (Type.Refine) then check what
// the type cannot. A problem is a phrase about a key ("is required", "must be ..."), which the
// caller prefixes with the key as its users know it. `formatValue` writes a value back as text
// this reader reads.
import { Type, type Static, type TObject, type TSchema } from 'typebox';

export interface Problem {
  key: string;
  /** What is wrong, after the key's name: `is required`, `must be true or false (got "x")`. */
  text: string;
}

export type Kind = 'integer' | 'boolean' | 'enum' | 'list' | 'string';

export function kindOf(schema: TSchema): Kind {
  if (Type.IsInteger(schema)) return 'integer';
  if (Type.IsBoolean(schema)) return 'boolean';
  if (Type.IsEnum(schema)) return 'enum';
  if (Type.IsArray(schema)) return 'list';
  return 'string';
}

/** The values an enum allows. */
export function allowedValues(schema: TSchema): string[] {
  return Type.IsEnum(schema) ? schema.enum.map(String) : [];
}

/** "a, b or c" */
function either(values: string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
}

/** The schema's description, followed by the values an enum allows. */
export function meaningOf(schema: TSchema): string {
  const description = (schema as { description?: string }).description ?? '';
  return kindOf(schema) === 'enum' ? `${description}: ${either(allowedValues(schema))}` : description;
}

/** A copy of the schema with other options (description, maximum, ...), its kind and refinements kept. */
export function withOptions<T extends TSchema>(schema: T, options: Record<string, unknown>): T {
  const copy = Object.create(Object.getPrototypeOf(schema), Object.getOwnPropertyDescriptors(schema)) as T;
  return Object.assign(copy, options);
}

/** A secret's value is never shown in a problem (nor, in the infra, in clear in a stack's state). */
export function isSecret(schema: TSchema): boolean {
  return (schema as { secret?: unknown }).secret === true;
}

export function isRequired(schema: TSchema): boolean {
  return !('default' in schema) && !Type.IsOptional(schema);
}

interface Refinement {
  check(value: unknown): boolean;
  error(value: unknown): string;
}

/** The phrase of the first refinement the value fails. */
function refused(schema: TSchema, value: unknown): string | undefined {
  const refinements = Type.IsRefine(schema) ? (schema['~refine'] as Refinement[]) : [];
  return refinements.find((r) => !r.check(value))?.error(value);
}

const TRUE = ['true', '1', 'yes'];
const FALSE = ['false', '0', 'no'];

/** One set value: what it means, or the phrases that refuse it. */
function parse(schema: TSchema, text: string): { value: unknown } | { problems: string[] } {
  const got = isSecret(schema) ? '' : ` (got "${text}")`;
  let value: unknown = text;
  switch (kindOf(schema)) {
    case 'integer': {
      const { minimum = 0, maximum = Number.MAX_SAFE_INTEGER } = schema as {
        minimum?: number;
        maximum?: number;
      };
      if (!/^\d+$/.test(text) || Number(text) < minimum || Number(text) > maximum) {
        return { problems: [`must be an integer from ${minimum} to ${maximum}${got}`] };
      }
      value = Number(text);
      break;
    }
    case 'boolean': {
      const lower = text.toLowerCase();
      if (!TRUE.includes(lower) && !FALSE.includes(lower)) {
        return { problems: [`must be true or false${got}`] };
      }
      value = TRUE.includes(lower);
      break;
    }
    case 'enum': {
      const allowed = allowedValues(schema);
      if (!allowed.includes(text)) return { problems: [`must be one of ${allowed.join(', ')}${got}`] };
      break;
    }
    case 'list': {
      const items = text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const itemSchema = (schema as { items: TSchema }).items;
      const problems = items.flatMap((item) => {
        const phrase = refused(itemSchema, item);
        return phrase === undefined ? [] : [`holds "${item}", which ${phrase}`];
      });
      if (problems.length > 0) return { problems };
      value = items;
      break;
    }
    case 'string':
      break;
  }
  const phrase = refused(schema, value);
  return phrase === undefined ? { value } : { problems: [phrase] };
}

/**
 * Reads every key of the schema through `get`. A value that is refused is reported and
 * replaced by its default (so that checks across keys still see sensible values).
 */
export function readConfig<T extends TObject>(
  schema: T,
  get: (key: string) => string | undefined,
): { values: Static<T>; problems: Problem[] } {
  const values: Record<string, unknown> = {};
  const problems: Problem[] = [];
  for (const [key, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
    const text = get(key)?.trim() ?? '';
    const fallback = 'default' in property ? structuredClone(property.default) : undefined;
    if (text === '') {
      if (isRequired(property)) problems.push({ key, text: 'is required' });
      values[key] = fallback;
      continue;
    }
    const result = parse(property, text);
    if ('value' in result) {
      values[key] = result.value;
    } else {
      problems.push(...result.problems.map((phrase) => ({ key, text: phrase })));
      values[key] = fallback;
    }
  }
  return { values: values as Static<T>, problems };
}

/** A value as the text readConfig reads back to it; undefined for unset (empty, or no items). */
export function formatValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text === '' ? undefined : text;
}
