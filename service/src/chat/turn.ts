// A chat turn: the session's history and the tenant's system prompt form the context; the
// request is admitted by the rate limiter (tokens reserved: context / 4 + max output) and
// the user message stored before the model call; the assistant message is stored complete,
// or failed when the provider fails; the reservation is then settled to the real usage.
import type { FastifyBaseLogger } from 'fastify';
import type { MessageRow, TenantRow } from '../db/schema.ts';
import { AppError, forbidden, notFound } from '../errors.ts';
import type { Role } from '../lib/jwt.ts';
import { checkRequestedModel, resolveSettings, type TenantSettings } from '../lib/settings.ts';
import { providerKeyFor, type Services } from '../plugins/services.ts';
import { versionKey, type VersionedTenant } from '../repositories/tenants.ts';
import type { NewAssistantMessage } from '../repositories/sessions.ts';
import {
  estimatePromptTokens,
  partialOf,
  providerError,
  type ChatMessage,
  type CompletionResult,
} from './llm.ts';
import { PreconditionFailed, type Precondition, type Reservation } from './rate-limit.ts';

/** Earlier messages sent to the model with each turn. */
export const HISTORY_LIMIT = 50;

export interface TurnCaller {
  tenantId: string;
  userId: string;
  role: Role;
}

export interface PreparedTurn {
  tenant: TenantRow;
  settings: TenantSettings;
  models: string[];
  apiKey: string;
  /** The limiter admits the turn only while the tenant's settings are still these. */
  precondition: Precondition;
}

/** What the model call needs, from the caller's tenant; refuses before anything is stored. */
function prepareTurn(
  services: Services,
  caller: TurnCaller,
  tenant: VersionedTenant | undefined,
  requestedModel: string | undefined,
  param: string,
): PreparedTurn {
  if (tenant === undefined)
    throw new AppError('unauthorized', 'the tenant of this credential no longer exists');
  const settings = resolveSettings(tenant.row.settings, services.settingsDefaults);
  const model = requestedModel ?? settings.model;
  checkRequestedModel(settings, model, param);
  const apiKey = providerKeyFor(services, tenant.row.providerKeyEncrypted);
  const models = [model, ...settings.fallbackModels.filter((m) => m !== model)];
  // Without a version (Redis was unreachable) nothing can match: the turn reloads.
  const precondition = { key: versionKey(caller.tenantId), value: tenant.version ?? 'unknown' };
  return { tenant: tenant.row, settings, models, apiKey, precondition };
}

/**
 * Runs `attempt` with the turn prepared from this process's copy of the caller's tenant.
 * Settings decide only on their current version: when the limiter finds the tenant changed
 * since (through any replica), or when `attempt` or the preparation refuses the request on
 * the copy, the tenant is read again and everything runs anew. `attempt` must not have
 * stored anything when it fails.
 */
export async function withPreparedTurn<T>(
  services: Services,
  caller: TurnCaller,
  requestedModel: string | undefined,
  attempt: (prepared: PreparedTurn) => Promise<T>,
  options: { param?: string } = {},
): Promise<T> {
  let fresh = false;
  for (let tries = 1; ; tries++) {
    const tenant = await services.tenants.getForTurn(caller.tenantId, { fresh });
    try {
      return await attempt(prepareTurn(services, caller, tenant, requestedModel, options.param ?? 'model'));
    } catch (error) {
      const stale = error instanceof PreconditionFailed;
      const refusedOnCopy =
        tenant?.local === true &&
        error instanceof AppError &&
        error.code !== 'rate_limited' &&
        error.code !== 'unavailable';
      if (!stale && !refusedOnCopy) throw error;
      if (tries >= 3) {
        throw new AppError('unavailable', 'the tenant settings keep changing; retry', { cause: error });
      }
      fresh = true;
    }
  }
}

/** Admits the turn (tokens reserved) under the settings it was prepared with. */
export function reserveTurn(services: Services, caller: TurnCaller, prepared: PreparedTurn, tokens: number) {
  return services.limiter.reserve(
    caller.tenantId,
    prepared.settings.rateLimit,
    tokens,
    prepared.precondition,
  );
}

export interface StartedTurn {
  userMessage: MessageRow;
  placeholder: MessageRow | undefined;
  context: ChatMessage[];
  reservation: Reservation;
}

