// Every environment variable the service reads: name, type, default, description, and whether
// it is a secret, in API.md's order. This schema is their one definition. loadConfig
// (config.ts) reads the environment with it; `npm run gen:config` writes .env.example and
// API.md's configuration table from it; the infra maps stack keys onto these names
// (infra/app-env.ts). Descriptions are written for that table: short, lower case.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Type, type Static, type TSchema, type TString } from 'typebox';
import { isSecret } from './lib/config-reader.ts';
import { jwtAlgorithmFor, unescapeNewlines } from './lib/keys.ts';

function parsesAsUrl(value: string): boolean {
  return URL.canParse(value);
}

/** A URL with one of the given protocols (e.g. `postgres:`). */
function url(schema: TString, protocols: string[]) {
  return Type.Refine(
    Type.Refine(schema, parsesAsUrl, () => 'is not a valid URL'),
    (value) => !parsesAsUrl(value) || protocols.includes(new URL(value).protocol),
    () => `must use ${protocols.map((p) => p.replace(':', '://')).join(' or ')}`,
  );
}

/** A PEM key Node can read (a literal \n standing for a newline) of a type JWTs are signed with. */
function pem(schema: TString, kind: 'public' | 'private') {
  const read = (value: string) => {
    try {
      const text = unescapeNewlines(value);
      return kind === 'public' ? createPublicKey(text) : createPrivateKey(text);
    } catch {
      return undefined;
    }
  };
  return Type.Refine(
    Type.Refine(
      schema,
      (value) => read(value) !== undefined,
      () => `is not a PEM ${kind} key Node can read`,
    ),
    (value) => {
      const key = read(value);
      return key === undefined || jwtAlgorithmFor(key) !== undefined;
    },
    () => 'must be an RSA, EC P-256 or Ed25519 key',
  );
}

