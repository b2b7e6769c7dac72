/**
 * Users of a network: local accounts (argon2id password hash, verified by the auth layer) and
 * OIDC identities (issuer + subject), with a role and the IdP's group claims.
 */
import type { Updateable, Selectable } from 'kysely';
import { z } from 'zod';
import { err, ok, type Result } from '../../shared/result.js';
import { fromBool, parseJson, toBool, toDate, toDateOrNull, toJson } from './codec.js';
import type { Ctx } from './context.js';
import { newId } from './ids.js';
import type { UsersTable } from './schema.js';

export const ROLES = ['owner', 'admin', 'member'] as const;
export type Role = (typeof ROLES)[number];
const roleSchema = z.enum(ROLES);
const groupsSchema = z.array(z.string());

export interface OidcIdentity {
  issuer: string;
  subject: string;
}

/** The password hash is deliberately absent: only getCredentials() returns it. */
export interface User {
  id: string;
  networkId: string;
  email: string;
  displayName: string;
  role: Role;
  hasPassword: boolean;
  oidc: OidcIdentity | null;
  groups: string[];
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
}

export interface CreateLocalUserInput {
  networkId: string;
  email: string;
  displayName?: string;
  role?: Role;
  /** argon2id PHC string, or null for an account that cannot sign in with a password yet. */
  passwordHash: string | null;
}

export interface UpsertOidcUserInput {
  networkId: string;
  issuer: string;
  subject: string;
  email: string;
  displayName?: string;
  /** Group claims from the ID token, usable in policy as group:<name>. */
  groups?: string[];
  /** Role for a newly created user (default member); an existing user keeps theirs. */
  role?: Role;
}

export type CreateUserError = 'email_taken' | 'network_not_found';

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    networkId: row.network_id,
    email: row.email,
    displayName: row.display_name,
    role: roleSchema.parse(row.role),
    hasPassword: row.password_hash !== null,
    oidc:
      row.oidc_issuer !== null && row.oidc_subject !== null
        ? { issuer: row.oidc_issuer, subject: row.oidc_subject }
        : null,
    groups: parseJson(row.groups, groupsSchema, 'users.groups'),
    disabled: toBool(row.disabled),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    lastLoginAt: toDateOrNull(row.last_login_at),
  };
}

export class UserRepository {
  constructor(private readonly ctx: Ctx) {}

  createLocal(input: CreateLocalUserInput): Promise<Result<User, CreateUserError>> {
    return this.insert({
      networkId: input.networkId,
      email: input.email,
      displayName: input.displayName,
      role: input.role ?? 'member',
      passwordHash: input.passwordHash,
      oidc: null,
      groups: [],
      lastLoginAt: null,
    });
  }

  /**
   * Sign-in through OIDC: finds the user by (issuer, subject) and refreshes email, display name,
   * groups and last login from the claims, or creates them. An existing account with the same
   * email but no matching OIDC identity is NOT linked (that would let any IdP that vouches for
   * an address take the account over): the result is 'email_taken'.
   */
  upsertOidc(
    input: UpsertOidcUserInput,
  ): Promise<Result<{ user: User; created: boolean }, CreateUserError>> {
    return this.ctx.atomic(async (ctx) => {
      const repo = new UserRepository(ctx);
      const refresh = async (id: string) => {
        const user = await repo.refreshFromClaims(id, input);
        return user ? ok({ user, created: false }) : err('email_taken' as const);
      };
      const existing = await repo.findByOidc(input.networkId, input.issuer, input.subject);
      if (existing) return refresh(existing.id);
      const created = await repo.insert({
        networkId: input.networkId,
        email: input.email,
        displayName: input.displayName,
        role: input.role ?? 'member',
        passwordHash: null,
        oidc: { issuer: input.issuer, subject: input.subject },
        groups: input.groups ?? [],
        lastLoginAt: ctx.now(),
      });
      if (created.ok) return ok({ user: created.value, created: true });
      // A concurrent sign-in of the same identity may have inserted it first.
      const raced = await repo.findByOidc(input.networkId, input.issuer, input.subject);
      return raced ? refresh(raced.id) : created;
    });
  }

