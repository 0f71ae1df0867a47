// Redis: a generated password, an append-only file on a data volume, and (when configured)
// maxmemory with an eviction policy. The password reaches Redis in a config file (uploaded
// here, a Swarm secret in swarm-data.ts) and the healthcheck through REDISCLI_AUTH, never on a
// command line. What Redis is (settings, config file, command line, healthcheck, URL) is
// defined here for both orchestrators.
import type * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { dataVolume, generatedPassword, stackContainer, type ComponentArgs } from './docker-defaults.ts';

/** Redis's name on the stack network. */
export const CACHE_HOST = 'redis';
export const REDIS_PORT = 6379;
/** Where the append-only file lives (the data volume's mount). */
export const REDIS_DATA_PATH = '/data';
export const REDIS_CONFIG_PATH = '/etc/redis-chatbot.conf';

/** Redis's settings, whichever the orchestrator. */
export interface RedisSettings extends ComponentArgs {
  image: string;
  maxmemory: string | undefined;
  maxmemoryPolicy: string;
}

export interface CacheArgs extends RedisSettings {
  network: pulumi.Input<string>;
  data: { retain: boolean; protect: boolean };
}

/** redis.conf for the given password and memory settings. */
export function renderRedisConfig(password: string, maxmemory: string | undefined, policy: string): string {
  return [
    '# Written by the chatbot Pulumi program (infra/cache.ts).',
    'bind * -::*',
    `port ${REDIS_PORT}`,
    'protected-mode yes',
    `requirepass ${password}`,
    `dir ${REDIS_DATA_PATH}`,
    'appendonly yes',
    'appendfsync everysec',
    ...(maxmemory !== undefined ? [`maxmemory ${maxmemory}`, `maxmemory-policy ${policy}`] : []),
    '',
  ].join('\n');
}

/**
 * Redis's generated password (the same resource in both orchestrators' components, so a stack
 * moving between them keeps it), its config file and its URL.
 */
export function redisCredentials(
  name: string,
  s: RedisSettings,
  parent: pulumi.Resource,
): { password: pulumi.Output<string>; config: pulumi.Output<string>; url: pulumi.Output<string> } {
  const password = generatedPassword(`${name}-password`, parent).result;
  return {
    password,
    config: password.apply((p) => renderRedisConfig(p, s.maxmemory, s.maxmemoryPolicy)),
    url: pulumi.secret(pulumi.interpolate`redis://:${password}@${CACHE_HOST}:${REDIS_PORT}/0`),
  };
}

/** The server's command line: everything is in its config file. */
export function redisCommand(configPath: string): string[] {
  return ['redis-server', configPath];
}

/**
 * Redis's healthcheck: a PING over TCP. `setAuth` is a shell prefix that puts the password in
 * redis-cli's environment (REDISCLI_AUTH) where the container's environment does not have it.
 */
export function redisHealthcheck(setAuth = ''): {
  tests: string[];
  interval: string;
  timeout: string;
  retries: number;
  startPeriod: string;
} {
  return {
    tests: ['CMD-SHELL', `${setAuth}redis-cli -h 127.0.0.1 ping | grep -q PONG`],
    interval: '5s',
    timeout: '3s',
    retries: 12,
    startPeriod: '10s',
  };
}

export class Cache extends pulumi.ComponentResource {
  /** redis://:<password>@redis:6379/0. Secret. */
  public readonly url: pulumi.Output<string>;
  public readonly container: docker.Container;
  public readonly volume: docker.Volume;

  constructor(name: string, args: CacheArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chatbot:infra:Cache', name, {}, opts);

    const credentials = redisCredentials(name, args, this);

    this.volume = dataVolume(`${name}-data`, `${args.namePrefix}-redisdata`, args.labels, args.data, this);

    this.container = stackContainer(
      `${name}-redis`,
      {
        name: `${args.namePrefix}-redis`,
        image: args.image,
        command: redisCommand(REDIS_CONFIG_PATH),
        uploads: [{ file: REDIS_CONFIG_PATH, content: pulumi.secret(credentials.config) }],
        envs: [pulumi.interpolate`REDISCLI_AUTH=${credentials.password}`],
        volumes: [{ volumeName: this.volume.name, containerPath: REDIS_DATA_PATH }],
        networksAdvanced: [{ name: args.network, aliases: [CACHE_HOST] }],
        healthcheck: redisHealthcheck(),
      },
      {
        component: 'redis',
        labels: args.labels,
        waitSeconds: 120,
        stopSeconds: args.stopSeconds,
        limits: args.limits,
      },
      this,
    );

    this.url = credentials.url;
    this.registerOutputs({ container: this.container.name });
  }
}
