// A chat turn, for both chat routes: a stored session turn (POST /v1/sessions/{id}/messages)
// and a stateless OpenAI-compatible one (POST /v1/chat/completions), each whole or streamed.
// Every turn takes the same steps, in one implementation:
//   prepare  the caller's tenant settings decide the models (allowedModels, fallbacks), the
//            provider key and the max output (at most maxOutputTokens); refusals come first
//   reserve  the limiter admits the request, tokens reserved: context / 4 + max output (a
//            session turn reads its history first, then stores the user message)
//   call     the model, whole or streamed, timed in the metrics
//   settle   the reservation replaced by the real usage (else API.md's estimate)
//   account  the usage counted for the day: by the statement that stores a session turn's
//            reply, or by one usage statement for a stateless turn
//   store    a session turn's assistant message, complete, or failed with what arrived; a
//            whole turn whose client went away leaves nothing (its user message is removed)
// When the tenant's chat uses knowledge bases, `reserve` first retrieves the chunks the turn's
// question finds there (knowledge/retrieve.ts) and adds them to the context it reserves for;
// they are the reply's `sources`.
import type { TokenUsage } from '@chatbot/api-types/sessions';
import type { TenantSettings } from '@chatbot/api-types/tenants';
import type { FastifyBaseLogger } from 'fastify';
import type { MessageRow, MessageSource } from '../db/schema.ts';
import { AppError, forbidden, invalid, notFound, tenantGone } from '../errors.ts';
import type { Role } from '../lib/jwt.ts';
import { providerKeyOf, type ProviderKeys } from '../lib/provider-key.ts';
import { checkRequestedModel, resolveSettings, type SettingsDefaults } from '../lib/settings.ts';
import type { Retriever } from '../knowledge/retrieve.ts';
import type { Metrics } from '../plugins/metrics.ts';
import type { NewAssistantMessage, SessionsRepository } from '../repositories/sessions.ts';
import { versionKey, type TenantsRepository, type VersionedTenant } from '../repositories/tenants.ts';
import type { UsageRepository } from '../repositories/usage.ts';
import {
  estimatePromptTokens,
  partialOf,
  providerError,
  type ChatMessage,
  type CompletionRequest,
  type CompletionResult,
  type Llm,
} from './llm.ts';
import { PreconditionFailed, type RateLimiter, type Reservation } from './rate-limit.ts';

/** Earlier messages sent to the model with each session turn. */
export const HISTORY_LIMIT = 50;

export interface TurnDeps extends ProviderKeys {
  tenants: Pick<TenantsRepository, 'getForTurn'>;
  settingsDefaults: SettingsDefaults;
  limiter: Pick<RateLimiter, 'reserve' | 'settle'>;
  llm: Pick<Llm, 'complete' | 'stream'>;
  sessions: Pick<
    SessionsRepository,
    'get' | 'turnHistory' | 'storeUserMessage' | 'finishTurn' | 'withdrawUserMessage'
  >;
  usage: Pick<UsageRepository, 'record'>;
  metrics: Pick<Metrics, 'llmDuration' | 'llmTimeToFirstToken' | 'llmTokens' | 'modelLabel'>;
  /** Retrieval from the tenant's knowledge bases (its `knowledgeBases` setting). */
  knowledge: Pick<Retriever, 'forTurn'>;
}

export interface TurnCaller {
  tenantId: string;
  userId: string;
  role: Role;
}

/** What every turn gets: the request's logger and the caller. */
interface TurnInput {
  log: FastifyBaseLogger;
  caller: TurnCaller;
  /** Overrides the tenant's model; must be allowed. */
  model?: string | undefined;
  /** The output the client asked for (at most the tenant's maxOutputTokens), and its field. */
  maxTokens?: { value: number; param: string } | undefined;
}

interface SessionTurnInput extends TurnInput {
  sessionId: string;
  content: string;
}

interface StatelessTurnInput extends TurnInput {
  messages: ChatMessage[];
  sampling?: Pick<CompletionRequest, 'temperature' | 'topP' | 'stop'>;
}

interface Streamed {
  /** Aborts the model call (the client went away). */
  signal: AbortSignal;
}

/** A whole turn: its client may go away too (nginx's read timeout), which aborts the call. */
interface Whole {
  signal?: AbortSignal | undefined;
}

