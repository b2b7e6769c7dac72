/**
 * The device allocator against a model: after any sequence of registrations and deletions, a
 * new device gets the lowest assignable address that no device holds. Runs on in-memory SQLite
 * (the SQL is the same on PostgreSQL, which the shared suite covers).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipv4At, isAssignable, parseIpv4Prefix } from './addresses.js';
import { openStore, type Store } from './store.js';
import { newNetwork, newUser, nodeKey, unwrap } from './testing/fixtures.js';

/** Contains 100.100.100.100, so the MagicDNS reservation is in play: 13 usable addresses. */
const PREFIX = '100.100.100.96/28';

describe('device address allocation (model-based)', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({ driver: 'sqlite', path: ':memory:' });
    await store.migrate();
  });
  afterAll(() => store.close());

  it('always hands out the lowest free assignable address', async () => {
    const planR = parseIpv4Prefix(PREFIX);
    if (!planR.ok) throw new Error(planR.error);
    const plan = planR.value;
    const op = fc.oneof(
      fc.constant({ kind: 'create' as const }),
      fc.nat({ max: 20 }).map((pick) => ({ kind: 'delete' as const, pick })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const net = await newNetwork(store, { ipv4Prefix: PREFIX });
        const user = await newUser(store, net.id);
        const held = new Map<string, number>(); // device id → index
        for (const o of ops) {
          if (o.kind === 'delete') {
            const ids = [...held.keys()];
            const id = ids[o.pick % Math.max(1, ids.length)];
            if (id === undefined) continue;
            expect(await store.devices.delete(id)).toBe(true);
            held.delete(id);
            continue;
          }
          const used = new Set(held.values());
          const expected = Array.from({ length: plan.size }, (_, i) => i).find(
            (i) => isAssignable(plan, i) && !used.has(i),
          );
          const r = await store.devices.create({
            networkId: net.id,
            userId: user.id,
            hostname: 'm',
            nodeKey: nodeKey(),
          });
          if (expected === undefined) {
            expect(r).toEqual({ ok: false, error: 'address_space_exhausted' });
            continue;
          }
          const { device } = unwrap(r);
          expect(device.ipv4).toBe(ipv4At(plan, expected));
          held.set(device.id, expected);
        }
        await store.networks.delete(net.id);
      }),
      { numRuns: 40 },
    );
  });
});
