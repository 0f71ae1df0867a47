// Retrieval: a query embedded once per embedding model of the bases searched (the provider
// failing leaves the full-text ranking alone rather than failing the search), then the
// repository's hybrid search. For a chat turn, the best chunks that fit the tenant's budget
// become a numbered system message the model is asked to cite.
import type { FastifyBaseLogger } from 'fastify';
import type { ChatMessage } from '../chat/llm.ts';
import type { MessageSource } from '../db/schema.ts';
import type { Embedder } from './embeddings.ts';
import type { KnowledgeRepository } from './repository.ts';

/** Candidates each ranking (vector per version, full text) gives to the fusion. */
export function candidatesFor(k: number): number {
  return Math.min(200, Math.max(40, 4 * k));
}

export function createRetriever(deps: {
  repository: Pick<KnowledgeRepository, 'searchTargets' | 'search'>;
  embedder: Pick<Embedder, 'embedBatch'>;
}) {
  const { repository, embedder } = deps;

  async function search(input: {
    tenantId: string;
    /** Undefined: no provider key, so no query vector (full-text ranking alone). */
    apiKey: string | undefined;
    knowledgeBaseIds: string[];
    query: string;
    k: number;
    log: FastifyBaseLogger;
    signal?: AbortSignal;
  }): Promise<MessageSource[]> {
    const targets = await repository.searchTargets({
      tenantId: input.tenantId,
      knowledgeBaseIds: input.knowledgeBaseIds,
    });
    const queries = new Map<string, Promise<number[] | undefined>>();
    const { apiKey } = input;
    const vectorFor = (model: string, dimensions: number | null) => {
      if (apiKey === undefined) return Promise.resolve(undefined);
      const key = `${model}\u0000${dimensions ?? ''}`;
      let vector = queries.get(key);
      if (vector === undefined) {
        vector = embedder
          .embedBatch({
            apiKey,
            model,
            dimensions,
            inputs: [input.query],
            maxRetries: 1,
            signal: input.signal,
          })
          .then((vectors) => vectors[0])
          .catch((error: unknown) => {
            input.log.warn({ err: error, model }, 'query embedding failed; searching by full text alone');
            return undefined;
          });
        queries.set(key, vector);
      }
      return vector;
    };
    const withVectors = await Promise.all(
      targets.map(async (target) => ({
        ...target,
        // A version without dimensions holds no chunks yet: nothing to embed the query for.
        vector:
          target.dimensions === null
            ? undefined
            : await vectorFor(target.embeddingModel, target.requestedDimensions),
      })),
    );
    return repository.search({
      tenantId: input.tenantId,
      targets: withVectors,
      query: input.query,
      k: input.k,
      candidates: candidatesFor(input.k),
    });
  }

  /** The best `topK` sources whose text fits in `maxTokens` (characters / 4), best first. */
  function withinBudget(found: MessageSource[], topK: number, maxTokens: number): MessageSource[] {
    const kept: MessageSource[] = [];
    let characters = 0;
    for (const source of found) {
      if (kept.length >= topK) break;
      const size = source.content.length + (source.heading?.length ?? 0) + source.documentName.length;
      if (Math.ceil((characters + size) / 4) > maxTokens) continue;
      characters += size;
      kept.push(source);
    }
    return kept;
  }

  /** A chat turn's sources and the system message that gives them to the model. */
  async function forTurn(input: {
    tenantId: string;
    apiKey: string;
    knowledgeBaseIds: string[];
    query: string;
    topK: number;
    maxTokens: number;
    log: FastifyBaseLogger;
  }): Promise<{ sources: MessageSource[]; message: ChatMessage | undefined }> {
    const found = await search({ ...input, k: input.topK });
    const sources = withinBudget(found, input.topK, input.maxTokens);
    return { sources, message: sources.length === 0 ? undefined : sourcesMessage(sources) };
  }

  return { search, forTurn };
}

export type Retriever = ReturnType<typeof createRetriever>;

/** The system message that hands a turn's sources to the model, numbered as it should cite them. */
export function sourcesMessage(sources: MessageSource[]): ChatMessage {
  const blocks = sources.map((s, i) => {
    const title = s.heading === null ? s.documentName : `${s.documentName} — ${s.heading}`;
    return `[${i + 1}] ${title}\n${s.content}`;
  });
  return {
    role: 'system',
    content:
      'Answer from the numbered sources below where they are relevant, and cite each one you use by ' +
      'its number in square brackets, like [1]. If they do not hold the answer, say so.\n\n' +
      blocks.join('\n\n'),
  };
}
