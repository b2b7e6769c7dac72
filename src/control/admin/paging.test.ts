import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../http/errors.js';
import { newestFirst, pageOf } from './paging.js';

const id = (s: string) => s;

/** Walks every page; `between` may change the rows between two requests. */
function walk(rows: string[], limit: number, between: (rows: string[]) => string[] = (r) => r) {
  const seen: string[] = [];
  let cursor: string | undefined;
  let current = rows;
  for (let i = 0; i < 10_000; i++) {
    const page = pageOf(current, id, id, { cursor, limit });
    seen.push(...page.items);
    if (!page.nextCursor) return seen;
    cursor = page.nextCursor;
    current = between(current);
  }
  throw new Error('paging did not end');
}

describe('pageOf', () => {
  it('hands out every row once, in key order, whatever the page size', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ maxLength: 12 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        (rows, limit) => {
          expect(walk(rows, limit)).toEqual([...rows].sort());
        },
      ),
    );
  });

  it('neither repeats nor skips surviving rows when rows are deleted between pages', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 1000 }),
        (rows, limit, seed) => {
          let n = seed;
          const deleted = new Set<string>();
          const seen = walk(rows, limit, (current) => {
            const victim = current[n++ % current.length];
            if (victim !== undefined) deleted.add(victim);
            return current.filter((r) => r !== victim);
          });
          expect(new Set(seen).size).toBe(seen.length);
          for (const r of rows) if (!deleted.has(r)) expect(seen).toContain(r);
        },
      ),
    );
  });

  it('refuses a cursor that is not one it issued with a 400, never a crash', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (cursor) => {
        try {
          pageOf(['a', 'b'], id, id, { cursor, limit: 1 });
        } catch (e) {
          expect(e).toBeInstanceOf(ApiError);
          expect((e as ApiError).status).toBe(400);
        }
      }),
    );
  });

  it('orders newest first with newestFirst keys', () => {
    const rows = [
      { id: 'a', at: new Date(1000) },
      { id: 'b', at: new Date(3000) },
      { id: 'c', at: new Date(2000) },
    ];
    const page = pageOf(
      rows,
      (r) => newestFirst(r.at, r.id),
      (r) => r.id,
      {},
    );
    expect(page).toEqual({ items: ['b', 'c', 'a'], nextCursor: null });
  });
});
