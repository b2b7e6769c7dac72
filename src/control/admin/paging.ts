/**
 * Keyset paging over an admin list. Each item has a sort key that is unique and orders the
 * list; the cursor is the last key handed out, so deleting or adding rows between two pages
 * neither repeats nor skips the rest. Admin lists are read whole from the store (networks hold
 * thousands of rows, not millions), then cut into pages here.
 */
import { badRequest } from './errors.js';

/** The page size when a client asks for none: a screenful of an admin table. */
export const DEFAULT_PAGE_SIZE = 100;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** 'k' keeps the cursor non-empty even for an empty key (the API's Cursor needs a character). */
const encode = (key: string): string => `k${Buffer.from(key, 'utf8').toString('base64url')}`;

function decode(cursor: string): string {
  if (!/^k[A-Za-z0-9_-]*$/.test(cursor)) throw badRequest('cursor: not a cursor from this list');
  return Buffer.from(cursor.slice(1), 'base64url').toString('utf8');
}

export function pageOf<S, T>(
  rows: readonly S[],
  keyOf: (row: S) => string,
  view: (row: S) => T,
  q: { cursor?: string | undefined; limit?: number | undefined },
): Page<T> {
  const limit = q.limit ?? DEFAULT_PAGE_SIZE;
  const keyed = rows.map((row) => ({ key: keyOf(row), row }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const after = q.cursor === undefined ? null : decode(q.cursor);
  const rest = after === null ? keyed : keyed.filter((k) => k.key > after);
  const chunk = rest.slice(0, limit);
  const last = chunk[chunk.length - 1];
  return {
    items: chunk.map((k) => view(k.row)),
    nextCursor: rest.length > limit && last ? encode(last.key) : null,
  };
}

/** Sort key for newest-first lists: later times sort first, the id breaks ties. */
export const newestFirst = (at: Date, id: string): string =>
  `${String(Number.MAX_SAFE_INTEGER - at.getTime()).padStart(16, '0')}|${id}`;
