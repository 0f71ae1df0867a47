// Prometheus metrics (prom-client) on GET /metrics, for the private network only: a
// request that came through the proxy (X-Forwarded-For) is answered 404.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Different model names one process gives the `model` label, at most. */
export const MODEL_LABELS = 100;

/**
 * The `model` label of a call: the model when the tenant names it in its settings (or it is
 * the platform's default), while fewer than `limit` models have been labelled; else `other`.
 * A tenant that may ask for any model cannot grow the series with names it makes up.
 */
export function createModelLabels(limit = MODEL_LABELS) {
  const labelled = new Set<string>();
  return function modelLabel(model: string, known: readonly string[]): string {
    if (!known.includes(model)) return 'other';
    if (labelled.has(model)) return model;
    if (labelled.size >= limit) return 'other';
    labelled.add(model);
    return model;
  };
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = {
    registry,
    /** Bounds the `model` label (see createModelLabels). */
    modelLabel: createModelLabels(),
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    llmDuration: new Histogram({
      name: 'llm_request_duration_seconds',
      help: 'Model provider call latency by model and outcome',
      labelNames: ['model', 'outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    llmTimeToFirstToken: new Histogram({
      name: 'llm_time_to_first_token_seconds',
      help: 'Time from the provider call to the first streamed piece',
      labelNames: ['model'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    llmTokens: new Counter({
      name: 'llm_tokens_total',
      help: 'Tokens used, by type (prompt or completion)',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    rateLimitRefusals: new Counter({
      name: 'rate_limit_refusals_total',
      help: 'Requests refused by the per-tenant limiter, by the budget that was spent',
      labelNames: ['limit'] as const,
      registers: [registry],
    }),
    openStreams: new Gauge({
      name: 'sse_streams_open',
      help: 'Event streams currently open',
      registers: [registry],
    }),
    idempotencyWaiters: new Gauge({
      name: 'idempotency_waiters',
      help: 'Requests waiting for the first request with their Idempotency-Key',
      registers: [registry],
    }),
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

async function metricsPlugin(app: FastifyInstance) {
  const metrics = createMetrics();
  app.decorate('metrics', metrics);

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route !== '/metrics') {
      const labels = { method: request.method, route, status: String(reply.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    }
    done();
  });

  app.get('/metrics', { logLevel: 'warn' }, async (request, reply) => {
    if (request.headers['x-forwarded-for'] !== undefined) {
      return reply.code(404).send({ error: { code: 'not_found', message: 'no route GET /metrics' } });
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

export default fp(metricsPlugin, { name: 'metrics' });
