// Configuration from the environment, as env.ts defines it (and API.md's table lists it).
// Every value is validated at start; a problem names the variable.
import { ENV, withSecretFiles, type Env, type EnvName } from './env.ts';
import { readConfig } from './lib/config-reader.ts';
import { unescapeNewlines } from './lib/keys.ts';

/** API_PORT -> apiPort, DEFAULT_RATE_LIMIT_RPM -> defaultRateLimitRpm. */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}`
  : Lowercase<S>;

/** Every variable under its camelCase name; optional ones are undefined when unset. */
export type Config = { [Name in EnvName as CamelCase<Name>]: Env[Name] };

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function camelCase(name: string): string {
  return name.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The configuration of a command (`serve`, `worker`): undefined, after printing what is
 * wrong to stderr, when it is invalid.
 */
export function loadCommandConfig(): Config | undefined {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return undefined;
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const files = withSecretFiles(env);
  const { values, problems: found } = readConfig(ENV, (name) => files.env[name]);
  // A secret whose file failed is named once, by its _FILE variable.
  const failed = new Set(files.problems.map((p) => p.key.slice(0, -'_FILE'.length)));
  const problems = [...files.problems, ...found.filter((p) => !failed.has(p.key))].map(
    (p) => `${p.key} ${p.text}`,
  );
  if (values.DISABLE_AUTH && values.ENVIRONMENT === 'production') {
    problems.push('DISABLE_AUTH=true is refused when ENVIRONMENT=production');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const pem = (value: string | undefined) => (value === undefined ? undefined : unescapeNewlines(value));
  const read: Env = {
    ...values,
    JWT_PUBLIC_KEY: pem(values.JWT_PUBLIC_KEY),
    JWT_PRIVATE_KEY: pem(values.JWT_PRIVATE_KEY),
    OPENROUTER_BASE_URL: values.OPENROUTER_BASE_URL.replace(/\/+$/, ''),
    ALLOWED_HOSTS: values.ALLOWED_HOSTS.map((h) => h.toLowerCase()),
  };
  return Object.fromEntries(Object.entries(read).map(([name, value]) => [camelCase(name), value])) as Config;
}
