// The app containers' environment: for each variable of the service's schema
// (service/src/env.ts), where a stack gets its value. `{ key }` is a stack key, declared from
// the variable's own schema (Pulumi.yaml's type, default and description; the same bounds,
// formats and secrecy when the stack is validated) and passed on as the text the service
// reads. 'program' is a value the program makes (resources, constants). A variable not named
// here stays unset, so the service's default applies.
import { ENV, type EnvName } from '@chatbot/service/env';
import { formatValue, isSecret, meaningOf, withOptions } from '@chatbot/service/config-reader';
import * as pulumi from '@pulumi/pulumi';
import type { TSchema } from 'typebox';

interface FromStack {
  key: string;
  /** Added to the variable's description in Pulumi.yaml. */
  note?: string;
  /** What the key means in a stack, where it differs from the variable's description. */
  description?: string;
  /** A bound tighter than the service's. */
  maximum?: number;
}

export const APP_ENV = {
  ENVIRONMENT: { key: 'environment' },
  LOG_LEVEL: { key: 'logLevel' },
  API_HOST: 'program',
  API_PORT: 'program',
  DATABASE_URL: 'program',
  DB_POOL_SIZE: { key: 'dbPoolSize', note: 'each app container' },
  DB_MAX_OVERFLOW: { key: 'dbMaxOverflow', note: 'each app container' },
  REDIS_URL: 'program',
  CACHE_TTL_SECONDS: { key: 'cacheTtlSeconds' },
  DISABLE_AUTH: { key: 'disableAuth' },
  JWT_PUBLIC_KEY: 'program',
  JWT_PRIVATE_KEY: 'program',
  JWT_ISSUER: { key: 'jwtIssuer', note: 'empty leaves it unset' },
  JWT_AUDIENCE: { key: 'jwtAudience', note: 'empty leaves it unset' },
  FERNET_KEY: 'program',
  OPENROUTER_API_KEY: { key: 'openrouterApiKey', note: 'required outside development' },
  OPENROUTER_BASE_URL: { key: 'openrouterBaseUrl' },
  DEFAULT_MODEL: { key: 'defaultModel' },
  LLM_TIMEOUT_MS: { key: 'llmTimeoutMs' },
  CORS_ORIGINS: { key: 'corsOrigins' },
  ALLOWED_HOSTS: {
    key: 'allowedHosts',
    description:
      'comma-separated Host values accepted; empty means the domain (and localhost, 127.0.0.1 in development)',
  },
  DEFAULT_RATE_LIMIT_RPM: { key: 'defaultRateLimitRpm' },
  DEFAULT_RATE_LIMIT_TPM: { key: 'defaultRateLimitTpm' },
  RATE_LIMIT_WINDOW_SECONDS: { key: 'rateLimitWindowSeconds' },
  SHUTDOWN_GRACE_MS: {
    key: 'shutdownGraceMs',
    maximum: 600_000,
    note: 'containers get this plus 5 s to stop',
  },
  UPLOADS_DIR: 'program',
  KB_MAX_UPLOAD_BYTES: { key: 'kbMaxUploadBytes', note: 'nginx admits document uploads this large' },
  EMBEDDING_MODEL: { key: 'embeddingModel' },
  KB_WORKER_CONCURRENCY: {
    key: 'kbWorkerConcurrency',
    note: 'each app container runs these ingestion workers',
  },
} as const satisfies { readonly [Name in EnvName]?: FromStack | 'program' };

type Table = typeof APP_ENV;
/** Stack key -> variable. */
type KeyToName = {
  [Name in keyof Table as Table[Name] extends { key: infer Key extends string } ? Key : never]: Name;
};
export type AppStackKey = keyof KeyToName;
/** The variables the program provides. */
export type ProgramName = {
  [Name in keyof Table]: Table[Name] extends 'program' ? Name : never;
}[keyof Table];
/** Each app stack key with its variable's schema. */
export type AppSpec = { [Key in AppStackKey]: (typeof ENV.properties)[KeyToName[Key]] };

/** The table's rows in the schema's order. */
const entries = (Object.keys(ENV.properties) as EnvName[]).flatMap((name) => {
  const source: FromStack | 'program' | undefined = (
    APP_ENV as Partial<Record<EnvName, FromStack | 'program'>>
  )[name];
  return source === undefined ? [] : [[name, source] as const];
});

/** The app's stack keys, in the service's order, each declared from its variable's schema. */
export const APP_SPEC = Object.fromEntries(
  entries.flatMap(([name, source]) => {
    if (source === 'program') return [];
    const schema: TSchema = ENV.properties[name];
    const meaning = source.description ?? meaningOf(schema);
    const description = `${meaning.charAt(0).toUpperCase()}${meaning.slice(1)} (${name}${source.note === undefined ? '' : `; ${source.note}`}).`;
    const maximum = source.maximum === undefined ? {} : { maximum: source.maximum };
    return [[source.key, withOptions(schema, { description, ...maximum })]];
  }),
) as AppSpec;

/** One variable of the app's environment. */
export interface AppVariable {
  name: EnvName;
  value: pulumi.Input<string>;
  /** The service's schema marks it secret (swarm mode passes it as a file, <NAME>_FILE). */
  secret: boolean;
}

/**
 * The variables the app gets, in the schema's order: each stack key's value as the text the
 * service reads (a secret variable's kept secret), and what the program provides.
 */
export function appVariables(
  settings: { readonly [Key in AppStackKey]?: unknown },
  program: Record<ProgramName, pulumi.Input<string>>,
): AppVariable[] {
  const variables: AppVariable[] = [];
  for (const [name, source] of entries) {
    const secret = isSecret(ENV.properties[name]);
    let value: pulumi.Input<string> | undefined;
    if (source === 'program') {
      value = program[name as ProgramName];
    } else {
      const text = formatValue(settings[source.key as AppStackKey]);
      value = text !== undefined && secret ? pulumi.secret(text) : text;
    }
    if (value !== undefined) variables.push({ name, value, secret });
  }
  return variables;
}

/** The variables as a container's environment (NAME=value, in their order), see appVariables. */
export function environmentList(variables: AppVariable[]): pulumi.Output<string>[] {
  return variables.map(({ name, value }) => pulumi.interpolate`${name}=${value}`);
}
