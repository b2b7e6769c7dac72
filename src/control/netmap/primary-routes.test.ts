import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrimaryRoutes, type RouterState } from './primary-routes.js';

const P = '10.9.0.0/16';

/** Routers by id; `created` follows the id so "oldest" is predictable. */
function world() {
  const states = new Map<string, RouterState>();
  const set = (id: string, online: boolean, since: number | null = null) =>
    states.set(id, {
      online,
      onlineSince: online ? since : null,
      created: `2026-01-0${id.slice(1)}`,
    });
  return { states, set, state: (id: string) => states.get(id) };
}

describe('PrimaryRoutes', () => {
  it('elects the longest-online router and keeps it while it is online', () => {
    const w = world();
    const pr = new PrimaryRoutes();
    w.set('r2', true, 200);
    w.set('r1', true, 100);
    expect([...pr.setOffered('r2', [P], w.state)]).toEqual(['r2']);
    // r1 has been online longer, but r2 is primary and online: no change.
    expect([...pr.setOffered('r1', [P], w.state)]).toEqual([]);
    expect(pr.primaryFor(P)).toBe('r2');
    expect(pr.primariesOf('r2')).toEqual([P]);
    expect(pr.primariesOf('r1')).toEqual([]);
  });

  it('fails over to an online router when the primary goes offline, and does not fail back', () => {
    const w = world();
    const pr = new PrimaryRoutes();
    w.set('r1', true, 100);
    w.set('r2', true, 200);
    w.set('r3', true, 300);
    for (const r of ['r1', 'r2', 'r3']) pr.setOffered(r, [P], w.state);
    expect(pr.primaryFor(P)).toBe('r1');
    w.set('r1', false);
    expect([...pr.presenceChanged('r1', w.state)].sort()).toEqual(['r1', 'r2']);
    expect(pr.primaryFor(P)).toBe('r2'); // online longest among the rest
    w.set('r1', true, 400);
    expect([...pr.presenceChanged('r1', w.state)]).toEqual([]);
    expect(pr.primaryFor(P)).toBe('r2');
  });

  it('keeps the last primary when no router is online, and picks the oldest when it had none', () => {
    const w = world();
    const pr = new PrimaryRoutes();
    w.set('r2', false);
    w.set('r1', false);
    pr.setOffered('r2', [P], w.state);
    expect(pr.primaryFor(P)).toBe('r2');
    pr.setOffered('r1', [P], w.state);
    expect(pr.primaryFor(P)).toBe('r2');
    w.set('r1', true, 500);
    pr.presenceChanged('r1', w.state);
    expect(pr.primaryFor(P)).toBe('r1'); // an online router beats an offline primary
    pr.setOffered('r1', [], w.state);
    expect(pr.primaryFor(P)).toBe('r2');
    pr.setOffered('r2', [], w.state);
    expect(pr.primaryFor(P)).toBeUndefined();
    expect(pr.primariesOf('r2')).toEqual([]);
  });

  it('elects each prefix separately', () => {
    const w = world();
    const pr = new PrimaryRoutes();
    w.set('r1', true, 1);
    w.set('r2', true, 2);
    pr.setOffered('r1', ['10.1.0.0/16', P], w.state);
    pr.setOffered('r2', ['10.2.0.0/16', P], w.state);
    expect(pr.primariesOf('r1')).toEqual(['10.1.0.0/16', P]);
    expect(pr.primariesOf('r2')).toEqual(['10.2.0.0/16']);
  });

  it('always has exactly one primary per offered prefix, an online one when any is online', () => {
    const ids = ['r1', 'r2', 'r3', 'r4'];
    const prefixes = ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16'];
    const op = fc.oneof(
      fc.record({
        t: fc.constant('offer' as const),
        id: fc.constantFrom(...ids),
        prefixes: fc.subarray(prefixes),
      }),
      fc.record({
        t: fc.constant('presence' as const),
        id: fc.constantFrom(...ids),
        online: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const w = world();
        for (const id of ids) w.set(id, false);
        const offered = new Map<string, string[]>();
        const pr = new PrimaryRoutes();
        let clock = 0;
        for (const o of ops) {
          const before = new Map(prefixes.map((p) => [p, pr.primaryFor(p)]));
          if (o.t === 'offer') {
            offered.set(o.id, o.prefixes);
            pr.setOffered(o.id, o.prefixes, w.state);
          } else {
            const was = w.state(o.id)?.online;
            w.set(o.id, o.online, ++clock);
            if (was !== o.online) pr.presenceChanged(o.id, w.state);
          }
          for (const p of prefixes) {
            const routers = ids.filter((id) => offered.get(id)?.includes(p));
            const primary = pr.primaryFor(p);
            if (routers.length === 0) {
              expect(primary).toBeUndefined();
              continue;
            }
            expect(routers).toContain(primary);
            const online = routers.filter((id) => w.state(id)?.online);
            if (online.length) expect(online).toContain(primary);
            // A primary that is still online and still offers the prefix never changes.
            const prev = before.get(p);
            if (prev && routers.includes(prev) && w.state(prev)?.online) expect(primary).toBe(prev);
            for (const id of ids) expect(pr.primariesOf(id).includes(p)).toBe(id === primary);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
