import { expect, it } from 'vitest';
import type { Actor } from '../../audit.js';
import type { SuiteContext } from '../harness.js';
import { errorOf, newNetwork, newUser, nodeKey, unwrap } from '../fixtures.js';

const alice: Actor = { type: 'user', id: 'usr_alice' };
const system: Actor = { type: 'system', id: null };

export function policyCases(s: SuiteContext): void {
  it('starts with no version (the default policy applies)', async () => {
    const net = await newNetwork(s.store);
    expect(await s.store.policies.getActive(net.id)).toBeNull();
    expect(await s.store.policies.list(net.id, { limit: 10 })).toEqual({
      items: [],
      nextBefore: null,
    });
  });

  it('numbers versions per network and keeps the latest in force', async () => {
    const a = await newNetwork(s.store);
    const b = await newNetwork(s.store);
    const v1 = unwrap(await s.store.policies.save(a.id, '{"acls": []}', alice, { comment: 'x' }));
    s.clock.advance(1000);
    const v2 = unwrap(await s.store.policies.save(a.id, '{ /* two */ }', system));
    const b1 = unwrap(await s.store.policies.save(b.id, '{}', system));
    expect([v1.version, v2.version, b1.version]).toEqual([1, 2, 1]);
    expect(v1).toMatchObject({ createdBy: alice, comment: 'x', rolledBackFrom: null });
    expect(await s.store.policies.getActive(a.id)).toEqual({ version: 2, text: '{ /* two */ }' });
    expect((await s.store.policies.get(a.id, 1))?.text).toBe('{"acls": []}');
    expect(await s.store.policies.get(a.id, 3)).toBeNull();
    expect(v2.createdAt.getTime() - v1.createdAt.getTime()).toBe(1000);
  });

  it('refuses a save whose expected version is stale', async () => {
    const net = await newNetwork(s.store);
    unwrap(await s.store.policies.save(net.id, '{}', system, { expectedVersion: 0 }));
    const stale = await s.store.policies.save(net.id, '{ }', system, { expectedVersion: 0 });
    expect(errorOf(stale)).toBe('version_conflict');
    expect((await s.store.policies.getActive(net.id))?.version).toBe(1);
    expect(errorOf(await s.store.policies.save('net_missing', '{}', system))).toBe(
      'network_not_found',
    );
  });

  it('rolls back by appending a copy of an old version', async () => {
    const net = await newNetwork(s.store);
    unwrap(await s.store.policies.save(net.id, 'one', system));
    unwrap(await s.store.policies.save(net.id, 'two', system));
    const v3 = unwrap(await s.store.policies.rollback(net.id, 1, alice));
    expect(v3).toMatchObject({ version: 3, text: 'one', rolledBackFrom: 1, createdBy: alice });
    expect(await s.store.policies.getActive(net.id)).toEqual({ version: 3, text: 'one' });
    expect(errorOf(await s.store.policies.rollback(net.id, 9, alice))).toBe('version_not_found');
  });

  it('pages history newest first', async () => {
    const net = await newNetwork(s.store);
    for (let i = 1; i <= 5; i++) unwrap(await s.store.policies.save(net.id, `t${i}`, system));
    const p1 = await s.store.policies.list(net.id, { limit: 2 });
    expect(p1.items.map((v) => v.version)).toEqual([5, 4]);
    expect(p1.items[0]).not.toHaveProperty('text');
    const p2 = await s.store.policies.list(net.id, { limit: 2, before: p1.nextBefore });
    const p3 = await s.store.policies.list(net.id, { limit: 2, before: p2.nextBefore });
    expect(p2.items.map((v) => v.version)).toEqual([3, 2]);
    expect(p3).toMatchObject({ items: [{ version: 1 }], nextBefore: null });
  });

  it('gives concurrent saves distinct versions', async () => {
    const net = await newNetwork(s.store);
    const saved = await Promise.all(
      Array.from({ length: 6 }, (_, i) => s.store.policies.save(net.id, `c${i}`, system)),
    );
    expect(saved.map((r) => unwrap(r).version).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });
}

export function routeCases(s: SuiteContext): void {
  async function device(): Promise<{ networkId: string; id: string }> {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const d = unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'router',
        nodeKey: nodeKey(),
      }),
    );
    return { networkId: net.id, id: d.device.id };
  }

  it('keeps routes pending until approved, and enables only advertised approved ones', async () => {
    const d = await device();
    const adv = await s.store.routes.setAdvertised(d.id, {
      routes: ['10.1.0.0/16', '10.2.0.0/16', '0.0.0.0/0'],
      exitNode: true,
    });
    expect(adv?.changed).toBe(true);
    expect(adv?.after).toEqual({
      deviceId: d.id,
      advertised: ['10.1.0.0/16', '10.2.0.0/16'],
      approved: [],
      enabled: [],
      exitNode: { advertised: true, approved: false, enabled: false },
    });
    await s.store.routes.setApprovedRoutes(d.id, ['10.1.0.0/16', '192.168.5.0/24']);
    const ex = await s.store.routes.setExitNodeApproved(d.id, true);
    expect(ex?.after).toMatchObject({
      approved: ['10.1.0.0/16', '192.168.5.0/24'],
      enabled: ['10.1.0.0/16'],
      exitNode: { advertised: true, approved: true, enabled: true },
    });
    // The pre-approved prefix comes into use as soon as it is advertised.
    const later = await s.store.routes.setAdvertised(d.id, {
      routes: ['192.168.5.0/24'],
      exitNode: false,
    });
    expect(later?.after).toMatchObject({
      advertised: ['192.168.5.0/24'],
      approved: ['10.1.0.0/16', '192.168.5.0/24'],
      enabled: ['192.168.5.0/24'],
      exitNode: { advertised: false, approved: true, enabled: false },
    });
    const same = await s.store.routes.setAdvertised(d.id, {
      routes: ['192.168.5.0/24'],
      exitNode: false,
    });
    expect(same?.changed).toBe(false);
  });

  it('drops rows neither advertised nor approved, and lists per network', async () => {
    const d = await device();
    await s.store.routes.approveRoutes(d.id, ['10.9.0.0/16']);
    await s.store.routes.setExitNodeApproved(d.id, true);
    expect(await s.store.routes.get(d.id)).toMatchObject({ approved: ['10.9.0.0/16'] });
    const listed = await s.store.routes.listByNetwork(d.networkId);
    expect([...listed.keys()]).toEqual([d.id]);
    await s.store.routes.setApprovedRoutes(d.id, []);
    await s.store.routes.setExitNodeApproved(d.id, false);
    const rows = await s.store.db
      .selectFrom('device_routes')
      .select('prefix')
      .where('device_id', '=', d.id)
      .execute();
    expect(rows).toEqual([]);
    expect((await s.store.routes.listByNetwork(d.networkId)).size).toBe(0);
    expect(await s.store.routes.setAdvertised('dev_missing', { routes: [], exitNode: false })).toBe(
      null,
    );
  });
}
