// Real Postgres (pgvector) and Redis for the whole run: from TEST_DATABASE_URL /
// TEST_REDIS_URL when given (the GitLab job's services), else containers started here and
// removed afterwards.
import type { TestProject } from 'vitest/node';
import { startPostgres, startRedis, type StartedContainer } from './docker.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const started: StartedContainer[] = [];
  const teardown = async () => {
    await Promise.all(started.map((c) => c.stop()));
  };
  try {
    let databaseUrl = process.env.TEST_DATABASE_URL;
    let redisUrl = process.env.TEST_REDIS_URL;
    const [pg, redis] = await Promise.allSettled([
      databaseUrl === undefined ? startPostgres() : undefined,
      redisUrl === undefined ? startRedis() : undefined,
    ]);
    for (const result of [pg, redis]) {
      if (result.status === 'fulfilled' && result.value !== undefined) started.push(result.value);
    }
    if (pg.status === 'rejected') throw pg.reason;
    if (redis.status === 'rejected') throw redis.reason;
    databaseUrl ??= pg.value!.url;
    redisUrl ??= redis.value!.url;
    project.provide('databaseUrl', databaseUrl);
    project.provide('redisUrl', redisUrl);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
