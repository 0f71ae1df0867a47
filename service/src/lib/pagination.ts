// Lists answer {items, nextCursor}; `limit` is 1..100 (default 20) and the cursor is opaque.
import type { Page } from '@chatbot/api-types/common';
import { Type } from 'typebox';
import { invalid } from '../errors.ts';

export const ListQuery = {
  limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1..100, default 20' })),
  cursor: Type.Optional(Type.String({ maxLength: 500 })),
};

export const DEFAULT_LIMIT = 20;

export function parseLimit(limit: string | undefined): number {
  return limit === undefined ? DEFAULT_LIMIT : Number(limit);
}

export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/**
 * What a cursor's values are: `timestamp` (an ISO time as toISOString writes it), `uuid`
 * (canonical), `integer` (a safe non-negative one).
 */
export type CursorKind = 'timestamp' | 'uuid' | 'integer';
type CursorValue<K extends CursorKind> = K extends 'integer' ? number : string;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What toISOString writes for the years Postgres and the rows have (0000 to 9999). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function fits(kind: CursorKind, value: unknown): boolean {
  switch (kind) {
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
    case 'uuid':
      return typeof value === 'string' && UUID.test(value);
    case 'timestamp': {
      if (typeof value !== 'string' || !ISO_TIME.test(value)) return false;
      const time = Date.parse(value);
      return Number.isFinite(time) && new Date(time).toISOString() === value;
    }
  }
}

/** Decodes a cursor this service wrote; anything else (valid base64 of something else too) is a 400. */
export function decodeCursor<T extends readonly CursorKind[]>(
  cursor: string | undefined,
  shape: T,
): { [K in keyof T]: CursorValue<T[K]> } | undefined {
  if (cursor === undefined) return undefined;
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid('cursor is not valid');
  }
  if (
    !Array.isArray(values) ||
    values.length !== shape.length ||
    values.some((v, i) => !fits(shape[i]!, v))
  ) {
    throw invalid('cursor is not valid');
  }
  return values as { [K in keyof T]: CursorValue<T[K]> };
}

/** Takes one row more than the page to know whether another page follows. */
export function page<Row, Item>(
  rows: Row[],
  limit: number,
  toItem: (row: Row) => Item,
  cursorOf: (row: Row) => (string | number)[],
): Page<Item> {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows.at(-1);
  return {
    items: pageRows.map(toItem),
    nextCursor: more && last !== undefined ? encodeCursor(cursorOf(last)) : null,
  };
}
