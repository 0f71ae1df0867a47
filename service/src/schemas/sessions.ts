import { Type } from 'typebox';
import { Nullable, Timestamp, Uuid } from './common.ts';
import { Source } from './knowledge-bases.ts';

export const Session = Type.Object({
  id: Uuid,
  title: Nullable(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const Usage = Type.Object({ promptTokens: Type.Integer(), completionTokens: Type.Integer() });

export const Message = Type.Object({
  id: Uuid,
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
  content: Type.String(),
  status: Type.Union([Type.Literal('complete'), Type.Literal('streaming'), Type.Literal('failed')]),
  model: Type.Optional(Type.String()),
  usage: Type.Optional(Usage),
  sources: Type.Optional(Type.Array(Source)),
  createdAt: Timestamp,
});

export const CreateSessionBody = Type.Object(
  { title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
  { additionalProperties: false },
);

export const SendMessageBody = Type.Object(
  {
    content: Type.String({ minLength: 1, maxLength: 32_000 }),
    stream: Type.Optional(Type.Boolean()),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const Turn = Type.Object({ message: Message, reply: Message });
