/**
 * Pre-auth keys: register servers without an interactive login. One-off keys work exactly once,
 * reusable keys until they expire or are revoked; tags and the ephemeral flag carry over to the
 * devices they register.
 */
import type { Selectable } from 'kysely';
import { z } from 'zod';
import { err, ok, type Result } from '../../shared/result.js';
import { fromBool, parseJson, toBool, toDate, toDateOrNull, toJson } from './codec.js';
import { affected, type Ctx, stampNow } from './context.js';
import { newId } from './ids.js';
import type { PreauthKeysTable } from './schema.js';
import { hashToken, newToken, TOKEN_PREFIXES, tokenDisplayPrefix } from './tokens.js';

const tagsSchema = z.array(z.string());

export interface PreauthKey {
  id: string;
  networkId: string;
  /** Non-secret start of the key, for lists. */
  keyPrefix: string;
  description: string | null;
  createdBy: string | null;
  reusable: boolean;
  ephemeral: boolean;
  /** Devices registered with this key skip admin approval. */
  preapproved: boolean;
  tags: string[];
  expiresAt: Date;
  usedCount: number;
  revokedAt: Date | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface CreatePreauthKeyInput {
  networkId: string;
  createdBy: string | null;
  expiresAt: Date;
  reusable?: boolean;
  ephemeral?: boolean;
  preapproved?: boolean;
  tags?: string[];
  description?: string | null;
}

export type ConsumePreauthKeyError = 'not_found' | 'revoked' | 'expired' | 'used';

function toPreauthKey(row: Selectable<PreauthKeysTable>): PreauthKey {
  return {
    id: row.id,
    networkId: row.network_id,
    keyPrefix: row.key_prefix,
    description: row.description,
    createdBy: row.created_by,
    reusable: toBool(row.reusable),
    ephemeral: toBool(row.ephemeral),
    preapproved: toBool(row.preapproved),
    tags: parseJson(row.tags, tagsSchema, 'preauth_keys.tags'),
    expiresAt: toDate(row.expires_at),
    usedCount: row.used_count,
    revokedAt: toDateOrNull(row.revoked_at),
    createdAt: toDate(row.created_at),
    lastUsedAt: toDateOrNull(row.last_used_at),
  };
}

export class PreauthKeyRepository {
  constructor(private readonly ctx: Ctx) {}

  /** Returns the plain key exactly once; only its hash is stored. */
  async create(input: CreatePreauthKeyInput): Promise<{ preauthKey: PreauthKey; key: string }> {
    const key = newToken(TOKEN_PREFIXES.auth);
    const row = await this.ctx.db
      .insertInto('preauth_keys')
      .values({
        id: newId('pak'),
        network_id: input.networkId,
        key_hash: hashToken(key),
        key_prefix: tokenDisplayPrefix(key),
        description: input.description ?? null,
        created_by: input.createdBy,
        reusable: fromBool(input.reusable ?? false),
        ephemeral: fromBool(input.ephemeral ?? false),
        preapproved: fromBool(input.preapproved ?? false),
        tags: toJson(input.tags ?? []),
        expires_at: input.expiresAt.getTime(),
        used_count: 0,
        revoked_at: null,
        created_at: this.ctx.now(),
        last_used_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { preauthKey: toPreauthKey(row), key };
  }

  async get(id: string): Promise<PreauthKey | null> {
    const row = await this.ctx.db
      .selectFrom('preauth_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toPreauthKey(row) : null;
  }

  async findByHash(keyHash: string): Promise<PreauthKey | null> {
    const row = await this.ctx.db
      .selectFrom('preauth_keys')
      .selectAll()
      .where('key_hash', '=', keyHash)
      .executeTakeFirst();
    return row ? toPreauthKey(row) : null;
  }

  async list(networkId: string): Promise<PreauthKey[]> {
    const rows = await this.ctx.db
      .selectFrom('preauth_keys')
      .selectAll()
      .where('network_id', '=', networkId)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toPreauthKey);
  }

  /**
   * Uses the key once. A single conditional UPDATE both checks and counts, so concurrent
   * registrations cannot use a one-off key twice: on PostgreSQL the second UPDATE waits for the
   * first's row lock and then re-checks `used_count = 0`; SQLite runs writers one at a time.
   * Call it in the same transaction as the device insert so a failed registration gives the
   * use back.
   */
  async consume(keyHash: string): Promise<Result<PreauthKey, ConsumePreauthKeyError>> {
    const now = this.ctx.now();
    const row = await this.ctx.db
      .updateTable('preauth_keys')
      .set((eb) => ({ used_count: eb('used_count', '+', 1), last_used_at: now }))
      .where('key_hash', '=', keyHash)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .where((eb) => eb.or([eb('reusable', '=', fromBool(true)), eb('used_count', '=', 0)]))
      .returningAll()
      .executeTakeFirst();
    if (row) return ok(toPreauthKey(row));
    const key = await this.findByHash(keyHash);
    if (!key) return err('not_found');
    if (key.revokedAt !== null) return err('revoked');
    if (key.expiresAt.getTime() <= now) return err('expired');
    return err('used');
  }

  revoke(id: string): Promise<boolean> {
    return stampNow(this.ctx, 'preauth_keys', 'revoked_at', id, true);
  }

  /** Ends the key's validity now (keeps it listed, unlike delete). */
  async expire(id: string): Promise<boolean> {
    const now = this.ctx.now();
    const r = await this.ctx.db
      .updateTable('preauth_keys')
      .set({ expires_at: now })
      .where('id', '=', id)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return affected(r) > 0;
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('preauth_keys').where('id', '=', id).executeTakeFirst();
    return affected(r) > 0;
  }
}
