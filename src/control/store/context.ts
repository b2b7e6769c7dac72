/**
 * What every repository runs against: a Kysely executor (the pool, or one open transaction),
 * the dialect, and the clock. Repositories never open connections or read the wall clock
 * themselves, so the same code runs at top level and inside store.transaction(), and tests
 * can move time.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Dialect } from './migrations/column-types.js';
import type { Database, NetworksTable } from './schema.js';

export type { Dialect };

export interface Ctx {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Runs fn atomically: in a new transaction at top level, or as part of the transaction this
   * context already belongs to.
   */
  atomic<T>(fn: (ctx: Ctx) => Promise<T>): Promise<T>;
}

/**
 * Reads a network row and, on PostgreSQL, locks it until the transaction ends. Everything that
 * picks a per-network unique value (addresses, device names) takes this lock first, so those
 * picks are serialized per network. FOR NO KEY UPDATE does not block the KEY SHARE locks that
 * foreign-key checks take, so inserting users or keys into the network is not held up.
 * SQLite needs no row lock: BEGIN IMMEDIATE already holds the database's single write lock.
 * Must be called inside ctx.atomic().
 */
export async function lockNetwork(
  ctx: Ctx,
  networkId: string,
): Promise<Selectable<NetworksTable> | undefined> {
  const q = ctx.db.selectFrom('networks').selectAll().where('id', '=', networkId);
  return ctx.dialect === 'postgres' ? q.forNoKeyUpdate().executeTakeFirst() : q.executeTakeFirst();
}

/** Number of rows an UPDATE or DELETE touched, as a number (Kysely reports bigint). */
export function affected(result: { numUpdatedRows?: bigint; numDeletedRows?: bigint }): number {
  return Number(result.numUpdatedRows ?? result.numDeletedRows ?? 0n);
}

/** Tables whose rows carry `last_used_at` and `revoked_at` stamps (secrets that are used and revoked). */
type StampedTable = 'api_keys' | 'user_sessions' | 'preauth_keys';

/**
 * Sets a timestamp column of one row to now. With `once`, only a row whose stamp is still null
 * changes (a revoked key stays revoked at its first time). True when a row changed.
 */
export async function stampNow(
  ctx: Ctx,
  table: StampedTable,
  column: 'last_used_at' | 'revoked_at',
  id: string,
  once = false,
): Promise<boolean> {
  // The three tables share these columns; Kysely cannot type a column across a table union.
  const db = ctx.db as unknown as Kysely<Record<StampedTable, Record<string, unknown>>>;
  let q = db
    .updateTable(table)
    .set({ [column]: ctx.now() })
    .where('id', '=', id);
  if (once) q = q.where(column, 'is', null);
  return affected(await q.executeTakeFirst()) > 0;
}
