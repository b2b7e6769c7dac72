/**
 * Admin API keys for automation. Only the SHA-256 of the key is stored.
 */
import type { Selectable } from 'kysely';
import { toDate, toDateOrNull } from './codec.js';
import { type Ctx, stampNow } from './context.js';
import { newId } from './ids.js';
import type { ApiKeysTable } from './schema.js';
import { hashToken, newToken, TOKEN_PREFIXES, tokenDisplayPrefix } from './tokens.js';

export interface ApiKey {
  id: string;
  networkId: string;
  /** Non-secret start of the key, for lists. */
  prefix: string;
  description: string | null;
  createdBy: string | null;
  /** null: does not expire. */
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface CreateApiKeyInput {
  networkId: string;
  createdBy: string | null;
  expiresAt?: Date | null;
  description?: string | null;
}

function toApiKey(row: Selectable<ApiKeysTable>): ApiKey {
  return {
    id: row.id,
    networkId: row.network_id,
    prefix: row.prefix,
    description: row.description,
    createdBy: row.created_by,
    expiresAt: toDateOrNull(row.expires_at),
    revokedAt: toDateOrNull(row.revoked_at),
    createdAt: toDate(row.created_at),
    lastUsedAt: toDateOrNull(row.last_used_at),
  };
}

export class ApiKeyRepository {
  constructor(private readonly ctx: Ctx) {}

  /** Returns the plain key exactly once; only its hash is stored. */
  async create(input: CreateApiKeyInput): Promise<{ apiKey: ApiKey; key: string }> {
    const key = newToken(TOKEN_PREFIXES.api);
    const row = await this.ctx.db
      .insertInto('api_keys')
      .values({
        id: newId('api'),
        network_id: input.networkId,
        key_hash: hashToken(key),
        prefix: tokenDisplayPrefix(key),
        description: input.description ?? null,
        created_by: input.createdBy,
        expires_at: input.expiresAt ? input.expiresAt.getTime() : null,
        revoked_at: null,
        created_at: this.ctx.now(),
        last_used_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { apiKey: toApiKey(row), key };
  }

  /** Authenticates a request: the key for this hash unless revoked or expired. */
  async findActive(keyHash: string): Promise<ApiKey | null> {
    const now = this.ctx.now();
    const row = await this.ctx.db
      .selectFrom('api_keys')
      .selectAll()
      .where('key_hash', '=', keyHash)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirst();
    return row ? toApiKey(row) : null;
  }

  async get(id: string): Promise<ApiKey | null> {
    const row = await this.ctx.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toApiKey(row) : null;
  }

  async list(networkId: string): Promise<ApiKey[]> {
    const rows = await this.ctx.db
      .selectFrom('api_keys')
      .selectAll()
      .where('network_id', '=', networkId)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toApiKey);
  }

  touch(id: string): Promise<boolean> {
    return stampNow(this.ctx, 'api_keys', 'last_used_at', id);
  }

  revoke(id: string): Promise<boolean> {
    return stampNow(this.ctx, 'api_keys', 'revoked_at', id, true);
  }
}
