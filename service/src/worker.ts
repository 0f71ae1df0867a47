// `worker`: a process that runs knowledge-base jobs and nothing else (no HTTP): ingestion,
// re-indexing, the sweep. KB_WORKER_CONCURRENCY jobs at once (at least one). The app
// containers run workers too unless KB_WORKER_CONCURRENCY=0; this command lets them run apart.
// SIGTERM: running jobs get SHUTDOWN_GRACE_MS to finish (an unfinished one is taken up again by
// another worker), then the process exits 0.
import closeWithGrace from 'close-with-grace';
import type { FastifyBaseLogger } from 'fastify';
import { pino, type LoggerOptions } from 'pino';
import { loggerOptions } from './app.ts';
import { createLlm } from './chat/llm.ts';
import { loadCommandConfig } from './config.ts';
import { createDatabase } from './db/client.ts';
import { createKnowledge } from './knowledge/service.ts';
import { Fernet } from './lib/fernet.ts';
import { createRedis, knowledgeSettingsOf } from './plugins/services.ts';
import { createTenantsRepository } from './repositories/tenants.ts';

export async function workerCommand(): Promise<number> {
  const config = loadCommandConfig();
  if (config === undefined) return 1;
  const log = pino(loggerOptions(config) as LoggerOptions) as unknown as FastifyBaseLogger;
  const database = createDatabase({
    url: config.databaseUrl,
    maxConnections: config.dbPoolSize + config.dbMaxOverflow,
  });
  const redis = createRedis(config.redisUrl);
  redis.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
  await redis.connect().catch((error: unknown) => log.warn({ err: error }, 'redis is unreachable at start'));
  const llm = createLlm({ baseUrl: config.openrouterBaseUrl, timeoutMs: config.llmTimeoutMs });
  const knowledge = createKnowledge({
    database,
    redisUrl: config.redisUrl,
    llm,
    tenants: createTenantsRepository({ database, redis, cacheTtlSeconds: config.cacheTtlSeconds, log }),
    keys: {
      fernet: config.fernetKey === undefined ? undefined : new Fernet(config.fernetKey),
      platformKey: config.openrouterApiKey,
    },
    settings: knowledgeSettingsOf(config),
    log,
  });
  knowledge.startWorkers(Math.max(1, config.kbWorkerConcurrency));
  log.info({ concurrency: Math.max(1, config.kbWorkerConcurrency) }, 'knowledge-base worker started');

  closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
    if (err !== undefined) log.error({ err }, 'worker stopping after an error');
    else log.info({ signal }, 'worker stopping: finishing running jobs');
    await knowledge.close(Math.floor(config.shutdownGraceMs * 0.8));
    await Promise.allSettled([database.close(), redis.quit().catch(() => redis.disconnect()), llm.close()]);
    log.info('worker stopped');
  });
  return 0;
}
