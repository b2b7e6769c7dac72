/**
 * Login sessions (`POST /v1/login` → {url, pollToken}): the app or CLI that starts a login keeps
 * the poll token; the browser gets a URL with a separate secret. The browser side completes the
 * session with the user who signed in; the poller then claims it, which mints the user session
 * at that moment, so a plain session token never has to be stored anywhere.
 */
import type { Selectable } from 'kysely';
import { err, ok, type Result } from '../../shared/result.js';
import { toDate } from './codec.js';
import { affected, type Ctx } from './context.js';
import { newId } from './ids.js';
import type { LoginSessionsTable } from './schema.js';
import { UserSessionRepository, type UserSession } from './sessions.js';
import { hashToken, newToken, TOKEN_PREFIXES } from './tokens.js';

export interface OidcLoginParams {
  /** The OAuth `state` sent to the IdP; the callback finds the session by it. */
  state: string;
  nonce: string;
  /** PKCE verifier; must be kept to redeem the authorization code. */
  codeVerifier: string;
}

interface LoginSessionBase {
  id: string;
  clientName: string | null;
  oidc: OidcLoginParams | null;
  createdAt: Date;
  expiresAt: Date;
}

export type LoginState =
  | { state: 'pending' }
  | {
      state: 'complete';
      userId: string;
      completedAt: Date;
      /** Set once the poller has claimed its user session. */
      userSessionId: string | null;
    }
  | { state: 'expired' };

export type LoginSession = LoginSessionBase & LoginState;

export interface CreateLoginSessionInput {
  ttlMs: number;
  clientName?: string | null;
}

export type CompleteLoginError = 'not_found' | 'expired' | 'not_pending';
export type ClaimLoginError = 'not_found' | 'pending' | 'expired' | 'already_claimed';

/** A pending session past its expiry reads as expired even before expireStale() marks it. */
function toLoginSession(row: Selectable<LoginSessionsTable>, now: number): LoginSession {
  const base: LoginSessionBase = {
    id: row.id,
    clientName: row.client_name,
    oidc:
      row.oidc_state !== null && row.oidc_nonce !== null && row.oidc_code_verifier !== null
        ? { state: row.oidc_state, nonce: row.oidc_nonce, codeVerifier: row.oidc_code_verifier }
        : null,
    createdAt: toDate(row.created_at),
    expiresAt: toDate(row.expires_at),
  };
  if (row.state === 'complete' && row.user_id !== null) {
    return {
      ...base,
      state: 'complete',
      userId: row.user_id,
      completedAt: toDate(row.completed_at ?? row.created_at),
      userSessionId: row.user_session_id,
    };
  }
  if (row.state === 'pending' && row.expires_at > now) return { ...base, state: 'pending' };
  return { ...base, state: 'expired' };
}

export class LoginSessionRepository {
  constructor(private readonly ctx: Ctx) {}

  async create(
    input: CreateLoginSessionInput,
  ): Promise<{ loginSession: LoginSession; pollToken: string; secret: string }> {
    const pollToken = newToken(TOKEN_PREFIXES.poll);
    const secret = newToken(TOKEN_PREFIXES.login);
    const now = this.ctx.now();
    const row = await this.ctx.db
      .insertInto('login_sessions')
      .values({
        id: newId('lgn'),
        poll_token_hash: hashToken(pollToken),
        secret_hash: hashToken(secret),
        state: 'pending',
        client_name: input.clientName ?? null,
        user_id: null,
        user_session_id: null,
        oidc_state: null,
        oidc_nonce: null,
        oidc_code_verifier: null,
        created_at: now,
        expires_at: now + input.ttlMs,
        completed_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { loginSession: toLoginSession(row, now), pollToken, secret };
  }

  private async findBy(
    column: 'id' | 'poll_token_hash' | 'secret_hash' | 'oidc_state',
    value: string,
  ): Promise<LoginSession | null> {
    const row = await this.ctx.db
      .selectFrom('login_sessions')
      .selectAll()
      .where(column, '=', value)
      .executeTakeFirst();
    return row ? toLoginSession(row, this.ctx.now()) : null;
  }

  get(id: string): Promise<LoginSession | null> {
    return this.findBy('id', id);
  }

  findByPollTokenHash(pollTokenHash: string): Promise<LoginSession | null> {
    return this.findBy('poll_token_hash', pollTokenHash);
  }

  findBySecretHash(secretHash: string): Promise<LoginSession | null> {
    return this.findBy('secret_hash', secretHash);
  }

  findByOidcState(state: string): Promise<LoginSession | null> {
    return this.findBy('oidc_state', state);
  }

  /** Records the OIDC round-trip parameters when the browser starts the IdP redirect. */
  async setOidc(id: string, params: OidcLoginParams): Promise<boolean> {
    const r = await this.ctx.db
      .updateTable('login_sessions')
      .set({
        oidc_state: params.state,
        oidc_nonce: params.nonce,
        oidc_code_verifier: params.codeVerifier,
      })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .where('expires_at', '>', this.ctx.now())
      .executeTakeFirst();
    return affected(r) > 0;
  }

  /** The browser side: `userId` signed in. Only a pending, unexpired session completes. */
  async complete(id: string, userId: string): Promise<Result<LoginSession, CompleteLoginError>> {
    const now = this.ctx.now();
    const row = await this.ctx.db
      .updateTable('login_sessions')
      .set({ state: 'complete', user_id: userId, completed_at: now })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst();
    if (row) return ok(toLoginSession(row, now));
    const current = await this.get(id);
    if (!current) return err('not_found');
    return err(current.state === 'expired' ? 'expired' : 'not_pending');
  }

  /**
   * The poller's side: exchanges a completed login for a new user session, exactly once.
   * The login row is locked first (PostgreSQL; SQLite's write lock covers it), so two
   * concurrent polls cannot both mint a session.
   */
  claim(
    pollTokenHash: string,
    session: { ttlMs: number },
  ): Promise<Result<{ session: UserSession; token: string }, ClaimLoginError>> {
    return this.ctx.atomic(async (ctx) => {
      const q = ctx.db
        .selectFrom('login_sessions')
        .selectAll()
        .where('poll_token_hash', '=', pollTokenHash);
      const row = await (ctx.dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
      if (!row) return err('not_found');
      const now = ctx.now();
      const login = toLoginSession(row, now);
      if (login.state !== 'complete') return err(login.state);
      if (login.userSessionId !== null) return err('already_claimed');
      if (row.expires_at <= now) return err('expired');
      const created = await new UserSessionRepository(ctx).create({
        userId: login.userId,
        ttlMs: session.ttlMs,
        clientName: row.client_name,
      });
      await ctx.db
        .updateTable('login_sessions')
        .set({ user_session_id: created.session.id })
        .where('id', '=', row.id)
        .execute();
      return ok(created);
    });
  }

  /** Marks pending sessions past their expiry as expired; returns how many. */
  async expireStale(): Promise<number> {
    const r = await this.ctx.db
      .updateTable('login_sessions')
      .set({ state: 'expired' })
      .where('state', '=', 'pending')
      .where('expires_at', '<=', this.ctx.now())
      .executeTakeFirst();
    return affected(r);
  }

  /** Housekeeping: deletes login sessions that expired before `before`. */
  async deleteExpiredBefore(before: Date): Promise<number> {
    const r = await this.ctx.db
      .deleteFrom('login_sessions')
      .where('expires_at', '<', before.getTime())
      .executeTakeFirst();
    return affected(r);
  }
}
