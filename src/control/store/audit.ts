/**
 * The audit log: every sign-in, device and admin change, with actor, target, time and diff.
 * Entries are append-only; prune() is the only delete (retention).
 */
import { z } from 'zod';
import { err, ok, type Result } from '../../shared/result.js';
import { parseJson, toDate, toJson } from './codec.js';
import { affected, type Ctx } from './context.js';
import type { AuditLogTable } from './schema.js';
import type { Selectable } from 'kysely';

export const ACTOR_TYPES = ['user', 'api_key', 'device', 'system'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];
const actorTypeSchema = z.enum(ACTOR_TYPES);

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What changed, e.g. `{ name: { from: 'a', to: 'b' } }`. Always an object. */
export type AuditDiff = { [key: string]: JsonValue };
const diffSchema = z.record(z.string(), z.json());

export interface Actor {
  type: ActorType;
  /** null for 'system'. */
  id: string | null;
}

export interface AuditTarget {
  type: string;
  id: string | null;
}

export interface AuditEntry {
  id: number;
  networkId: string | null;
  at: Date;
  actor: Actor;
  /** Dotted verb, e.g. "device.rename", "user.login". */
  action: string;
  target: AuditTarget | null;
  diff: AuditDiff | null;
}

export interface AppendAuditInput {
  networkId: string | null;
  actor: Actor;
  action: string;
  target?: AuditTarget | null;
  diff?: AuditDiff | null;
  /** Default: the store clock. */
  at?: Date;
}

export interface AuditQuery {
  networkId: string;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
  /** Filter by actor type, and by id when given. */
  actor?: { type: ActorType; id?: string };
  action?: string;
  limit: number;
  /** nextCursor of the previous page. */
  cursor?: string | null;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Pass as `cursor` for the next (older) page; null when this page is the last. */
  nextCursor: string | null;
}

/** Keeps one request's work and response bounded whatever limit a client asks for. */
export const MAX_AUDIT_PAGE = 1000;

/** Cursors are entry ids in decimal; anything else comes from a confused or hostile client. */
const CURSOR = /^[0-9]{1,15}$/;

function toEntry(row: Selectable<AuditLogTable>): AuditEntry {
  return {
    id: row.id,
    networkId: row.network_id,
    at: toDate(row.at),
    actor: { type: actorTypeSchema.parse(row.actor_type), id: row.actor_id },
    action: row.action,
    target: row.target_type === null ? null : { type: row.target_type, id: row.target_id },
    diff:
      row.diff === null ? null : (parseJson(row.diff, diffSchema, 'audit_log.diff') as AuditDiff),
  };
}

export class AuditRepository {
  constructor(private readonly ctx: Ctx) {}

  async append(input: AppendAuditInput): Promise<AuditEntry> {
    const row = await this.ctx.db
      .insertInto('audit_log')
      .values({
        network_id: input.networkId,
        at: input.at ? input.at.getTime() : this.ctx.now(),
        actor_type: input.actor.type,
        actor_id: input.actor.id,
        action: input.action,
        target_type: input.target?.type ?? null,
        target_id: input.target?.id ?? null,
        diff: input.diff ? toJson(input.diff) : null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toEntry(row);
  }

  async query(q: AuditQuery): Promise<Result<AuditPage, 'invalid_cursor'>> {
    if (q.cursor != null && !CURSOR.test(q.cursor)) return err('invalid_cursor');
    const limit = Math.max(1, Math.min(MAX_AUDIT_PAGE, Math.floor(q.limit)));
    let sel = this.ctx.db.selectFrom('audit_log').selectAll().where('network_id', '=', q.networkId);
    if (q.since) sel = sel.where('at', '>=', q.since.getTime());
    if (q.until) sel = sel.where('at', '<', q.until.getTime());
    if (q.actor) {
      sel = sel.where('actor_type', '=', q.actor.type);
      if (q.actor.id !== undefined) sel = sel.where('actor_id', '=', q.actor.id);
    }
    if (q.action) sel = sel.where('action', '=', q.action);
    if (q.cursor != null) sel = sel.where('id', '<', Number(q.cursor));
    // One extra row tells whether another page exists without a COUNT.
    const rows = await sel
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit).map(toEntry);
    const last = page[page.length - 1];
    return ok({ entries: page, nextCursor: rows.length > limit && last ? String(last.id) : null });
  }

  /**
   * Retention: deletes entries older than `olderThan` (of one network when `networkId` is
   * given, else of every network); returns how many.
   */
  async prune(olderThan: Date, networkId?: string): Promise<number> {
    let del = this.ctx.db.deleteFrom('audit_log').where('at', '<', olderThan.getTime());
    if (networkId !== undefined) del = del.where('network_id', '=', networkId);
    const r = await del.executeTakeFirst();
    return affected(r);
  }
}
