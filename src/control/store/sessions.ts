/**
 * User sessions: the bearer token the desktop app and CLI hold after signing in. Only the
 * token's SHA-256 is stored.
 */
import type { Selectable } from 'kysely';
import type { Ctx } from './context.js';
import { affected, stampNow } from './context.js';
import { fromBool, toDate, toDateOrNull } from './codec.js';
import { newId } from './ids.js';
import type { UserSessionsTable } from './schema.js';
import { hashToken, newToken, TOKEN_PREFIXES } from './tokens.js';
import { UserRepository, type User } from './users.js';

export interface UserSession {
  id: string;
  userId: string;
  clientName: string | null;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface CreateUserSessionInput {
  userId: string;
  ttlMs: number;
  clientName?: string | null;
}

export function toUserSession(row: Selectable<UserSessionsTable>): UserSession {
  return {
    id: row.id,
    userId: row.user_id,
    clientName: row.client_name,
    createdAt: toDate(row.created_at),
    expiresAt: toDate(row.expires_at),
    lastUsedAt: toDateOrNull(row.last_used_at),
    revokedAt: toDateOrNull(row.revoked_at),
  };
}

export class UserSessionRepository {
  constructor(private readonly ctx: Ctx) {}

  /** Returns the plain token exactly once; only its hash is stored. */
  async create(input: CreateUserSessionInput): Promise<{ session: UserSession; token: string }> {
    const token = newToken(TOKEN_PREFIXES.session);
    const now = this.ctx.now();
    const row = await this.ctx.db
      .insertInto('user_sessions')
      .values({
        id: newId('ses'),
        user_id: input.userId,
        token_hash: hashToken(token),
        client_name: input.clientName ?? null,
        created_at: now,
        expires_at: now + input.ttlMs,
        last_used_at: null,
        revoked_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { session: toUserSession(row), token };
  }

  /**
   * Authenticates a request: the session for this token hash if it is neither revoked nor
   * expired and its user is not disabled, with that user.
   */
  async findActive(tokenHash: string): Promise<{ session: UserSession; user: User } | null> {
    const row = await this.ctx.db
      .selectFrom('user_sessions')
      .innerJoin('users', 'users.id', 'user_sessions.user_id')
      .selectAll('user_sessions')
      .where('user_sessions.token_hash', '=', tokenHash)
      .where('user_sessions.revoked_at', 'is', null)
      .where('user_sessions.expires_at', '>', this.ctx.now())
      .where('users.disabled', '=', fromBool(false))
      .executeTakeFirst();
    if (!row) return null;
    const user = await new UserRepository(this.ctx).get(row.user_id);
    return user ? { session: toUserSession(row), user } : null;
  }

  async get(id: string): Promise<UserSession | null> {
    const row = await this.ctx.db
      .selectFrom('user_sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toUserSession(row) : null;
  }

  /** Sessions of a user that are still usable, newest first. */
  async listActive(userId: string): Promise<UserSession[]> {
    const rows = await this.ctx.db
      .selectFrom('user_sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', this.ctx.now())
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toUserSession);
  }

  touch(id: string): Promise<boolean> {
    return stampNow(this.ctx, 'user_sessions', 'last_used_at', id);
  }

  /** True if the session was active and is now revoked. */
  revoke(id: string): Promise<boolean> {
    return stampNow(this.ctx, 'user_sessions', 'revoked_at', id, true);
  }

  /** Signs a user out everywhere (also what disabling a user should do). */
  async revokeAllForUser(userId: string): Promise<number> {
    const r = await this.ctx.db
      .updateTable('user_sessions')
      .set({ revoked_at: this.ctx.now() })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return affected(r);
  }

  /** Housekeeping: deletes sessions that expired or were revoked before `before`. */
  async deleteDead(before: Date): Promise<number> {
    const cutoff = before.getTime();
    const r = await this.ctx.db
      .deleteFrom('user_sessions')
      .where((eb) => eb.or([eb('expires_at', '<', cutoff), eb('revoked_at', '<', cutoff)]))
      .executeTakeFirst();
    return affected(r);
  }
}
