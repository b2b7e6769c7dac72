/**
 * Access policy versions. Every save appends the next version of its network (1, 2, 3, ...);
 * the highest version is in force. A rollback appends a copy of an older text as a new version,
 * so history only grows and always says what was in force when. No row at all means the built-in
 * default policy (allow everything inside the network).
 */
import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import { err, ok, type Result } from '../../shared/result.js';
import type { Actor } from './audit.js';
import { toDate } from './codec.js';
import { lockNetwork, type Ctx } from './context.js';
import { base32 } from './ids.js';
import type { Database, Millis } from './schema.js';

/** Row shape of `policies` (migration 0002). Kept here: only this repository reads the table. */
export interface PoliciesTable {
  id: string;
  network_id: string;
  version: number;
  text: string;
  created_by_type: string;
  created_by_id: string | null;
  created_at: Millis;
  comment: string | null;
  rolled_back_from: number | null;
}

type PolicyDb = Kysely<Database & { policies: PoliciesTable }>;

const actorTypeSchema = z.enum(['user', 'api_key', 'device', 'system']);

/** Longest page of versions one call returns. */
export const MAX_POLICY_VERSION_PAGE = 500;

export interface PolicyVersion {
  networkId: string;
  version: number;
  /** The HuJSON text exactly as saved, comments included. */
  text: string;
  createdBy: Actor;
  createdAt: Date;
  comment: string | null;
  /** For a rollback: the version whose text this copies. */
  rolledBackFrom: number | null;
}

/** A version without its text, for history lists. */
export type PolicyVersionSummary = Omit<PolicyVersion, 'text'>;

export interface PolicyVersionPage {
  /** Newest first. */
  items: PolicyVersionSummary[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  nextBefore: number | null;
}

export interface SavePolicyOptions {
  comment?: string | null;
  /**
   * Optimistic concurrency: the version the caller read (0 = none saved yet). When the network's
   * latest version differs, nothing is saved and the result is 'version_conflict'.
   */
  expectedVersion?: number;
}

const newPolicyId = (): string => `pol_${base32(randomBytes(16))}`;

function toVersion(row: Selectable<PoliciesTable>): PolicyVersion {
  return {
    networkId: row.network_id,
    version: Number(row.version),
    text: row.text,
    createdBy: { type: actorTypeSchema.parse(row.created_by_type), id: row.created_by_id },
    createdAt: toDate(Number(row.created_at)),
    comment: row.comment,
    rolledBackFrom: row.rolled_back_from === null ? null : Number(row.rolled_back_from),
  };
}

export class PolicyRepository {
  constructor(private readonly ctx: Ctx) {}

  private db(ctx: Ctx = this.ctx): PolicyDb {
    return ctx.db.withTables<{ policies: PoliciesTable }>();
  }

  /** The version in force, or null when none was saved (the default policy applies). */
  async getActive(networkId: string): Promise<{ version: number; text: string } | null> {
    const v = await this.latest(this.ctx, networkId);
    return v ? { version: v.version, text: v.text } : null;
  }

  /** The version in force with its metadata, or null. */
  latestVersion(networkId: string): Promise<PolicyVersion | null> {
    return this.latest(this.ctx, networkId);
  }

  private async latest(ctx: Ctx, networkId: string): Promise<PolicyVersion | null> {
    const row = await this.db(ctx)
      .selectFrom('policies')
      .selectAll()
      .where('network_id', '=', networkId)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? toVersion(row) : null;
  }

  async get(networkId: string, version: number): Promise<PolicyVersion | null> {
    const row = await this.db()
      .selectFrom('policies')
      .selectAll()
      .where('network_id', '=', networkId)
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? toVersion(row) : null;
  }

  /** History, newest first; `before` is the previous page's nextBefore. */
  async list(
    networkId: string,
    q: { limit: number; before?: number | null },
  ): Promise<PolicyVersionPage> {
    const limit = Math.max(1, Math.min(MAX_POLICY_VERSION_PAGE, Math.floor(q.limit)));
    let sel = this.db()
      .selectFrom('policies')
      .select([
        'id',
        'network_id',
        'version',
        'created_by_type',
        'created_by_id',
        'created_at',
        'comment',
        'rolled_back_from',
      ])
      .where('network_id', '=', networkId);
    if (q.before != null) sel = sel.where('version', '<', q.before);
    // One extra row says whether another page exists.
    const rows = await sel
      .orderBy('version', 'desc')
      .limit(limit + 1)
      .execute();
    const items = rows.slice(0, limit).map((r) => {
      const { text: _text, ...summary } = toVersion({ ...r, text: '' });
      return summary;
    });
    const last = items[items.length - 1];
    return { items, nextBefore: rows.length > limit && last ? last.version : null };
  }

  /**
   * Appends `text` as the network's next version. Runs under the network's lock, so concurrent
   * saves get distinct versions and `expectedVersion` is checked against what is really latest.
   */
  save(
    networkId: string,
    text: string,
    actor: Actor,
    opts: SavePolicyOptions = {},
  ): Promise<Result<PolicyVersion, 'network_not_found' | 'version_conflict'>> {
    return this.append(networkId, text, actor, opts, null);
  }

  /** Appends a copy of version `version`'s text as the next version. */
  rollback(
    networkId: string,
    version: number,
    actor: Actor,
    opts: SavePolicyOptions = {},
  ): Promise<
    Result<PolicyVersion, 'network_not_found' | 'version_not_found' | 'version_conflict'>
  > {
    return this.ctx.atomic(async (ctx) => {
      const old = await new PolicyRepository(ctx).get(networkId, version);
      if (!old) return err('version_not_found');
      return new PolicyRepository(ctx).append(networkId, old.text, actor, opts, version);
    });
  }

  private append(
    networkId: string,
    text: string,
    actor: Actor,
    opts: SavePolicyOptions,
    rolledBackFrom: number | null,
  ): Promise<Result<PolicyVersion, 'network_not_found' | 'version_conflict'>> {
    return this.ctx.atomic(async (ctx) => {
      if (!(await lockNetwork(ctx, networkId))) return err('network_not_found');
      const current = (await this.latest(ctx, networkId))?.version ?? 0;
      if (opts.expectedVersion !== undefined && opts.expectedVersion !== current)
        return err('version_conflict');
      const row = await this.db(ctx)
        .insertInto('policies')
        .values({
          id: newPolicyId(),
          network_id: networkId,
          version: current + 1,
          text,
          created_by_type: actor.type,
          created_by_id: actor.id,
          created_at: ctx.now(),
          comment: opts.comment ?? null,
          rolled_back_from: rolledBackFrom,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return ok(toVersion(row));
    });
  }
}
