import { isSecret } from '@chatbot/service/config-reader';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TSchema } from 'typebox';
import { describe, expect, it } from 'vitest';
import { CONFIG_SPEC } from '../config.ts';
import { PULUMI_YAML, renderProjectFile } from '../pulumi-yaml.ts';
import { projectFile, ROOT, STACKS, stackFile } from './support/stack.ts';

const project = projectFile();
const secretKeys = Object.entries(CONFIG_SPEC.properties as Record<string, TSchema>)
  .filter(([, schema]) => isSecret(schema))
  .map(([key]) => key);

function typeOf(value: unknown): string {
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
}

describe('Pulumi.yaml', () => {
  it('is the chatbot project on the nodejs runtime, without ts-node', () => {
    expect(project.name).toBe('chatbot');
    expect(project.runtime.name).toBe('nodejs');
    // Node 24 strips the types itself; with typescript on, Pulumi would register ts-node.
    expect(project.runtime.options?.['typescript']).toBe(false);
  });

  it('names as main the infra entry point, an ES module Node runs as TypeScript', () => {
    expect(project.main).toBe('infra/index.ts');
    expect(existsSync(join(ROOT, project.main))).toBe(true);
    // Pulumi imports main as an ES module when the nearest package.json says so.
    const pkg = JSON.parse(readFileSync(join(ROOT, dirname(project.main), 'package.json'), 'utf8')) as {
      type?: string;
    };
    expect(pkg.type).toBe('module');
  });

  it('declares every config key with a type, a description and a default of that type', () => {
    const entries = Object.entries(project.config);
    expect(entries.length).toBeGreaterThan(40);
    for (const [key, decl] of entries) {
      expect(['string', 'integer', 'boolean'], key).toContain(decl.type);
      expect(decl.description.length, key).toBeGreaterThan(5);
      expect(decl.default, key).toBeDefined();
      expect(typeOf(decl.default), key).toBe(decl.type);
    }
  });

  it('declares the keys CONFIG_SPEC holds, as npm run gen:config -w infra writes them', async () => {
    const current = readFileSync(PULUMI_YAML, 'utf8');
    expect(current, 'Pulumi.yaml is stale: run npm run gen:config -w infra').toBe(
      await renderProjectFile(current),
    );
  });

  it('tells how to set every secret with --secret', () => {
    expect(secretKeys.sort()).toEqual(
      ['jwtPrivateKey', 'openrouterApiKey', 'registryPassword', 'tlsPrivateKey'].sort(),
    );
    for (const key of secretKeys) {
      expect(project.config[key]?.description, key).toContain(`pulumi config set --secret ${key}`);
    }
  });
});

describe('the stack files', () => {
  for (const stack of STACKS) {
    it(`Pulumi.${stack}.yaml sets only declared keys, with values of their types`, () => {
      const config = stackFile(stack).config;
      expect(Object.keys(config).length).toBeGreaterThan(5);
      for (const [fullKey, value] of Object.entries(config)) {
        const [ns, key = ''] = fullKey.split(':');
        expect(ns, fullKey).toBe('chatbot');
        const decl = project.config[key];
        expect(decl, `${fullKey} is not declared in Pulumi.yaml`).toBeDefined();
        // Pulumi reads a quoted number as a string; the program parses strings itself.
        if (decl?.type !== 'string') expect(typeOf(value), fullKey).toBe(decl?.type);
      }
    });

    it(`Pulumi.${stack}.yaml holds no secret values`, () => {
      const config = stackFile(stack).config;
      for (const key of secretKeys) expect(config[`chatbot:${key}`], key).toBeUndefined();
      expect(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), 'utf8')).not.toMatch(/PRIVATE KEY|sk-or-v1-/);
    });
  }

  it('gives each stack its environment', () => {
    for (const stack of STACKS) {
      const env = stackFile(stack).config['chatbot:environment'];
      expect(env).toBe(stack === 'dev' ? 'development' : stack);
    }
  });
});
