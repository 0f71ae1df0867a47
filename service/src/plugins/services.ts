// The service's external connections (Postgres, Redis, the model provider) and the
// repositories over them. Each connection is opened here and closed in onClose.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import { createLlm, type Llm } from '../chat/llm.ts';
import { createRateLimiter, type RateLimiter } from '../chat/rate-limit.ts';
import { createStreamOwner, type StreamOwner } from '../chat/stream-owner.ts';
import { createIdempotency, type Idempotency } from '../chat/idempotency.ts';
import { createChatTurns, type ChatTurns } from '../chat/turn.ts';
import type { Config } from '../config.ts';
import { createDatabase, type Database } from '../db/client.ts';
import { createKnowledge, type Knowledge, type KnowledgeSettings } from '../knowledge/service.ts';
import { Fernet } from '../lib/fernet.ts';
import { createTokenSigner, createTokenVerifier } from '../lib/jwt.ts';
import type { SettingsDefaults } from '../lib/settings.ts';
import type { Metrics } from './metrics.ts';
import { createApiKeysRepository, type ApiKeysRepository } from '../repositories/api-keys.ts';
import { createIdempotencyRepository } from '../repositories/idempotency.ts';
import { createSessionsRepository, type SessionsRepository } from '../repositories/sessions.ts';
import { createTenantsRepository, type TenantsRepository } from '../repositories/tenants.ts';
import { createUsageRepository, type UsageRepository } from '../repositories/usage.ts';

export interface Services {
  config: Config;
  database: Database;
  redis: Redis;
  llm: Llm;
  settingsDefaults: SettingsDefaults;
  fernet: Fernet | undefined;
  verifyToken: ReturnType<typeof createTokenVerifier> | undefined;
  signToken: ReturnType<typeof createTokenSigner> | undefined;
  tenants: TenantsRepository;
  apiKeys: ApiKeysRepository;
  sessions: SessionsRepository;
  usage: UsageRepository;
  /** Idempotency-Key: claims, replays, and waiters woken through Redis. */
  idempotency: Idempotency;
  limiter: RateLimiter;
  metrics: Metrics;
  /** Chat turns, for the sessions and the OpenAI-compatible routes. */
  turns: ChatTurns;
  /** Knowledge bases: documents, ingestion jobs (and this process's workers), search. */
  knowledge: Knowledge;
  /** This replica's lock, named by the replies it streams; sweeps what dead replicas left. */
  streamOwner: StreamOwner;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/** The knowledge-base settings of the configuration. */
export function knowledgeSettingsOf(config: Config): KnowledgeSettings {
  return {
    uploadsDir: config.uploadsDir,
    maxUploadBytes: config.kbMaxUploadBytes,
    embeddingModel: config.embeddingModel,
    embeddingBatchSize: config.embeddingBatchSize,
    embeddingMaxRetries: config.embeddingMaxRetries,
    chunkSize: config.kbChunkSize,
    chunkOverlap: config.kbChunkOverlap,
    workerConcurrency: config.kbWorkerConcurrency,
    jobAttempts: config.kbJobAttempts,
    jobBackoffMs: config.kbJobBackoffMs,
    sweepSeconds: config.kbSweepSeconds,
    queuePrefix: config.kbQueuePrefix,
    hnswMinChunks: config.kbHnswMinChunks,
  };
}

export function createRedis(url: string): Redis {
  return new Redis(url, {
    // Fail fast while Redis is away (the limiter answers 503) instead of queueing commands.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    lazyConnect: true,
    enableAutoPipelining: true,
  });
}

async function servicesPlugin(app: FastifyInstance, options: { config: Config }) {
  const { config } = options;
  const database = createDatabase({
    url: config.databaseUrl,
    maxConnections: config.dbPoolSize + config.dbMaxOverflow,
  });
  const redis = createRedis(config.redisUrl);
  redis.on('error', (error) => app.log.warn({ err: error }, 'redis connection error'));
  try {
    await redis.connect();
  } catch (error) {
    app.log.warn({ err: error }, 'redis is unreachable at start; retrying in the background');
  }
  const jwt = { issuer: config.jwtIssuer, audience: config.jwtAudience };
  const llm = createLlm({ baseUrl: config.openrouterBaseUrl, timeoutMs: config.llmTimeoutMs });
  const settingsDefaults = {
    defaultModel: config.defaultModel,
    defaultRateLimitRpm: config.defaultRateLimitRpm,
    defaultRateLimitTpm: config.defaultRateLimitTpm,
  };
  const fernet = config.fernetKey === undefined ? undefined : new Fernet(config.fernetKey);
  const tenants = createTenantsRepository({
    database,
    redis,
    cacheTtlSeconds: config.cacheTtlSeconds,
    log: app.log,
  });
  // The replica's lock in Postgres, named by the replies it streams (chat/stream-owner.ts).
  const streamOwner = createStreamOwner({ databaseUrl: config.databaseUrl, database, log: app.log });
  const sessions = createSessionsRepository({ database, streamOwner: streamOwner.current });
  const usage = createUsageRepository({ database });
  const limiter = createRateLimiter({
    redis,
    windowSeconds: config.rateLimitWindowSeconds,
    onRefusal: (limit) => app.metrics.rateLimitRefusals.inc({ limit }),
  });
  const metrics = app.metrics;
  const keys = { fernet, platformKey: config.openrouterApiKey };
  const knowledge = createKnowledge({
    database,
    redisUrl: config.redisUrl,
    llm,
    tenants,
    keys,
    settings: knowledgeSettingsOf(config),
    log: app.log,
  });
  const services: Services = {
    config,
    database,
    redis,
    llm,
    settingsDefaults,
    fernet,
    verifyToken:
      config.jwtPublicKey === undefined ? undefined : createTokenVerifier(config.jwtPublicKey, jwt),
    signToken: config.jwtPrivateKey === undefined ? undefined : createTokenSigner(config.jwtPrivateKey, jwt),
    tenants,
    apiKeys: createApiKeysRepository({ database, checkSeconds: config.revocationCheckSeconds }),
    sessions,
    usage,
    idempotency: createIdempotency({
      repository: createIdempotencyRepository({ database }),
      redis,
      waiting: app.metrics.idempotencyWaiters,
      log: app.log,
    }),
    limiter,
    metrics,
    turns: createChatTurns({
      tenants,
      settingsDefaults,
      ...keys,
      limiter,
      llm,
      sessions,
      usage,
      metrics,
      knowledge: knowledge.retriever,
    }),
    knowledge,
    streamOwner,
  };
  app.decorate('services', services);

  // The workers start once the app is ready (KB_WORKER_CONCURRENCY of them; none at 0).
  app.addHook('onReady', (done) => {
    knowledge.startWorkers();
    // Takes this replica's lock, then marks failed what replicas that died left streaming.
    streamOwner.start();
    done();
  });

  app.addHook('onClose', async () => {
    // Jobs running get part of the shutdown grace to finish, while the database is open.
    await knowledge
      .close(Math.floor(config.shutdownGraceMs / 2))
      .catch((error: unknown) => app.log.warn({ err: error }, 'closing the knowledge-base workers failed'));
    services.idempotency.close();
    await Promise.allSettled([
      // Streams have ended (the server closed after its requests): the lock may go.
      streamOwner.close(),
      database.close(),
      redis.quit().catch(() => redis.disconnect()),
      services.llm.close(),
    ]);
  });
}

export default fp(servicesPlugin, { name: 'services', dependencies: ['metrics'] });
