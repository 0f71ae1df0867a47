// Chat sessions and their messages.
import { Type, type Static } from 'typebox';
import { Nullable, Timestamp, Uuid } from './common.ts';
import { Source } from './knowledge-bases.ts';

export const Session = Type.Object({
  id: Uuid,
  title: Nullable(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Session = Static<typeof Session>;

export const TokenUsage = Type.Object({ promptTokens: Type.Integer(), completionTokens: Type.Integer() });
export type TokenUsage = Static<typeof TokenUsage>;

export const Message = Type.Object({
  id: Uuid,
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
  content: Type.String(),
  status: Type.Union([Type.Literal('complete'), Type.Literal('streaming'), Type.Literal('failed')]),
  model: Type.Optional(Type.String()),
  usage: Type.Optional(TokenUsage),
  /** The knowledge-base passages the reply was given, numbered as it cites them ([1] first). */
  sources: Type.Optional(Type.Array(Source)),
  createdAt: Timestamp,
});
export type Message = Static<typeof Message>;

export const CreateSessionBody = Type.Object(
  { title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
  { additionalProperties: false },
);
export type CreateSessionBody = Static<typeof CreateSessionBody>;

export const SendMessageBody = Type.Object(
  {
    content: Type.String({ minLength: 1, maxLength: 32_000 }),
    stream: Type.Optional(Type.Boolean()),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type SendMessageBody = Static<typeof SendMessageBody>;

/** A whole turn: the stored user message and the reply. */
export const Turn = Type.Object({ message: Message, reply: Message });
export type Turn = Static<typeof Turn>;
