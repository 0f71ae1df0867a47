import { describe, expect, it } from 'vitest';
import { parseConfig, StackConfigError, type StackConfig } from '../config.ts';
import {
  appContainers,
  envOf,
  runStack,
  stackConfig,
  type RunOptions,
  type StackName,
} from './support/stack.ts';

function parse(stack: StackName, opts: RunOptions = {}): StackConfig {
  const { config } = stackConfig(stack, opts);
  return parseConfig({
    stack,
    project: 'chatbot',
    get: (key) => config[`chatbot:${key}`],
    gitCommit: () => '0123456789abcdef0123456789abcdef01234567',
  });
}

function problems(stack: StackName, opts: RunOptions = {}): string[] {
  try {
    parse(stack, opts);
  } catch (err) {
    if (err instanceof StackConfigError) return err.problems;
    throw err;
  }
  throw new Error('the configuration was accepted');
}

describe('stack configuration', () => {
  it('accepts each stack as committed plus what the deploy guide adds', () => {
    expect(parse('dev').app.environment).toBe('development');
    expect(parse('staging').replicas).toBe(2);
    expect(parse('production').release.image).toMatch(/@sha256:/);
  });

  it('lets dev run without an OpenRouter key', () => {
    expect(parse('dev', { bare: true }).app.openrouterApiKey).toBeUndefined();
  });

  for (const stack of ['staging', 'production'] as const) {
    it(`stops ${stack} without the OpenRouter key, naming the key and the command that sets it`, () => {
      const found = problems(stack, {
        bare: true,
        config: stack === 'production' ? { image: `r.example.com/a@sha256:${'0'.repeat(64)}` } : {},
      });
      expect(found.join('\n')).toContain(
        `chatbot:openrouterApiKey is required on stack ${stack} (the platform's OpenRouter key): pulumi config set --secret openrouterApiKey sk-or-v1-... --stack ${stack}`,
      );
    });
  }

  it('stops when the registry user has no password, naming the --secret command', () => {
    const found = problems('staging', { bare: true, secrets: { openrouterApiKey: 'k' } });
    expect(found).toEqual([
      expect.stringContaining('chatbot:registryPassword is required with registryUsername') as string,
    ]);
    expect(found[0]).toContain('pulumi config set --secret registryPassword <token> --stack staging');
  });

  it('never builds in production: the image is required, pinned by digest', () => {
    expect(
      problems('production', { bare: true, secrets: { openrouterApiKey: 'k', registryPassword: 'p' } }).join(
        '\n',
      ),
    ).toMatch(/chatbot:image is required in production.*--commit <sha>/);
    expect(
      problems('production', { config: { image: 'registry.example.com/chatbot/app:v1.2.3' } }).join('\n'),
    ).toContain('chatbot:image must be pinned by digest in production');
    expect(
      problems('production', { config: { greenImage: 'registry.example.com/chatbot/app:latest' } }).join(
        '\n',
      ),
    ).toContain('chatbot:greenImage must be empty or pinned by digest in production');
  });

  it('refuses self-signed certificates and disabled auth in production', () => {
    const found = problems('production', { config: { tlsMode: 'self-signed', disableAuth: 'true' } });
    expect(found.some((p) => p.startsWith('chatbot:tlsMode must be host or config in production'))).toBe(
      true,
    );
    expect(found.some((p) => p.startsWith('chatbot:disableAuth is refused in production'))).toBe(true);
  });

  it('lists every problem at once', () => {
    const found = problems('dev', { config: { activeColor: 'purple', replicas: 'two', httpsPort: '8080' } });
    expect(found).toHaveLength(3);
    expect(found[0]).toContain('chatbot:activeColor must be one of blue, green (got "purple")');
    expect(found.join('\n')).toContain('chatbot:replicas must be an integer from 1 to 20 (got "two")');
    expect(found.join('\n')).toContain('chatbot:httpPort and httpsPort must differ');
  });

  it('refuses a Postgres too small for both colors’ connection pools', () => {
    const found = problems('staging', { config: { replicas: '4', postgresMaxConnections: '100' } });
    expect(found.join('\n')).toContain(
      'chatbot:postgresMaxConnections (100) is below what both colors may open',
    );
  });

  it('requires a registry to push to', () => {
    expect(problems('dev', { config: { push: 'true' } }).join('\n')).toContain(
      'chatbot:imageRepository must name a registry host to push to',
    );
  });

  it('tags a build with the checkout’s commit unless one is configured', () => {
    expect(parse('dev').release.commit).toBe('0123456789abcdef0123456789abcdef01234567');
    expect(parse('dev', { config: { commit: 'abc123' } }).release.commit).toBe('abc123');
  });

  it('allows the dev hosts, or exactly the configured ones', () => {
    expect(parse('dev').app.allowedHosts).toEqual(['localhost', '127.0.0.1']);
    expect(parse('production').app.allowedHosts).toEqual(['chat.example.com']);
    expect(
      parse('production', { config: { allowedHosts: 'a.example.com, B.example.com' } }).app.allowedHosts,
    ).toEqual(['a.example.com', 'b.example.com']);
  });
});

describe('the app keys (app-env.ts)', () => {
  it('are checked by the service’s own rules, each problem with the command that fixes it', () => {
    expect(
      problems('dev', {
        config: { logLevel: 'loud', dbPoolSize: '1001', corsOrigins: 'https://ok.example.com, nope' },
      }),
    ).toEqual([
      'chatbot:logLevel must be one of fatal, error, warn, info, debug, trace, silent (got "loud"): pulumi config set logLevel info --stack dev',
      'chatbot:dbPoolSize must be an integer from 1 to 1000 (got "1001"): pulumi config set dbPoolSize 5 --stack dev',
      'chatbot:corsOrigins holds "nope", which is not an origin like https://example.com: pulumi config set corsOrigins <value> --stack dev',
    ]);
  });

  it('may be bounded tighter than the service bounds its variable', () => {
    expect(problems('dev', { config: { shutdownGraceMs: '700000' } })).toEqual([
      'chatbot:shutdownGraceMs must be an integer from 0 to 600000 (got "700000"): pulumi config set shutdownGraceMs 25000 --stack dev',
    ]);
  });

  it('reach the app as the text the service reads', async () => {
    const result = await runStack('staging', {
      config: {
        dbPoolSize: '7',
        disableAuth: 'no',
        corsOrigins: ' https://a.example.com , https://b.example.com',
        jwtIssuer: 'https://issuer.example.com',
        openrouterBaseUrl: 'http://llm.internal:8080/v1',
      },
    });
    const env = envOf(appContainers(result)[0]!);
    expect(env).toMatchObject({
      DB_POOL_SIZE: '7',
      DISABLE_AUTH: 'false',
      CORS_ORIGINS: 'https://a.example.com,https://b.example.com',
      JWT_ISSUER: 'https://issuer.example.com',
      OPENROUTER_BASE_URL: 'http://llm.internal:8080/v1',
    });
    expect(env['JWT_AUDIENCE']).toBeUndefined();
  });
});

describe('the program with a misconfigured stack', () => {
  it('stops before declaring anything and says what to set', async () => {
    const result = await runStack('staging', { bare: true });
    expect(result.error).toContain('Stack "staging" cannot be deployed until its configuration is fixed');
    expect(result.error).toContain('pulumi config set --secret openrouterApiKey');
    expect(result.error).toContain('pulumi config set --secret registryPassword');
    expect(result.resources.filter((r) => r.custom && r.type !== 'pulumi:pulumi:Stack')).toEqual([]);
  });
});
