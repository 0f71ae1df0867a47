// A chat turn: the session's history and the tenant's system prompt form the context;
// the user message is stored before the model call; the assistant message is stored
// complete, or failed when the provider fails.
import type { FastifyBaseLogger } from 'fastify';
import type { MessageRow, TenantRow } from '../db/schema.ts';
import { AppError, forbidden, notFound } from '../errors.ts';
import type { Role } from '../lib/jwt.ts';
import { checkRequestedModel, resolveSettings, type TenantSettings } from '../lib/settings.ts';
import { providerKeyFor, type Services } from '../plugins/services.ts';
import { providerError, type ChatMessage } from './llm.ts';

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
}

/** Loads the caller's tenant and what the model call needs; refuses before anything is stored. */
export async function prepareTurn(
  services: Services,
  caller: TurnCaller,
  requestedModel: string | undefined,
): Promise<PreparedTurn> {
  const tenant = await services.tenants.get(caller.tenantId);
  if (tenant === undefined)
    throw new AppError('unauthorized', 'the tenant of this credential no longer exists');
  const settings = resolveSettings(tenant.settings, services.settingsDefaults);
  const model = requestedModel ?? settings.model;
  checkRequestedModel(settings, model);
  const apiKey = providerKeyFor(services, tenant.providerKeyEncrypted);
  const models = [model, ...settings.fallbackModels.filter((m) => m !== model)];
  return { tenant, settings, models, apiKey };
}

/** Stores the user message and returns the model's context; 404/403 when the session is not the caller's. */
export async function startTurn(
  services: Services,
  caller: TurnCaller,
  sessionId: string,
  content: string,
  settings: TenantSettings,
): Promise<{ userMessage: MessageRow; context: ChatMessage[] }> {
  const started = await services.sessions.startTurn({
    tenantId: caller.tenantId,
    sessionId,
    userId: caller.userId,
    content,
    historyLimit: HISTORY_LIMIT,
  });
  if (started === undefined) {
    const session = await services.sessions.get({ tenantId: caller.tenantId, id: sessionId });
    if (session !== undefined && caller.role === 'tenant_admin') {
      throw forbidden('only the owner of a session may send messages in it');
    }
    throw notFound('session');
  }
  const context: ChatMessage[] = [];
  if (settings.systemPrompt !== '') context.push({ role: 'system', content: settings.systemPrompt });
  for (const m of started.history) context.push({ role: m.role, content: m.content });
  context.push({ role: 'user', content });
  return { userMessage: started.userMessage, context };
}

/** A whole non-streaming turn. */
export async function runTurn(
  services: Services,
  log: FastifyBaseLogger,
  caller: TurnCaller,
  input: { sessionId: string; content: string; model?: string },
): Promise<{ message: MessageRow; reply: MessageRow }> {
  const prepared = await prepareTurn(services, caller, input.model);
  const { userMessage, context } = await startTurn(
    services,
    caller,
    input.sessionId,
    input.content,
    prepared.settings,
  );
  const finish = (reply: Parameters<Services['sessions']['finishTurn']>[0]['reply']) =>
    services.sessions.finishTurn({ tenantId: caller.tenantId, sessionId: input.sessionId, reply });

  try {
    const result = await services.llm.complete({
      apiKey: prepared.apiKey,
      models: prepared.models,
      messages: context,
      maxTokens: prepared.settings.maxOutputTokens,
    });
    const reply = await finish({
      content: result.content,
      status: 'complete',
      model: result.model,
      promptTokens: result.usage?.promptTokens ?? null,
      completionTokens: result.usage?.completionTokens ?? null,
      error: null,
    });
    return { message: userMessage, reply };
  } catch (error) {
    const failure = providerError(error);
    log.warn({ err: error, code: failure.code }, 'model call failed');
    await finish({
      content: '',
      status: 'failed',
      model: prepared.models[0] ?? null,
      promptTokens: null,
      completionTokens: null,
      error: failure.code,
    });
    throw failure;
  }
}
