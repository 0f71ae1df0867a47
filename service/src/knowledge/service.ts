// Knowledge bases, assembled: the repository, the uploads on disk, the embedding client, the
// job queue and, when this process runs them (KB_WORKER_CONCURRENCY > 0, or the `worker`
// command), the workers. The services plugin and the worker command both build it here.
import type { FastifyBaseLogger } from 'fastify';
import type { Llm } from '../chat/llm.ts';
import type { Database } from '../db/client.ts';
import { providerKeyOf, type ProviderKeys } from '../lib/provider-key.ts';
import type { TenantsRepository } from '../repositories/tenants.ts';
import { createEmbedder } from './embeddings.ts';
import { ExtractionError, extractFile } from './extract.ts';
import { createIngestion, PermanentFailure, reasonOf } from './ingest.ts';
import { createKnowledgeQueue } from './queue.ts';
import { createKnowledgeRepository } from './repository.ts';
import { createRetriever } from './retrieve.ts';
import { createUploadStorage } from './storage.ts';

/** KB_* and EMBEDDING_* settings (API.md, "Configuration"). */
export interface KnowledgeSettings {
  uploadsDir: string;
  maxUploadBytes: number;
  embeddingModel: string;
  embeddingBatchSize: number;
  embeddingMaxRetries: number;
  chunkSize: number;
  chunkOverlap: number;
  workerConcurrency: number;
  jobAttempts: number;
  jobBackoffMs: number;
  sweepSeconds: number;
  queuePrefix: string;
  /** Chunks a version holds before it gets an HNSW index. */
  hnswMinChunks: number;
}

export function createKnowledge(deps: {
  database: Database;
  redisUrl: string;
  /** The provider's clients (embedding requests go through them). */
  llm: Pick<Llm, 'clientFor'>;
  tenants: Pick<TenantsRepository, 'get'>;
  keys: ProviderKeys;
  settings: KnowledgeSettings;
  log: FastifyBaseLogger;
}) {
  const { settings, log } = deps;
  const repository = createKnowledgeRepository({ database: deps.database });
  const storage = createUploadStorage({ dir: settings.uploadsDir });
  const embedder = createEmbedder({
    llm: deps.llm,
    maxRetries: settings.embeddingMaxRetries,
    batchSize: settings.embeddingBatchSize,
  });
  const queue = createKnowledgeQueue({
    redisUrl: deps.redisUrl,
    prefix: settings.queuePrefix,
    attempts: settings.jobAttempts,
    backoffMs: settings.jobBackoffMs,
    log,
  });
  const retriever = createRetriever({ repository, embedder });

  /** The key a tenant's embedding calls use. */
  async function apiKeyFor(tenantId: string): Promise<string> {
    const tenant = await deps.tenants.get(tenantId);
    if (tenant === undefined) throw new PermanentFailure('the tenant no longer exists');
    return providerKeyOf(tenant, deps.keys);
  }

  const ingestion = createIngestion({
    repository,
    storage,
    embedder,
    apiKeyFor,
    extract: extractFile,
    requeue: (job) => queue.requeue(job),
    attempts: settings.jobAttempts,
    idleSeconds: settings.sweepSeconds,
    hnswMinChunks: settings.hnswMinChunks,
    log,
  });

  /** Starts this process's workers (none when KB_WORKER_CONCURRENCY is 0). */
  function startWorkers(concurrency = settings.workerConcurrency): void {
    if (concurrency <= 0) return;
    queue.startWorkers({
      concurrency,
      sweepEveryMs: settings.sweepSeconds * 1000,
      isPermanent: (error) => error instanceof ExtractionError || error instanceof PermanentFailure,
      reasonOf,
      run: (job, attempt) => {
        switch (job.kind) {
          case 'ingest':
            return ingestion.ingest(job, attempt);
          case 'reindex':
            return ingestion.reindex(job, attempt);
          case 'sweep':
            return ingestion.sweep();
        }
      },
    });
  }

  async function close(graceMs?: number): Promise<void> {
    await queue.close(graceMs);
  }

  return { settings, repository, storage, queue, retriever, ingestion, apiKeyFor, startWorkers, close };
}

export type Knowledge = ReturnType<typeof createKnowledge>;