/**
 * Reads the session's history, admits the turn (its tokens reserved for that context), then
 * stores the user message; 404/403 when the session is not the caller's. Nothing is stored
 * when the turn is refused; a reservation whose message could not be stored is released.
 * A streamed turn shows the user message at once, so it is stored durably; a whole turn
 * shows it only with the reply, whose durable commit makes it durable too (WAL order), so
 * its own commit does not wait for the disk.
 */
export async function startTurn(
  services: Services,
  caller: TurnCaller,
  input: { sessionId: string; content: string; prepared: PreparedTurn; placeholder: boolean },
): Promise<StartedTurn> {
  const { settings } = input.prepared;
  const target = { tenantId: caller.tenantId, sessionId: input.sessionId, userId: caller.userId };
  const history = await services.sessions.turnHistory({ ...target, limit: HISTORY_LIMIT });
  if (history === undefined) return sessionRefused(services, caller, input.sessionId);
  const context: ChatMessage[] = [];
  if (settings.systemPrompt !== '') context.push({ role: 'system', content: settings.systemPrompt });
  for (const m of history) context.push({ role: m.role, content: m.content });
  context.push({ role: 'user', content: input.content });
  const reservation = await reserveTurn(
    services,
    caller,
    input.prepared,
    estimatePromptTokens(context) + settings.maxOutputTokens,
  );
  let stored: Awaited<ReturnType<Services['sessions']['storeUserMessage']>>;
  try {
    stored = await services.sessions.storeUserMessage({
      ...target,
      content: input.content,
      placeholder: input.placeholder,
      durable: input.placeholder,
    });
  } catch (error) {
    await releaseReservation(services, caller.tenantId, reservation);
    throw error;
  }
  if (stored === undefined) {
    // Deleted since its history was read.
    await releaseReservation(services, caller.tenantId, reservation);
    return sessionRefused(services, caller, input.sessionId);
  }
  return { userMessage: stored.userMessage, placeholder: stored.placeholder, context, reservation };
}

async function sessionRefused(services: Services, caller: TurnCaller, sessionId: string): Promise<never> {
  const session = await services.sessions.get({ tenantId: caller.tenantId, id: sessionId });
  if (session !== undefined && caller.role === 'tenant_admin') {
    throw forbidden('only the owner of a session may send messages in it');
  }
  throw notFound('session');
}

/** Gives back a reservation whose turn never reached the model. Best effort. */
async function releaseReservation(services: Services, tenantId: string, reservation: Reservation) {
  await services.limiter.settle(tenantId, reservation, 0).catch(() => undefined);
}

/** Usage as the provider reported it, else API.md's estimate. */
export function usageOf(context: ChatMessage[], content: string, result?: CompletionResult) {
  return (
    result?.usage ?? {
      promptTokens: estimatePromptTokens(context),
      completionTokens: Math.ceil(content.length / 4),
    }
  );
}

/** Settles the reservation to the tokens really used and records provider metrics. */
export async function settleTurn(
  services: Services,
  log: FastifyBaseLogger,
  tenantId: string,
  reservation: Reservation,
  usage: { promptTokens: number; completionTokens: number },
): Promise<void> {
  services.metrics.llmTokens.inc({ type: 'prompt' }, usage.promptTokens);
  services.metrics.llmTokens.inc({ type: 'completion' }, usage.completionTokens);
  try {
    await services.limiter.settle(tenantId, reservation, usage.promptTokens + usage.completionTokens);
  } catch (error) {
    log.warn({ err: error }, 'could not settle a rate-limit reservation; it expires with the window');
  }
}

function observeLlm(services: Services, model: string, outcome: string, startedAt: number) {
  services.metrics.llmDuration.observe({ model, outcome }, (performance.now() - startedAt) / 1000);
}

async function storeReply(
  services: Services,
  caller: TurnCaller,
  sessionId: string,
  placeholder: MessageRow | undefined,
  reply: NewAssistantMessage,
): Promise<MessageRow> {
  const row = await services.sessions.finishTurn({
    tenantId: caller.tenantId,
    sessionId,
    ...(placeholder === undefined ? {} : { messageId: placeholder.id }),
    reply,
  });
  if (row === undefined) throw notFound('session'); // deleted while the model answered
  return row;
}

export interface TurnResult {
  message: MessageRow;
  reply: MessageRow;
  rateLimitHeaders: Record<string, string>;
}