const origin = Type.Refine(
  Type.String(),
  (value) => value === '*' || (URL.canParse(value) && new URL(value).origin === value),
  () => 'is not an origin like https://example.com',
);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const ENV = Type.Object({
  ENVIRONMENT: Type.Enum(['development', 'staging', 'production'], {
    default: 'development',
    description: 'where the service runs',
  }),
  LOG_LEVEL: Type.Enum(LOG_LEVELS, { default: 'info', description: 'pino level' }),
  API_HOST: Type.String({ default: '0.0.0.0', description: 'listen address' }),
  API_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000, description: 'listen port' }),
  DATABASE_URL: url(
    Type.String({
      secret: true,
      description: 'postgres://... (see "Database roles")',
      examples: ['postgres://postgres:postgres@127.0.0.1:5432/chatbot'],
    }),
    ['postgres:', 'postgresql:'],
  ),
  MIGRATION_DATABASE_URL: Type.Optional(
    url(
      Type.String({
        secret: true,
        description:
          '`migrate` only: the owner\'s postgres://...; DATABASE_URL is then the service\'s login role, which it provisions (see "Database roles")',
      }),
      ['postgres:', 'postgresql:'],
    ),
  ),
  DB_POOL_SIZE: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 5,
    description: 'pool size; maximum = size + overflow',
  }),
  DB_MAX_OVERFLOW: Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: 10,
    description: 'connections above the pool size; maximum = size + overflow',
  }),
  REDIS_URL: url(
    Type.String({
      secret: true,
      description: 'redis://... (password in the URL)',
      examples: ['redis://127.0.0.1:6379'],
    }),
    ['redis:', 'rediss:'],
  ),
  CACHE_TTL_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 30 * 86400,
    default: 3600,
    description: 'how long tenant settings and other cached reads live',
  }),
  DISABLE_AUTH: Type.Boolean({
    default: false,
    description:
      'when true, every request acts as user `dev` of the tenant `default` (see Authentication); refused when ENVIRONMENT=production',
  }),
  JWT_PUBLIC_KEY: Type.Optional(
    pem(
      Type.String({ description: 'verify tokens: PEM public key (SPKI); a literal `\\n` is a newline' }),
      'public',
    ),
  ),
  JWT_PRIVATE_KEY: Type.Optional(
    pem(
      Type.String({
        secret: true,
        description: 'issue tokens: PEM private key (PKCS#8, PKCS#1 or SEC1); a literal `\\n` is a newline',
      }),
      'private',
    ),
  ),
  JWT_ISSUER: Type.Optional(Type.String({ description: 'checked when set, and written into issued tokens' })),
  JWT_AUDIENCE: Type.Optional(
    Type.String({ description: 'checked when set, and written into issued tokens' }),
  ),
  REVOCATION_CHECK_SECONDS: Type.Integer({
    minimum: 0,
    maximum: 60,
    default: 30,
    description:
      'seconds a replica trusts its last look at the API key behind a minted token (0: every request); the revoking replica knows at once',
  }),
  FERNET_KEY: Type.Optional(
    Type.Refine(
      Type.String({
        secret: true,
        description: 'url-safe base64 of 32 bytes; needed to store provider keys',
      }),
      (value) => /^[A-Za-z0-9_-]{43}=?$/.test(value) && Buffer.from(value, 'base64url').length === 32,
      () => 'must be url-safe base64 of 32 bytes',
    ),
  ),
  OPENROUTER_API_KEY: Type.Optional(
    Type.String({ secret: true, description: 'platform key, used when a tenant has none of its own' }),
  ),
  OPENROUTER_BASE_URL: url(
    Type.String({ default: 'https://openrouter.ai/api/v1', description: 'any OpenAI-compatible endpoint' }),
    ['http:', 'https:'],
  ),
  DEFAULT_MODEL: Type.String({
    default: 'openai/gpt-4o-mini',
    description: 'model for tenants that set none',
  }),
  LLM_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    maximum: 3_600_000,
    default: 60000,
    description: 'per model call, until the first byte and between bytes',
  }),
  CORS_ORIGINS: Type.Array(origin, {
    default: [],
    description: 'comma-separated allowed origins; empty: same origin only',
  }),
  ALLOWED_HOSTS: Type.Array(Type.String(), {
    default: [],
    description:
      'comma-separated Host values accepted, empty: any; others get 400 (health endpoints answer any Host)',
  }),
  DEFAULT_RATE_LIMIT_RPM: Type.Integer({
    minimum: 1,
    maximum: 10_000_000,
    default: 60,
    description: 'tenant default: requests per minute',
  }),
  DEFAULT_RATE_LIMIT_TPM: Type.Integer({
    minimum: 1,
    maximum: 10_000_000_000,
    default: 100000,
    description: 'tenant default: tokens per minute',
  }),
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 3600,
    default: 60,
    description: "the limiter's window (shorter only in tests)",
  }),
  SHUTDOWN_GRACE_MS: Type.Integer({
    minimum: 0,
    maximum: 3_600_000,
    default: 25000,
    description: 'time to drain on SIGTERM',
  }),
  APP_VERSION: Type.String({
    default: 'dev',
    description: 'the version `/health` reports; the image sets it (its VERSION build argument)',
  }),
  WEB_ROOT: Type.Optional(
    Type.String({
      description:
        'when set, the service also serves this folder at `/` (SPA fallback); for local development',
    }),
  ),
  UPLOADS_DIR: Type.String({
    default: 'uploads',
    description:
      "where uploaded knowledge-base documents are kept (relative: to the working directory; the image's /app/uploads, the stacks' uploads volume)",
  }),
  KB_MAX_UPLOAD_BYTES: Type.Integer({
    minimum: 1,
    maximum: 1024 * 1024 * 1024,
    default: 20 * 1024 * 1024,
    description: 'largest document upload (bytes); larger is 413',
  }),
  EMBEDDING_MODEL: Type.String({
    default: 'openai/text-embedding-3-small',
    description: "knowledge bases' default embedding model, asked through OPENROUTER_BASE_URL's /embeddings",
  }),
  EMBEDDING_BATCH_SIZE: Type.Integer({
    minimum: 1,
    maximum: 2048,
    default: 64,
    description: 'chunks per embedding request',
  }),
  EMBEDDING_MAX_RETRIES: Type.Integer({
    minimum: 0,
    maximum: 20,
    default: 5,
    description:
      'retries of an embedding request on 429, 5xx or a dropped connection (backoff 0.5 s doubling to 8 s, Retry-After honoured)',
  }),
  KB_CHUNK_SIZE: Type.Integer({
    minimum: 100,
    maximum: 8000,
    default: 1200,
    description: "knowledge bases' default chunk size (characters)",
  }),
  KB_CHUNK_OVERLAP: Type.Integer({
    minimum: 0,
    maximum: 4000,
    default: 200,
    description: "knowledge bases' default overlap between chunks (characters; at most half the chunk size)",
  }),
  KB_WORKER_CONCURRENCY: Type.Integer({
    minimum: 0,
    maximum: 64,
    default: 2,
    description: 'ingestion jobs this process runs at once; 0: none (the `worker` command runs them)',
  }),
  KB_JOB_ATTEMPTS: Type.Integer({
    minimum: 1,
    maximum: 50,
    default: 5,
    description: 'attempts of an ingestion or re-index job before it fails',
  }),
  KB_JOB_BACKOFF_MS: Type.Integer({
    minimum: 0,
    maximum: 3_600_000,
    default: 5000,
    description: 'wait before the second attempt of a failed job, doubling for each next one',
  }),
  KB_HNSW_MIN_CHUNKS: Type.Integer({
    minimum: 0,
    maximum: 100_000_000,
    default: 4000,
    description:
      'chunks an index version holds before it gets an HNSW index (built in one pass); smaller versions are searched exactly',
  }),
  KB_SWEEP_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 86_400,
    default: 60,
    description:
      'how often the workers look for work that lost its job (and drop index versions retired that long ago)',
  }),
  KB_QUEUE_PREFIX: Type.String({
    default: 'chatbot',
    description: "prefix of the job queue's Redis keys",
  }),
});

export type Env = Static<typeof ENV>;
export type EnvName = Extract<keyof Env, string>;

/**
 * The environment with each secret variable that is given as a file read in: `<NAME>_FILE`
 * names a file holding `<NAME>`'s value (its trailing line breaks dropped), for orchestrators
 * that mount secrets as files (Docker Swarm's /run/secrets). Setting both, or a file that
 * cannot be read, is a problem named by `<NAME>_FILE`.
 */
export function withSecretFiles(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): { env: Record<string, string | undefined>; problems: { key: string; text: string }[] } {
  const read = { ...env };
  const problems: { key: string; text: string }[] = [];
  for (const [name, schema] of Object.entries(ENV.properties as Record<string, TSchema>)) {
    const path = env[`${name}_FILE`];
    if (!isSecret(schema) || path === undefined || path === '') continue;
    if ((env[name] ?? '') !== '') {
      problems.push({ key: `${name}_FILE`, text: `is set together with ${name}: set one of them` });
      continue;
    }
    try {
      read[name] = readFile(path).replace(/[\r\n]+$/, '');
    } catch (err) {
      problems.push({ key: `${name}_FILE`, text: `cannot be read (${(err as Error).message})` });
    }
  }
  return { env: read, problems };
}