export interface SessionTurnResult {
  message: MessageRow;
  reply: MessageRow;
  rateLimitHeaders: Record<string, string>;
}

export interface StatelessTurnResult {
  result: CompletionResult;
  usage: TokenUsage;
  rateLimitHeaders: Record<string, string>;
  /** The chunks the model was given; undefined when the tenant's chat uses no knowledge base. */
  sources: MessageSource[] | undefined;
}

/** A turn the limiter admitted: the model call it makes and what it reserved. */
interface AdmittedTurn {
  tenantId: string;
  request: Omit<CompletionRequest, 'signal'>;
  reservation: Reservation;
  /** Knowledge-base chunks in the context; undefined when the tenant's chat uses none. */
  sources: MessageSource[] | undefined;
  /** The models the tenant names (and the platform's default): the only `model` labels. */
  labelledModels: string[];
}

/** How the model call ended; `usage` is undefined when a failed call produced nothing. */
type CallOutcome =
  | { result: CompletionResult; usage: TokenUsage; failure?: undefined }
  | { result?: undefined; usage: TokenUsage | undefined; failure: AppError; partial: string };

const NO_USAGE: TokenUsage = { promptTokens: 0, completionTokens: 0 };

export function createChatTurns(deps: TurnDeps) {
  const { limiter, llm, sessions, metrics } = deps;

  // --- prepare --------------------------------------------------------------------------

  /** What the model call needs, from the caller's tenant; refuses before anything is reserved. */
  function prepare(tenantId: string, tenant: VersionedTenant | undefined, input: TurnInput) {
    if (tenant === undefined) throw tenantGone();
    const settings: TenantSettings = resolveSettings(tenant.row.settings, deps.settingsDefaults);
    const model = input.model ?? settings.model;
    checkRequestedModel(settings, model);
    const asked = input.maxTokens;
    if (asked !== undefined && asked.value > settings.maxOutputTokens) {
      throw invalid(
        `${asked.param} is ${asked.value}, above this tenant's maxOutputTokens (${settings.maxOutputTokens})`,
        asked.param,
      );
    }
    return {
      settings,
      models: [model, ...settings.fallbackModels.filter((m) => m !== model)],
      apiKey: providerKeyOf(tenant.row, deps),
      maxTokens: asked?.value ?? settings.maxOutputTokens,
      // Without a version (Redis was unreachable) nothing can match: the turn reloads.
      precondition: { key: versionKey(tenantId), value: tenant.version ?? 'unknown' },
    };
  }

  type Prepared = ReturnType<typeof prepare>;

  /**
   * Runs `attempt` with the turn prepared from this process's copy of the caller's tenant.
   * Settings decide only on their current version: when the limiter finds the tenant changed
   * since (through any replica), or when `attempt` or the preparation refuses the request on
   * the copy, the tenant is read again and everything runs anew. `attempt` must not have
   * stored anything when it fails.
   */
  async function withPrepared<T>(input: TurnInput, attempt: (prepared: Prepared) => Promise<T>): Promise<T> {
    const { tenantId } = input.caller;
    let fresh = false;
    for (let tries = 1; ; tries++) {
      const tenant = await deps.tenants.getForTurn(tenantId, { fresh });
      try {
        return await attempt(prepare(tenantId, tenant, input));
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

  // --- reserve --------------------------------------------------------------------------

  /**
   * Admits the turn for this context, its tokens reserved, under the settings it was prepared
   * with. When the tenant's chat uses knowledge bases, the chunks `query` finds there go into
   * the context first (a system message before the last message), so the reservation counts them.
   */
  async function reserve(
    input: TurnInput,
    prepared: Prepared,
    context: ChatMessage[],
    query: string,
  ): Promise<AdmittedTurn> {
    const { tenantId } = input.caller;
    const { knowledgeBases, knowledgeTopK, knowledgeMaxTokens } = prepared.settings;
    let sources: MessageSource[] | undefined;
    let messages = context;
    if (knowledgeBases.length > 0) {
      const found = await deps.knowledge.forTurn({
        tenantId,
        apiKey: prepared.apiKey,
        knowledgeBaseIds: knowledgeBases,
        query,
        topK: knowledgeTopK,
        maxTokens: knowledgeMaxTokens,
        log: input.log,
      });
      sources = found.sources;
      if (found.message !== undefined) {
        messages = [...context.slice(0, -1), found.message, ...context.slice(-1)];
      }
    }
    const reservation = await limiter.reserve(
      tenantId,
      prepared.settings.rateLimit,
      estimatePromptTokens(messages) + prepared.maxTokens,
      prepared.precondition,
    );
    const request = {
      apiKey: prepared.apiKey,
      models: prepared.models,
      messages,
      maxTokens: prepared.maxTokens,
    };
    const { settings } = prepared;
    const labelledModels = [
      settings.model,
      ...settings.fallbackModels,
      ...settings.allowedModels,
      deps.settingsDefaults.defaultModel,
    ];
    return { tenantId, request, reservation, sources, labelledModels };
  }

  /** Gives back a reservation whose turn never reached the model. Best effort. */
  async function release(tenantId: string, reservation: Reservation) {
    await limiter.settle(tenantId, reservation, 0).catch(() => undefined);
  }

  function admitStateless(input: StatelessTurnInput): Promise<AdmittedTurn> {
    return withPrepared(input, async (prepared) => {
      const question = input.messages.findLast((m) => m.role === 'user')?.content ?? '';
      const turn = await reserve(input, prepared, input.messages, question);
      return { ...turn, request: { ...turn.request, ...input.sampling } };
    });
  }

  /**
   * Reads the session's history, admits the turn (its tokens reserved for that context), then
   * stores the user message; 404/403 when the session is not the caller's. Nothing is stored
   * when the turn is refused; a reservation whose message could not be stored is released.
   * A streamed turn shows the user message at once, so it is stored durably; a whole turn
   * shows it only with the reply, whose durable commit makes it durable too (WAL order), so
   * its own commit does not wait for the disk.
   */
  function admitSession(input: SessionTurnInput, streamed: boolean) {
    const { caller } = input;
    const target = { tenantId: caller.tenantId, sessionId: input.sessionId, userId: caller.userId };
    return withPrepared(input, async (prepared) => {
      const history = await sessions.turnHistory({ ...target, limit: HISTORY_LIMIT });
      if (history === undefined) return sessionRefused(input);
      const context: ChatMessage[] = [];
      const { systemPrompt } = prepared.settings;
      if (systemPrompt !== '') context.push({ role: 'system', content: systemPrompt });
      for (const m of history) context.push({ role: m.role, content: m.content });
      context.push({ role: 'user', content: input.content });
      const turn = await reserve(input, prepared, context, input.content);
      let stored: Awaited<ReturnType<TurnDeps['sessions']['storeUserMessage']>>;
      try {
        stored = await sessions.storeUserMessage({
          ...target,
          content: input.content,
          placeholder: streamed,
          durable: streamed,
        });
      } catch (error) {
        await release(caller.tenantId, turn.reservation);
        throw error;
      }
      if (stored === undefined) {
        // Deleted since its history was read.
        await release(caller.tenantId, turn.reservation);
        return sessionRefused(input);
      }
      return { turn, userMessage: stored.userMessage, placeholder: stored.placeholder };
    });
  }

  async function sessionRefused(input: SessionTurnInput): Promise<never> {
    const { caller } = input;
    const session = await sessions.get({ tenantId: caller.tenantId, id: input.sessionId });
    if (session !== undefined && caller.role === 'tenant_admin') {
      throw forbidden('only the owner of a session may send messages in it');
    }
    throw notFound('session');
  }

  // --- call -----------------------------------------------------------------------------

  /**
   * Calls the model for an admitted turn, whole, or streamed when `stream` is given (its
   * `onPiece` gets every piece with the model the provider names so far); `signal` aborts
   * either. Never throws for a provider failure: the outcome says what failed and what arrived.
   */
  async function call(
    log: FastifyBaseLogger,
    turn: AdmittedTurn,
    options: Whole & { stream?: { onPiece(piece: string, model: string): void } } = {},
  ): Promise<CallOutcome> {
    const { request } = turn;
    const { signal, stream } = options;
    const label = (model: string) => metrics.modelLabel(model, turn.labelledModels);
    const firstModel = label(request.models[0]!);
    const t0 = performance.now();
    const observe = (model: string, outcome: string) =>
      metrics.llmDuration.observe({ model, outcome }, (performance.now() - t0) / 1000);
    try {
      let result: CompletionResult;
      if (stream === undefined) {
        result = await llm.complete(signal === undefined ? request : { ...request, signal });
      } else {
        let firstPiece = true;
        let servedModel = '';
        result = await llm.stream(
          { ...request, ...(signal === undefined ? {} : { signal }) },
          (piece, chunk) => {
            if (chunk.model) servedModel = chunk.model;
            if (piece !== '' && firstPiece) {
              firstPiece = false;
              metrics.llmTimeToFirstToken.observe({ model: firstModel }, (performance.now() - t0) / 1000);
            }
            stream.onPiece(piece, servedModel);
          },
        );
      }
      observe(label(result.askedModel), 'ok');
      return { result, usage: usageOf(request.messages, result.content, result) };
    } catch (error) {
      const failure = providerError(error);
      const partial = partialOf(error);
      const aborted = signal?.aborted === true;
      observe(firstModel, aborted ? 'aborted' : failure.code);
      log.warn(
        { err: error, code: failure.code, streamed: stream !== undefined, aborted },
        'model call failed',
      );
      return {
        failure,
        partial,
        usage: partial === '' ? undefined : usageOf(request.messages, partial),
      };
    }
  }

  // --- settle, account, store -----------------------------------------------------------

  /** Settles the reservation to the tokens really used and counts them in the metrics. */
  async function settle(log: FastifyBaseLogger, turn: AdmittedTurn, usage: TokenUsage): Promise<void> {
    metrics.llmTokens.inc({ type: 'prompt' }, usage.promptTokens);
    metrics.llmTokens.inc({ type: 'completion' }, usage.completionTokens);
    try {
      await limiter.settle(turn.tenantId, turn.reservation, usage.promptTokens + usage.completionTokens);
    } catch (error) {
      log.warn({ err: error }, 'could not settle a rate-limit reservation; it expires with the window');
    }
  }

  /** The assistant message a session turn stores: complete, or failed with what arrived. */
  function storedReply(turn: AdmittedTurn, outcome: CallOutcome): NewAssistantMessage {
    const { usage } = outcome;
    return {
      content: outcome.failure === undefined ? outcome.result.content : outcome.partial,
      status: outcome.failure === undefined ? 'complete' : 'failed',
      model: outcome.failure === undefined ? outcome.result.model : (turn.request.models[0] ?? null),
      promptTokens: usage?.promptTokens ?? null,
      completionTokens: usage?.completionTokens ?? null,
      error: outcome.failure?.code ?? null,
      sources: turn.sources ?? null,
    };
  }

  // The limiter's settlement and the database write are independent: both at once.

  /** Settles a session turn and stores its reply (a new row, or the streaming placeholder),
   * whose statement counts the usage. */
  async function finishSession(
    log: FastifyBaseLogger,
    turn: AdmittedTurn,
    outcome: CallOutcome,
    session: { sessionId: string; placeholder: MessageRow | undefined },
  ): Promise<MessageRow> {
    const [, row] = await Promise.all([
      settle(log, turn, outcome.usage ?? NO_USAGE),
      sessions.finishTurn({
        tenantId: turn.tenantId,
        sessionId: session.sessionId,
        ...(session.placeholder === undefined ? {} : { messageId: session.placeholder.id }),
        reply: storedReply(turn, outcome),
      }),
    ]);
    if (row === undefined) throw notFound('session'); // deleted while the model answered
    return row;
  }

  /** Settles a stateless turn and counts its usage. */
  async function finishStateless(log: FastifyBaseLogger, turn: AdmittedTurn, outcome: CallOutcome) {
    const usage = outcome.usage ?? NO_USAGE;
    await Promise.all([settle(log, turn, usage), deps.usage.record({ tenantId: turn.tenantId, ...usage })]);
  }

  /** A whole turn's failure, as the route throws it: with the rate-limit headers. */
  function failed(turn: AdmittedTurn, failure: AppError): AppError {
    return Object.assign(failure, { headers: { ...turn.reservation.headers, ...failure.headers } });
  }

  // --- the four turns -------------------------------------------------------------------

  /**
   * A whole session turn; a provider failure is thrown after the reply is stored failed. When
   * the client went away meanwhile (`signal`), the call is aborted and the turn withdrawn:
   * nobody saw it, so it leaves nothing (its usage is counted), and a retry stores one turn.
   */
  async function sessionTurn(input: SessionTurnInput & Whole): Promise<SessionTurnResult> {
    const admitted = await admitSession(input, false);
    const { turn } = admitted;
    const outcome = await call(input.log, turn, { signal: input.signal });
    if (outcome.failure !== undefined && input.signal?.aborted === true) {
      await Promise.all([
        finishStateless(input.log, turn, outcome),
        sessions.withdrawUserMessage({
          tenantId: turn.tenantId,
          sessionId: input.sessionId,
          messageId: admitted.userMessage.id,
        }),
      ]);
      throw failed(turn, outcome.failure);
    }
    const reply = await finishSession(input.log, turn, outcome, {
      sessionId: input.sessionId,
      placeholder: undefined,
    });
    if (outcome.failure !== undefined) throw failed(turn, outcome.failure);
    return { message: admitted.userMessage, reply, rateLimitHeaders: turn.reservation.headers };
  }

  /**
   * A streamed session turn: `onAdmitted` once the user message is stored, `onDelta` with each
   * piece; the placeholder is stored complete, or failed with whatever arrived (provider
   * error, timeout, or the client going away), and then `failure` says why.
   */
  async function streamSessionTurn(
    input: SessionTurnInput &
      Streamed & {
        /** `sources`: the turn's knowledge-base chunks (undefined when the tenant's chat uses none). */
        onAdmitted(admitted: {
          message: MessageRow;
          rateLimitHeaders: Record<string, string>;
          sources: MessageSource[] | undefined;
        }): void;
        onDelta(piece: string): void;
      },
  ): Promise<Omit<SessionTurnResult, 'rateLimitHeaders'> & { failure?: AppError }> {
    const admitted = await admitSession(input, true);
    const { turn } = admitted;
    input.onAdmitted({
      message: admitted.userMessage,
      rateLimitHeaders: turn.reservation.headers,
      sources: turn.sources,
    });
    const outcome = await call(input.log, turn, {
      signal: input.signal,
      stream: {
        onPiece: (piece) => {
          if (piece !== '') input.onDelta(piece);
        },
      },
    });
    const reply = await finishSession(input.log, turn, outcome, {
      sessionId: input.sessionId,
      placeholder: admitted.placeholder,
    });
    return { message: admitted.userMessage, reply, ...(outcome.failure ? { failure: outcome.failure } : {}) };
  }

  /** A whole stateless turn; a provider failure is thrown after its usage is counted. */
  async function statelessTurn(input: StatelessTurnInput & Whole): Promise<StatelessTurnResult> {
    const turn = await admitStateless(input);
    const outcome = await call(input.log, turn, { signal: input.signal });
    await finishStateless(input.log, turn, outcome);
    if (outcome.failure !== undefined) throw failed(turn, outcome.failure);
    return {
      result: outcome.result,
      usage: outcome.usage,
      rateLimitHeaders: turn.reservation.headers,
      sources: turn.sources,
    };
  }

  /**
   * A streamed stateless turn: `onAdmitted` with the rate-limit headers, `onPiece` with every
   * piece (empty ones too) and the model the provider names so far; `failure` says why the
   * call failed, after the usage of whatever arrived is counted.
   */
  async function streamStatelessTurn(
    input: StatelessTurnInput &
      Streamed & {
        onAdmitted(admitted: {
          rateLimitHeaders: Record<string, string>;
          sources: MessageSource[] | undefined;
        }): void;
        onPiece(piece: string, model: string): void;
      },
  ): Promise<{ result: CompletionResult; usage: TokenUsage; failure?: undefined } | { failure: AppError }> {
    const turn = await admitStateless(input);
    input.onAdmitted({ rateLimitHeaders: turn.reservation.headers, sources: turn.sources });
    const outcome = await call(input.log, turn, { signal: input.signal, stream: input });
    await finishStateless(input.log, turn, outcome);
    return outcome.failure === undefined
      ? { result: outcome.result, usage: outcome.usage }
      : { failure: outcome.failure };
  }

  return { sessionTurn, streamSessionTurn, statelessTurn, streamStatelessTurn };
}

export type ChatTurns = ReturnType<typeof createChatTurns>;

/** Usage as the provider reported it, else API.md's estimate. */
function usageOf(context: ChatMessage[], content: string, result?: CompletionResult): TokenUsage {
  return (
    result?.usage ?? {
      promptTokens: estimatePromptTokens(context),
      completionTokens: Math.ceil(content.length / 4),
    }
  );
}