/** A whole non-streaming turn. */
export async function runTurn(
  services: Services,
  log: FastifyBaseLogger,
  caller: TurnCaller,
  input: { sessionId: string; content: string; model?: string },
): Promise<TurnResult> {
  const [prepared, started] = await withPreparedTurn(services, caller, input.model, async (prepared) => [
    prepared,
    await startTurn(services, caller, { ...input, prepared, placeholder: false }),
  ]);
  const { context, reservation } = started;
  const t0 = performance.now();
  let result: CompletionResult;
  try {
    result = await services.llm.complete({
      apiKey: prepared.apiKey,
      models: prepared.models,
      messages: context,
      maxTokens: prepared.settings.maxOutputTokens,
    });
  } catch (error) {
    const failure = providerError(error);
    observeLlm(services, prepared.models[0]!, failure.code, t0);
    log.warn({ err: error, code: failure.code }, 'model call failed');
    await Promise.all([
      settleTurn(services, log, caller.tenantId, reservation, { promptTokens: 0, completionTokens: 0 }),
      storeReply(services, caller, input.sessionId, undefined, {
        content: '',
        status: 'failed',
        model: prepared.models[0] ?? null,
        promptTokens: null,
        completionTokens: null,
        error: failure.code,
      }),
    ]);
    throw Object.assign(failure, { headers: { ...reservation.headers, ...failure.headers } });
  }
  observeLlm(services, result.model, 'ok', t0);
  const usage = usageOf(context, result.content, result);
  // The limiter's settlement and the database write are independent: both at once.
  const [, reply] = await Promise.all([
    settleTurn(services, log, caller.tenantId, reservation, usage),
    storeReply(services, caller, input.sessionId, undefined, {
      content: result.content,
      status: 'complete',
      model: result.model,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      error: null,
    }),
  ]);
  return { message: started.userMessage, reply, rateLimitHeaders: reservation.headers };
}

export interface TurnEvents {
  delta(piece: string): void;
}

/**
 * Streams the model's answer of a started turn; stores the placeholder as complete, or as
 * failed with whatever arrived (provider error, timeout, or the client going away).
 */
export async function streamStartedTurn(
  services: Services,
  log: FastifyBaseLogger,
  caller: TurnCaller,
  input: {
    sessionId: string;
    prepared: PreparedTurn;
    started: StartedTurn;
    signal: AbortSignal;
    events: TurnEvents;
  },
): Promise<{ reply: MessageRow; failure?: AppError }> {
  const { prepared, started } = input;
  const t0 = performance.now();
  let firstPiece = true;
  try {
    const result = await services.llm.stream(
      {
        apiKey: prepared.apiKey,
        models: prepared.models,
        messages: started.context,
        maxTokens: prepared.settings.maxOutputTokens,
        signal: input.signal,
      },
      (piece) => {
        if (piece === '') return;
        if (firstPiece) {
          firstPiece = false;
          services.metrics.llmTimeToFirstToken.observe(
            { model: prepared.models[0]! },
            (performance.now() - t0) / 1000,
          );
        }
        input.events.delta(piece);
      },
    );
    observeLlm(services, result.model, 'ok', t0);
    const usage = usageOf(started.context, result.content, result);
    const [, reply] = await Promise.all([
      settleTurn(services, log, caller.tenantId, started.reservation, usage),
      storeReply(services, caller, input.sessionId, started.placeholder, {
        content: result.content,
        status: 'complete',
        model: result.model,
        promptTokens: usage.promptTokens,
        completionTokens: usage.completionTokens,
        error: null,
      }),
    ]);
    return { reply };
  } catch (error) {
    const failure = error instanceof AppError ? error : providerError(error);
    const partial = partialOf(error);
    observeLlm(services, prepared.models[0]!, input.signal.aborted ? 'aborted' : failure.code, t0);
    log.warn({ err: error, code: failure.code, aborted: input.signal.aborted }, 'streamed model call failed');
    const usage = usageOf(started.context, partial);
    const [, reply] = await Promise.all([
      settleTurn(
        services,
        log,
        caller.tenantId,
        started.reservation,
        partial === '' ? { promptTokens: 0, completionTokens: 0 } : usage,
      ),
      storeReply(services, caller, input.sessionId, started.placeholder, {
        content: partial,
        status: 'failed',
        model: prepared.models[0] ?? null,
        promptTokens: partial === '' ? null : usage.promptTokens,
        completionTokens: partial === '' ? null : usage.completionTokens,
        error: failure.code,
      }),
    ]);
    return { reply, failure };
  }
}
