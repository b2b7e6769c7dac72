import { expect, it } from 'vitest';
import type { AuditEntry, AuditPage } from '../../audit.js';
import { errorOf, newNetwork, unwrap } from '../fixtures.js';
import type { SuiteContext } from '../harness.js';

export function auditCases(s: SuiteContext): void {
  it('appends entries and round-trips actor, target and diff', async () => {
    const net = await newNetwork(s.store);
    const e = await s.store.audit.append({
      networkId: net.id,
      actor: { type: 'user', id: 'usr_1' },
      action: 'device.rename',
      target: { type: 'device', id: 'dev_1' },
      diff: { name: { from: 'a', to: 'b' }, tags: ['x'], n: 1.5, flag: false, none: null },
    });
    expect(e).toEqual({
      id: expect.any(Number),
      networkId: net.id,
      at: new Date(s.clock.t),
      actor: { type: 'user', id: 'usr_1' },
      action: 'device.rename',
      target: { type: 'device', id: 'dev_1' },
      diff: { name: { from: 'a', to: 'b' }, tags: ['x'], n: 1.5, flag: false, none: null },
    });
    const sys = await s.store.audit.append({
      networkId: net.id,
      actor: { type: 'system', id: null },
      action: 'key.expire',
    });
    expect(sys).toMatchObject({ target: null, diff: null, actor: { type: 'system', id: null } });
    const page = unwrap(await s.store.audit.query({ networkId: net.id, limit: 10 }));
    expect(page).toEqual({ entries: [sys, e], nextCursor: null });
  });

  it('filters by time, actor and action, and pages newest first with a cursor', async () => {
    const net = await newNetwork(s.store);
    const other = await newNetwork(s.store);
    const t0 = s.clock.t;
    const made: AuditEntry[] = [];
    for (let i = 0; i < 25; i++) {
      made.push(
        await s.store.audit.append({
          networkId: net.id,
          actor: i % 2 === 0 ? { type: 'user', id: 'usr_a' } : { type: 'api_key', id: 'api_b' },
          action: i % 5 === 0 ? 'user.login' : 'device.update',
          at: new Date(t0 + i * 1000),
        }),
      );
    }
    await s.store.audit.append({
      networkId: other.id,
      actor: { type: 'system', id: null },
      action: 'x',
    });

    const seen: number[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const page: AuditPage = unwrap(
        await s.store.audit.query({ networkId: net.id, limit: 10, cursor }),
      );
      sizes.push(page.entries.length);
      seen.push(...page.entries.map((x) => x.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(sizes).toEqual([10, 10, 5]);
    expect(seen).toEqual(made.map((m) => m.id).reverse());

    const window = unwrap(
      await s.store.audit.query({
        networkId: net.id,
        since: new Date(t0 + 5000),
        until: new Date(t0 + 10_000),
        limit: 100,
      }),
    );
    expect(window.entries.map((x) => x.at.getTime() - t0)).toEqual([9000, 8000, 7000, 6000, 5000]);

    const byActor = unwrap(
      await s.store.audit.query({ networkId: net.id, actor: { type: 'api_key' }, limit: 100 }),
    );
    expect(byActor.entries).toHaveLength(12);
    const byActorId = unwrap(
      await s.store.audit.query({
        networkId: net.id,
        actor: { type: 'user', id: 'usr_a' },
        limit: 100,
      }),
    );
    expect(byActorId.entries).toHaveLength(13);
    const logins = unwrap(
      await s.store.audit.query({ networkId: net.id, action: 'user.login', limit: 100 }),
    );
    expect(logins.entries.map((x) => x.action)).toEqual(Array(5).fill('user.login'));

    expect(
      errorOf(await s.store.audit.query({ networkId: net.id, limit: 10, cursor: '1; drop' })),
    ).toBe('invalid_cursor');
    // Limits are clamped to at least one entry.
    expect(unwrap(await s.store.audit.query({ networkId: net.id, limit: 0 })).entries).toHaveLength(
      1,
    );
  });

  it('prunes entries older than a cutoff', async () => {
    const net = await newNetwork(s.store);
    const t = s.clock.t;
    await s.store.audit.append({
      networkId: net.id,
      actor: { type: 'system', id: null },
      action: 'old',
      at: new Date(t - 10_000),
    });
    const keep = await s.store.audit.append({
      networkId: net.id,
      actor: { type: 'system', id: null },
      action: 'new',
      at: new Date(t),
    });
    expect(await s.store.audit.prune(new Date(t - 1))).toBeGreaterThanOrEqual(1);
    expect(unwrap(await s.store.audit.query({ networkId: net.id, limit: 10 })).entries).toEqual([
      keep,
    ]);
  });

  it('prunes one network without touching the others', async () => {
    const a = await newNetwork(s.store);
    const b = await newNetwork(s.store);
    const t = s.clock.t;
    for (const n of [a, b])
      await s.store.audit.append({
        networkId: n.id,
        actor: { type: 'system', id: null },
        action: 'old',
        at: new Date(t - 10_000),
      });
    expect(await s.store.audit.prune(new Date(t - 1), a.id)).toBe(1);
    expect(unwrap(await s.store.audit.query({ networkId: a.id, limit: 10 })).entries).toEqual([]);
    expect(unwrap(await s.store.audit.query({ networkId: b.id, limit: 10 })).entries).toHaveLength(
      1,
    );
  });
}