  /** Returns null when the new email belongs to another user of the network. */
  private async refreshFromClaims(id: string, input: UpsertOidcUserInput): Promise<User | null> {
    const email = normalizeEmail(input.email);
    const clash = await this.ctx.db
      .selectFrom('users')
      .select('id')
      .where('network_id', '=', input.networkId)
      .where('email', '=', email)
      .where('id', '!=', id)
      .executeTakeFirst();
    if (clash) return null;
    const now = this.ctx.now();
    const row = await this.ctx.db
      .updateTable('users')
      .set({
        email,
        ...(input.displayName === undefined ? {} : { display_name: input.displayName }),
        ...(input.groups === undefined ? {} : { groups: toJson(input.groups) }),
        last_login_at: now,
        updated_at: now,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toUser(row);
  }

  private insert(u: {
    networkId: string;
    email: string;
    displayName: string | undefined;
    role: Role;
    passwordHash: string | null;
    oidc: OidcIdentity | null;
    groups: string[];
    lastLoginAt: number | null;
  }): Promise<Result<User, CreateUserError>> {
    return this.ctx.atomic(async (ctx) => {
      const network = await ctx.db
        .selectFrom('networks')
        .select('id')
        .where('id', '=', u.networkId)
        .executeTakeFirst();
      if (!network) return err('network_not_found');
      const email = normalizeEmail(u.email);
      const now = ctx.now();
      // DO NOTHING instead of catching the violation: on PostgreSQL a failed statement would
      // abort the caller's whole transaction.
      const row = await ctx.db
        .insertInto('users')
        .values({
          id: newId('usr'),
          network_id: u.networkId,
          email,
          display_name: u.displayName ?? email,
          role: u.role,
          password_hash: u.passwordHash,
          oidc_issuer: u.oidc?.issuer ?? null,
          oidc_subject: u.oidc?.subject ?? null,
          groups: toJson(u.groups),
          disabled: fromBool(false),
          created_at: now,
          updated_at: now,
          last_login_at: u.lastLoginAt,
        })
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst();
      return row ? ok(toUser(row)) : err('email_taken');
    });
  }

  async get(id: string): Promise<User | null> {
    const row = await this.ctx.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async findByEmail(networkId: string, email: string): Promise<User | null> {
    const row = await this.ctx.db
      .selectFrom('users')
      .selectAll()
      .where('network_id', '=', networkId)
      .where('email', '=', normalizeEmail(email))
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async findByOidc(networkId: string, issuer: string, subject: string): Promise<User | null> {
    const row = await this.ctx.db
      .selectFrom('users')
      .selectAll()
      .where('network_id', '=', networkId)
      .where('oidc_issuer', '=', issuer)
      .where('oidc_subject', '=', subject)
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  /** For password sign-in: the user and their argon2id hash (null if they have none). */
  async getCredentials(
    networkId: string,
    email: string,
  ): Promise<{ user: User; passwordHash: string | null } | null> {
    const row = await this.ctx.db
      .selectFrom('users')
      .selectAll()
      .where('network_id', '=', networkId)
      .where('email', '=', normalizeEmail(email))
      .executeTakeFirst();
    return row ? { user: toUser(row), passwordHash: row.password_hash } : null;
  }

  async list(networkId: string): Promise<User[]> {
    const rows = await this.ctx.db
      .selectFrom('users')
      .selectAll()
      .where('network_id', '=', networkId)
      .orderBy('email')
      .execute();
    return rows.map(toUser);
  }

  async countByRole(networkId: string, role: Role): Promise<number> {
    const r = await this.ctx.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('network_id', '=', networkId)
      .where('role', '=', role)
      .where('disabled', '=', fromBool(false))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  private async update(id: string, set: Updateable<UsersTable>): Promise<User | null> {
    const row = await this.ctx.db
      .updateTable('users')
      .set({ ...set, updated_at: this.ctx.now() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  setRole(id: string, role: Role): Promise<User | null> {
    return this.update(id, { role });
  }

  setDisabled(id: string, disabled: boolean): Promise<User | null> {
    return this.update(id, { disabled: fromBool(disabled) });
  }

  setDisplayName(id: string, displayName: string): Promise<User | null> {
    return this.update(id, { display_name: displayName });
  }

  setPasswordHash(id: string, passwordHash: string | null): Promise<User | null> {
    return this.update(id, { password_hash: passwordHash });
  }

  /** Records a successful sign-in. */
  markLogin(id: string): Promise<User | null> {
    return this.update(id, { last_login_at: this.ctx.now() });
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }
}
