import type { Me, Message, Session, Tenant } from '@chatbot/api-types';

export const tenant: Tenant = {
  id: '5b0f2a56-7a55-4d38-9a38-2f8d5b0c2d11',
  name: 'Acme',
  slug: 'acme',
  settings: {
    model: 'openai/gpt-4o-mini',
    systemPrompt: 'Be brief.',
    allowedModels: [],
    fallbackModels: [],
    rateLimit: { rpm: 60, tpm: 100000 },
    maxOutputTokens: 1024,
    knowledgeBases: [],
    knowledgeTopK: 5,
    knowledgeMaxTokens: 2000,
  },
  hasProviderKey: false,
  createdAt: '2025-01-01T00:00:00.000Z',
};

export const userMe: Me = { sub: 'alice', role: 'user', tenant };
export const adminMe: Me = { sub: 'boss', role: 'tenant_admin', tenant };

export function session(id: string, title: string | null, at = '2025-03-01T10:00:00.000Z'): Session {
  return { id, title, createdAt: at, updatedAt: at };
}

let counter = 0;
export function message(role: Message['role'], content: string, extra: Partial<Message> = {}): Message {
  counter += 1;
  return {
    id: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    role,
    content,
    status: 'complete',
    createdAt: '2025-03-01T10:00:00.000Z',
    ...extra,
  };
}
