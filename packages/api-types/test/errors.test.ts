import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../src/errors.ts';

describe('ERROR_STATUS', () => {
  it("holds exactly the codes and statuses of API.md's error table", async () => {
    const apiMd = await readFile(new URL('../../../docs/API.md', import.meta.url), 'utf8');
    const table = Object.fromEntries(
      [...apiMd.matchAll(/^\| ([a-z_]+) +\| (\d{3}) +\|/gm)].map((row) => [row[1], Number(row[2])]),
    );
    expect(Object.keys(table).length).toBeGreaterThan(10);
    expect(ERROR_STATUS).toEqual(table);
  });
});
