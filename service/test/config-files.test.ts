// .env.example and API.md's configuration table are generated from src/env.ts
// (`npm run gen:config`): they fail here when the schema changed and they were not rewritten.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { API_MD, ENV_EXAMPLE, renderApiMd, renderEnvExample } from '../scripts/gen-config.ts';
import { loadConfig } from '../src/config.ts';
import { ENV } from '../src/env.ts';

describe('the files generated from the env schema', () => {
  it('.env.example is current (npm run gen:config -w service)', () => {
    expect(readFileSync(ENV_EXAMPLE, 'utf8'), '.env.example is stale: run npm run gen:config').toBe(
      renderEnvExample(),
    );
  });

  it('API.md’s configuration table is current (npm run gen:config -w service)', async () => {
    const current = readFileSync(API_MD, 'utf8');
    expect(current, 'API.md is stale: run npm run gen:config').toBe(await renderApiMd(current));
  });

  it('.env.example names every variable once and is a configuration the service accepts', () => {
    const text = readFileSync(ENV_EXAMPLE, 'utf8');
    const names = [...text.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(names).toEqual(Object.keys(ENV.properties));
    expect(() => loadConfig(parseEnv(text))).not.toThrow();
  });

  it('API.md’s table has a row for every variable', () => {
    const table = readFileSync(API_MD, 'utf8').split('## Configuration (environment)')[1] ?? '';
    for (const name of Object.keys(ENV.properties))
      expect(table).toMatch(new RegExp(`^\\| ${name} +\\|`, 'm'));
  });
});
