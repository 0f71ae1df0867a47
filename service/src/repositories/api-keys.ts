// Tenant API keys: `cbk_<random>`, shown once, stored as a SHA-256 hash, revoked by deletion.
// A key the database does not know is remembered (its hash), so a flood of unknown keys costs
// one lookup per key; lookups of one key at the same time share one statement.
// Tokens minted through a key name it (api_key_id) and die with it: `isLive` answers from
// this process's last look for up to REVOCATION_CHECK_SECONDS, and a key this process
// revoked is gone for it at once.
import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, lt, or } from 'drizzle-orm';
import { pgErrorCode, type Database } from '../db/client.ts';
import { apiKeys, type ApiKeyRow } from '../db/schema.ts';
import { tenantGone } from '../errors.ts';

export const API_KEY_PREFIX = 'cbk_';

export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** Keys whose last look this process remembers. */
const LOOKS = 10_000;
/**
 * Unknown keys (hashes) this process remembers, the least recently seen forgotten first. Keys
 * are random: one unknown now never becomes valid later.
 */
const UNKNOWN_KEYS = 100_000;

export function createApiKeysRepository(deps: { database: Database; checkSeconds: number }) {
  const { database } = deps;
  /** Key id -> whether it existed, and until when that holds (a revoked key stays gone). */
  const looks = new Map<string, { live: boolean; until: number }>();
  const looking = new Map<string, Promise<boolean>>();

  function remember(id: string, live: boolean): void {
    looks.delete(id);
    if (looks.size >= LOOKS) looks.delete(looks.keys().next().value!);
    looks.set(id, { live, until: live ? Date.now() + deps.checkSeconds * 1000 : Number.POSITIVE_INFINITY });
  }

  /** Whether the key still exists (it was not revoked), as this process last saw it. */
  async function isLive(input: { tenantId: string; id: string }): Promise<boolean> {
    const seen = looks.get(input.id);
    if (seen !== undefined && seen.until > Date.now()) return seen.live;
    let look = looking.get(input.id);
    if (look === undefined) {
      look = database
        .withTenant(input.tenantId, (tx) =>
          tx
            .select({ id: apiKeys.id })
            .from(apiKeys)
            .where(and(eq(apiKeys.tenantId, input.tenantId), eq(apiKeys.id, input.id))),
        )
        .then((rows) => {
          remember(input.id, rows.length > 0);
          return rows.length > 0;
        })
        .finally(() => looking.delete(input.id));
      looking.set(input.id, look);
    }
    return look;
  }

  async function create(input: {
    tenantId: string;
    name: string | null;
  }): Promise<{ row: ApiKeyRow; key: string }> {
    const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
    const row = await database
      .withTenant(input.tenantId, async (tx) => {
        const [inserted] = await tx
          .insert(apiKeys)
          .values({
            tenantId: input.tenantId,
            name: input.name,
            prefix: key.slice(0, 12),
            keyHash: hashApiKey(key),
          })
          .returning();
        return inserted!;
      })
      .catch((error: unknown) => {
        // foreign_key_violation: the tenant was deleted meanwhile.
        if (pgErrorCode(error) === '23503') throw tenantGone(error);
        throw error;
      });
    return { row, key };
  }

  async function list(input: {
    tenantId: string;
    limit: number;
    after?: readonly [string, string];
  }): Promise<ApiKeyRow[]> {
    const { tenantId, after } = input;
    return database.withTenant(tenantId, (tx) =>
      tx
        .select()
        .from(apiKeys)
        .where(
          and(
            eq(apiKeys.tenantId, tenantId),
            after === undefined
              ? undefined
              : or(
                  lt(apiKeys.createdAt, new Date(after[0])),
                  and(eq(apiKeys.createdAt, new Date(after[0])), lt(apiKeys.id, after[1])),
                ),
          ),
        )
        .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
        .limit(input.limit + 1),
    );
  }

  async function remove(input: { tenantId: string; id: string }): Promise<boolean> {
    const deleted = await database.withTenant(input.tenantId, (tx) =>
      tx
        .delete(apiKeys)
        .where(and(eq(apiKeys.tenantId, input.tenantId), eq(apiKeys.id, input.id)))
        .returning({ id: apiKeys.id }),
    );
    remember(input.id, false);
    return deleted.length > 0;
  }

  /** Hashes of keys the database did not know, in the order last seen. */
  const unknown = new Set<string>();
  const authenticating = new Map<string, Promise<{ keyId: string; tenantId: string } | undefined>>();

  /** Finds the key's tenant; the lookup runs as the owner through a narrow SQL function. */
  async function authenticate(key: string): Promise<{ keyId: string; tenantId: string } | undefined> {
    const hash = hashApiKey(key);
    if (unknown.delete(hash)) {
      unknown.add(hash);
      return undefined;
    }
    let lookup = authenticating.get(hash);
    if (lookup === undefined) {
      // One statement: the function runs as the owner whoever calls it.
      const sql = database.client;
      lookup = sql<{ key_id: string; tenant_id: string }[]>`select key_id, tenant_id
          from chatbot_authenticate_api_key(${hash})`
        .then((rows) => {
          const row = rows[0];
          if (row !== undefined) return { keyId: row.key_id, tenantId: row.tenant_id };
          if (unknown.size >= UNKNOWN_KEYS) unknown.delete(unknown.values().next().value!);
          unknown.add(hash);
          return undefined;
        })
        .finally(() => authenticating.delete(hash));
      authenticating.set(hash, lookup);
    }
    return lookup;
  }

  return { create, list, remove, authenticate, isLive };
}

export type ApiKeysRepository = ReturnType<typeof createApiKeysRepository>;
