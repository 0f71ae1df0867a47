// Knowledge-base jobs in Redis with BullMQ: one queue, three kinds of job (ingest a document,
// build a re-index, sweep). A job's id names its document or version, so the same work is
// never queued twice while it waits, runs or backs off. Failed attempts are retried with
// exponential backoff (KB_JOB_ATTEMPTS, KB_JOB_BACKOFF_MS); finished and failed jobs leave
// Redis at once: their outcome lives in Postgres, which is what the API shows and what the
// sweep reads to queue again whatever lost its job.
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import type { Attempt } from './ingest.ts';

export type KnowledgeJob =
  | { kind: 'ingest'; tenantId: string; documentId: string }
  | { kind: 'reindex'; tenantId: string; indexId: string }
  | { kind: 'sweep' };

/** The queue's name; a new name for a change of job format, so old workers never take new jobs. */
export const QUEUE_NAME = 'kb-v1';
const SWEEP_SCHEDULER = 'kb-sweep';

export function jobIdOf(job: KnowledgeJob): string {
  switch (job.kind) {
    case 'ingest':
      return `ingest-${job.documentId}`;
    case 'reindex':
      return `reindex-${job.indexId}`;
    case 'sweep':
      return 'sweep';
  }
}

export interface KnowledgeQueueOptions {
  redisUrl: string;
  /** Prefix of the queue's Redis keys. */
  prefix: string;
  attempts: number;
  backoffMs: number;
  log: FastifyBaseLogger;
}

/** How long an API request waits for Redis to take a job before answering without it. */
const ENQUEUE_WAIT_MS = 3000;

export function createKnowledgeQueue(options: KnowledgeQueueOptions) {
  const { log } = options;
  // BullMQ's own connection: commands wait out a reconnect (maxRetriesPerRequest null, as
  // BullMQ requires) instead of failing fast like the limiter's.
  const connection = new Redis(options.redisUrl, {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  connection.on('error', (error) => log.warn({ err: error }, 'job queue: redis connection error'));
  let queue: Queue<KnowledgeJob> | undefined;
  const workers: Worker<KnowledgeJob>[] = [];

  function queueOf(): Queue<KnowledgeJob> {
    if (queue === undefined) {
      queue = new Queue<KnowledgeJob>(QUEUE_NAME, {
        connection,
        prefix: options.prefix,
        defaultJobOptions: {
          attempts: options.attempts,
          backoff: { type: 'exponential', delay: options.backoffMs },
          removeOnComplete: true,
          removeOnFail: true,
        },
      });
      queue.on('error', (error) => log.warn({ err: error }, 'job queue error'));
    }
    return queue;
  }

  /** Whether a job for this work waits, runs or backs off. */
  async function has(job: KnowledgeJob): Promise<boolean> {
    return (await queueOf().getJob(jobIdOf(job))) !== undefined;
  }

  /**
   * Queues a job (nothing when one with its id is there). False when Redis did not take it in
   * time: the work stays queued in Postgres, and the sweep queues it later.
   */
  async function add(job: KnowledgeJob): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const added = queueOf()
      .add(job.kind, job, { jobId: jobIdOf(job) })
      .then(() => true);
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ENQUEUE_WAIT_MS);
    });
    try {
      const taken = await Promise.race([added, late]);
      if (!taken) log.warn({ job }, 'job queue did not answer in time; the sweep will queue the job');
      return taken;
    } catch (error) {
      log.warn({ err: error, job }, 'could not queue a job; the sweep will queue it');
      return false;
    } finally {
      clearTimeout(timer);
      added.catch(() => undefined);
    }
  }

  /** Queues work found without a job; false when it has one. */
  async function requeue(job: KnowledgeJob): Promise<boolean> {
    if (await has(job)) return false;
    return add(job);
  }

  /**
   * Starts `concurrency` workers in this process on `run`, and the sweep every
   * `sweepEveryMs` (one scheduler shared by every process).
   */
  function startWorkers(input: {
    concurrency: number;
    sweepEveryMs: number;
    run(job: KnowledgeJob, attempt: Attempt): Promise<unknown>;
    /** Failures that must not be retried. */
    isPermanent(error: unknown): boolean;
    /** What a failure is recorded as (no query values). */
    reasonOf(error: unknown): string;
  }): void {
    const worker = new Worker<KnowledgeJob>(
      QUEUE_NAME,
      async (job: Job<KnowledgeJob>) => {
        const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        try {
          return await input.run(job.data, { final });
        } catch (error) {
          // BullMQ keeps a failure's message and stack in Redis: only what the service says of
          // it (a query's values must not land there); the failure itself is logged here, as
          // `err` (through the logger's serializer, which keeps query values out).
          log.warn(
            { jobId: job.id, attemptsMade: job.attemptsMade, err: error },
            'knowledge-base job attempt failed',
          );
          const reason = input.reasonOf(error);
          throw input.isPermanent(error) ? new UnrecoverableError(reason) : new Error(reason);
        }
      },
      {
        connection,
        prefix: options.prefix,
        concurrency: input.concurrency,
        lockDuration: 60_000,
        maxStalledCount: 2,
      },
    );
    worker.on('error', (error) => log.warn({ err: error }, 'job worker error'));
    workers.push(worker);
    // Not awaited: a Redis that is away at start must not hold the process back.
    queueOf()
      .upsertJobScheduler(
        SWEEP_SCHEDULER,
        { every: input.sweepEveryMs },
        { name: 'sweep', data: { kind: 'sweep' }, opts: { attempts: 1 } },
      )
      .catch((error: unknown) => log.warn({ err: error }, 'could not schedule the knowledge-base sweep'));
  }

  /**
   * Stops the workers (jobs running get until `graceMs` to finish; an unfinished one is
   * taken up again by another worker once its lock lapses) and closes the connection.
   */
  async function close(graceMs = 10_000): Promise<void> {
    await Promise.all(
      workers.map(async (worker) => {
        let timer: NodeJS.Timeout | undefined;
        const patient = worker.close().then(() => true);
        const late = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), graceMs);
        });
        const closed = await Promise.race([patient, late]).catch(() => false);
        clearTimeout(timer);
        if (!closed) await worker.close(true).catch(() => undefined);
      }),
    );
    await queue?.close().catch(() => undefined);
    connection.disconnect();
  }

  return { add, has, requeue, startWorkers, close };
}

export type KnowledgeQueue = ReturnType<typeof createKnowledgeQueue>;
