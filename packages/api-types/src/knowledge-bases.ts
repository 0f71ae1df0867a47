// Knowledge bases, their documents and chunks, and what a search or a reply cites.
import { Type, type Static } from 'typebox';
import { Nullable, Timestamp, Uuid } from './common.ts';

const ModelName = Type.String({ minLength: 1, maxLength: 200 });
const Dimensions = Type.Integer({ minimum: 1, maximum: 4000 });
const Progress = Type.Integer({ minimum: 0, maximum: 100 });

export const CreateKnowledgeBaseBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    embeddingModel: Type.Optional(ModelName),
    embeddingDimensions: Type.Optional(Dimensions),
    chunkSize: Type.Optional(Type.Integer({ minimum: 100, maximum: 8000 })),
    chunkOverlap: Type.Optional(Type.Integer({ minimum: 0, maximum: 4000 })),
  },
  { additionalProperties: false },
);
export type CreateKnowledgeBaseBody = Static<typeof CreateKnowledgeBaseBody>;

export const ReindexBody = Type.Object(
  { embeddingModel: Type.Optional(ModelName), embeddingDimensions: Type.Optional(Dimensions) },
  { additionalProperties: false },
);
export type ReindexBody = Static<typeof ReindexBody>;

export const SearchBody = Type.Object(
  {
    query: Type.String({ minLength: 1, maxLength: 2000 }),
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
  },
  { additionalProperties: false },
);
export type SearchBody = Static<typeof SearchBody>;

export const KnowledgeBase = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  embeddingModel: Type.String(),
  embeddingDimensions: Nullable(Type.Integer()),
  chunkSize: Type.Integer(),
  chunkOverlap: Type.Integer(),
  /** Documents by status. */
  documents: Type.Object({
    queued: Type.Integer(),
    processing: Type.Integer(),
    ready: Type.Integer(),
    failed: Type.Integer(),
  }),
  chunks: Type.Integer(),
  reindex: Nullable(
    Type.Object({
      embeddingModel: Type.String(),
      embeddingDimensions: Nullable(Type.Integer()),
      status: Type.Union([Type.Literal('building'), Type.Literal('failed')]),
      progress: Progress,
      error: Nullable(Type.String()),
    }),
  ),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type KnowledgeBase = Static<typeof KnowledgeBase>;

export const DocumentStatus = Type.Union([
  Type.Literal('queued'),
  Type.Literal('processing'),
  Type.Literal('ready'),
  Type.Literal('failed'),
]);
export type DocumentStatus = Static<typeof DocumentStatus>;

export const KbDocument = Type.Object({
  id: Uuid,
  knowledgeBaseId: Uuid,
  name: Type.String(),
  contentType: Type.Union([
    Type.Literal('text/plain'),
    Type.Literal('text/markdown'),
    Type.Literal('text/html'),
    Type.Literal('application/pdf'),
  ]),
  bytes: Type.Integer(),
  status: DocumentStatus,
  progress: Progress,
  chunks: Type.Integer(),
  attempts: Type.Integer(),
  error: Nullable(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type KbDocument = Static<typeof KbDocument>;

export const Chunk = Type.Object({
  id: Uuid,
  documentId: Uuid,
  index: Type.Integer(),
  heading: Nullable(Type.String()),
  content: Type.String(),
});
export type Chunk = Static<typeof Chunk>;

/** A knowledge-base chunk a search found or a reply was given (and cites, [1] first). */
export const Source = Type.Object({
  knowledgeBaseId: Uuid,
  documentId: Uuid,
  documentName: Type.String(),
  chunkId: Uuid,
  chunkIndex: Type.Integer(),
  heading: Nullable(Type.String()),
  content: Type.String(),
  score: Type.Number(),
});
export type Source = Static<typeof Source>;

export const SearchResult = Type.Object({ items: Type.Array(Source) });
export type SearchResult = Static<typeof SearchResult>;
