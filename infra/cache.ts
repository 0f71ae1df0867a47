// Redis: a generated password, an append-only file on a data volume, and (when configured)
// maxmemory with an eviction policy. The password reaches Redis in an uploaded config file
// and the healthcheck through REDISCLI_AUTH, never on a command line.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { ResourceLimits } from './config.ts';
import { dataVolume, generatedPassword, labelList, limitArgs, type Labels } from './docker-defaults.ts';

/** Redis's name on the stack network. */
export const CACHE_HOST = 'redis';
export const REDIS_CONFIG_PATH = '/etc/redis-chatbot.conf';

export interface CacheArgs {
  namePrefix: string;
  network: pulumi.Input<string>;
  image: string;
  limits: ResourceLimits;
  maxmemory: string | undefined;
  maxmemoryPolicy: string;
  data: { retain: boolean; protect: boolean };
  stopSeconds: number;
  labels: Labels;
}

/** redis.conf for the given password and memory settings. */
export function renderRedisConfig(password: string, maxmemory: string | undefined, policy: string): string {
  return [
    '# Written by the chatbot Pulumi program (infra/cache.ts).',
    'bind * -::*',
    'port 6379',
    'protected-mode yes',
    `requirepass ${password}`,
    'dir /data',
    'appendonly yes',
    'appendfsync everysec',
    ...(maxmemory !== undefined ? [`maxmemory ${maxmemory}`, `maxmemory-policy ${policy}`] : []),
    '',
  ].join('\n');
}

export class Cache extends pulumi.ComponentResource {
  /** redis://:<password>@redis:6379/0. Secret. */
  public readonly url: pulumi.Output<string>;
  public readonly container: docker.Container;
  public readonly volume: docker.Volume;

  constructor(name: string, args: CacheArgs, opts?: pulumi.ComponentResourceOptions) {
    super('chatbot:infra:Cache', name, {}, opts);

    const password = generatedPassword(`${name}-password`, this);

    this.volume = dataVolume(`${name}-data`, `${args.namePrefix}-redisdata`, args.labels, args.data, this);

    const redisConf = pulumi.secret(
      password.result.apply((p) => renderRedisConfig(p, args.maxmemory, args.maxmemoryPolicy)),
    );

    this.container = new docker.Container(
      `${name}-redis`,
      {
        name: `${args.namePrefix}-redis`,
        image: args.image,
        command: ['redis-server', REDIS_CONFIG_PATH],
        uploads: [{ file: REDIS_CONFIG_PATH, content: redisConf }],
        envs: [pulumi.interpolate`REDISCLI_AUTH=${password.result}`],
        volumes: [{ volumeName: this.volume.name, containerPath: '/data' }],
        networksAdvanced: [{ name: args.network, aliases: [CACHE_HOST] }],
        healthcheck: {
          tests: ['CMD-SHELL', 'redis-cli -h 127.0.0.1 ping | grep -q PONG'],
          interval: '5s',
          timeout: '3s',
          retries: 12,
          startPeriod: '10s',
        },
        wait: true,
        waitTimeout: 120,
        restart: 'unless-stopped',
        stopTimeout: args.stopSeconds,
        destroyGraceSeconds: args.stopSeconds,
        labels: labelList({ ...args.labels, 'com.chatbot.component': 'redis' }),
        ...limitArgs(args.limits),
      },
      { parent: this, deleteBeforeReplace: true },
    );

    this.url = pulumi.secret(pulumi.interpolate`redis://:${password.result}@${CACHE_HOST}:6379/0`);
    this.registerOutputs({ container: this.container.name });
  }
}
