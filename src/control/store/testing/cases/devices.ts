import { expect, it } from 'vitest';
import { ipv6For } from '../../addresses.js';
import { isKeyExpired } from '../../devices.js';
import { hashToken } from '../../tokens.js';
import { errorOf, newNetwork, newUser, nodeKey, unwrap } from '../fixtures.js';
import type { SuiteContext } from '../harness.js';

const DAY = 86_400_000;

/** Enough simultaneous registrations to interleave on every connection of the PG pool. */
const CONCURRENT_REGISTRATIONS = 50;

export function deviceCases(s: SuiteContext): void {
  it('registers a device with the first address, a derived IPv6, a name and a credential', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const key = nodeKey();
    const { device, credential } = unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: "Zoë's MacBook Pro",
        nodeKey: key,
        discoKey: 'discokey:1',
        os: 'macOS',
        osVersion: '15.1',
        clientVersion: '0.1.0',
        hostInfo: { arch: 'arm64', cpus: 8, nested: { ok: true, list: [1, 'a', null] } },
      }),
    );
    expect(credential).toMatch(/^tr_node_[A-Za-z0-9_-]{43}$/);
    expect(device).toMatchObject({
      networkId: net.id,
      userId: user.id,
      tags: [],
      name: 'zoes-macbook-pro',
      hostname: "Zoë's MacBook Pro",
      nodeKey: key,
      discoKey: 'discokey:1',
      ipv4: '100.64.0.1',
      ipv6: ipv6For(net.ipv6UlaPrefix, '100.64.0.1'),
      os: 'macOS',
      osVersion: '15.1',
      clientVersion: '0.1.0',
      hostInfo: { arch: 'arm64', cpus: 8, nested: { ok: true, list: [1, 'a', null] } },
      keyExpiry: new Date(s.clock.t + 180 * DAY),
      keyExpiryDisabled: false,
      approved: true,
      ephemeral: false,
      lastSeenAt: null,
      endpoints: [],
      homeRelayRegion: null,
      relayLatencies: {},
      advertisedRoutes: [],
    });
    expect(device.ipv6).toMatch(/::6440:1$/);
    const raw = await s.store.db
      .selectFrom('devices')
      .selectAll()
      .where('id', '=', device.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(raw)).not.toContain(credential);
    expect(await s.store.devices.findByCredentialHash(hashToken(credential))).toEqual(device);
    expect(await s.store.devices.findByNodeKey(key)).toEqual(device);
    expect(await s.store.devices.get(device.id)).toEqual(device);
    expect(await s.store.devices.listByUser(user.id)).toEqual([device]);
    expect(await s.store.devices.findByNodeKey('nodekey:none')).toBeNull();
  });

  it('makes names unique with -1, -2 and reuses the lowest free address', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const make = async (hostname: string, name?: string) =>
      unwrap(
        await s.store.devices.create({
          networkId: net.id,
          userId: user.id,
          hostname,
          nodeKey: nodeKey(),
          ...(name === undefined ? {} : { name }),
        }),
      ).device;
    const a = await make('box');
    const b = await make('BOX');
    const c = await make('box.local', 'box');
    const d = await make('🙂');
    expect([a.name, b.name, c.name, d.name]).toEqual(['box', 'box-1', 'box-2', 'device']);
    expect([a.ipv4, b.ipv4, c.ipv4, d.ipv4]).toEqual([
      '100.64.0.1',
      '100.64.0.2',
      '100.64.0.3',
      '100.64.0.4',
    ]);
    expect(await s.store.devices.delete(b.id)).toBe(true);
    expect(await s.store.devices.delete(b.id)).toBe(false);
    const e = await make('box');
    expect(e.ipv4).toBe('100.64.0.2');
    expect(e.name).toBe('box-1');
    const long = await make('x'.repeat(80));
    const long2 = await make('x'.repeat(80));
    expect(long.name).toBe('x'.repeat(63));
    expect(long2.name).toBe(`${'x'.repeat(61)}-1`);
    expect((await s.store.devices.list(net.id)).map((x) => x.name)).toEqual(
      ['box', 'box-1', 'box-2', 'device', long.name, long2.name].sort(),
    );
  });

  it('skips the network, broadcast and MagicDNS addresses, then reports exhaustion', async () => {
    // 100.100.100.96/29: .96 network, .100 MagicDNS, .103 broadcast → 5 usable addresses.
    const net = await newNetwork(s.store, { ipv4Prefix: '100.100.100.96/29' });
    const user = await newUser(s.store, net.id);
    const ips: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'h',
        nodeKey: nodeKey(),
      });
      ips.push(unwrap(r).device.ipv4);
    }
    expect(ips).toEqual([
      '100.100.100.97',
      '100.100.100.98',
      '100.100.100.99',
      '100.100.100.101',
      '100.100.100.102',
    ]);
    const full = await s.store.devices.create({
      networkId: net.id,
      userId: user.id,
      hostname: 'h',
      nodeKey: nodeKey(),
    });
    expect(errorOf(full)).toBe('address_space_exhausted');
    const [first] = await s.store.devices.list(net.id);
    if (!first) throw new Error('no devices');
    await s.store.devices.delete(first.id);
    const again = unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'h',
        nodeKey: nodeKey(),
      }),
    );
    expect(again.device.ipv4).toBe(first.ipv4);
  });

  it('rejects duplicate node keys, bad owners and unknown networks', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const key = nodeKey();
    unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'a',
        nodeKey: key,
      }),
    );
    const base = { networkId: net.id, hostname: 'b', nodeKey: nodeKey() };
    expect(errorOf(await s.store.devices.create({ ...base, userId: user.id, nodeKey: key }))).toBe(
      'node_key_in_use',
    );
    expect(errorOf(await s.store.devices.create({ ...base, userId: null }))).toBe('invalid_owner');
    expect(
      errorOf(await s.store.devices.create({ ...base, userId: user.id, tags: ['tag:x'] })),
    ).toBe('invalid_owner');
    expect(
      errorOf(await s.store.devices.create({ ...base, networkId: 'net_missing', userId: user.id })),
    ).toBe('network_not_found');
    expect(await s.store.devices.list(net.id)).toHaveLength(1);
  });

  it('follows the network approval setting unless told otherwise', async () => {
    const net = await newNetwork(s.store, { settings: { deviceApprovalRequired: true } });
    const user = await newUser(s.store, net.id);
    const pending = unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'a',
        nodeKey: nodeKey(),
      }),
    ).device;
    expect(pending.approved).toBe(false);
    const pre = unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'b',
        nodeKey: nodeKey(),
        approved: true,
      }),
    ).device;
    expect(pre.approved).toBe(true);
    expect((await s.store.devices.setApproved(pending.id, true))?.approved).toBe(true);
    expect(await s.store.devices.setApproved('dev_missing', true)).toBeNull();
  });

  it('allocates distinct addresses and names to concurrent registrations', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const results = await Promise.all(
      Array.from({ length: CONCURRENT_REGISTRATIONS }, () =>
        s.store.devices.create({
          networkId: net.id,
          userId: user.id,
          hostname: 'runner',
          nodeKey: nodeKey(),
        }),
      ),
    );
    const devices = results.map((r) => unwrap(r).device);
    const n = CONCURRENT_REGISTRATIONS;
    expect(new Set(devices.map((d) => d.ipv4)).size).toBe(n);
    expect(new Set(devices.map((d) => d.ipv6)).size).toBe(n);
    expect(new Set(devices.map((d) => d.name)).size).toBe(n);
    // Dense allocation: exactly the first n addresses and names, nothing skipped.
    const expectedIps = Array.from({ length: n }, (_, i) => `100.64.0.${i + 1}`);
    expect(devices.map((d) => d.ipv4).sort()).toEqual(expectedIps.sort());
    const expectedNames = ['runner', ...Array.from({ length: n - 1 }, (_, i) => `runner-${i + 1}`)];
    expect(devices.map((d) => d.name).sort()).toEqual(expectedNames.sort());
  });

  if (s.backend.concurrentStores) {
    it('allocates safely when two store instances share one database', async () => {
      const second = await s.backend.reopen(s.store, s.options);
      if (second === null) throw new Error('backend claims concurrent stores but cannot reopen');
      const net = await newNetwork(s.store);
      const user = await newUser(s.store, net.id);
      const stores = [s.store, second];
      const results = await Promise.all(
        Array.from({ length: CONCURRENT_REGISTRATIONS }, (_, i) =>
          stores[i % 2]!.devices.create({
            networkId: net.id,
            userId: user.id,
            hostname: 'node',
            nodeKey: nodeKey(),
          }),
        ),
      );
      const devices = results.map((r) => unwrap(r).device);
      expect(new Set(devices.map((d) => d.ipv4)).size).toBe(CONCURRENT_REGISTRATIONS);
      expect(new Set(devices.map((d) => d.name)).size).toBe(CONCURRENT_REGISTRATIONS);
    });
  }

  it('renames to valid, free labels only', async () => {
    const net = await newNetwork(s.store);
    const other = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const otherUser = await newUser(s.store, other.id);
    const mk = async (networkId: string, userId: string, hostname: string) =>
      unwrap(await s.store.devices.create({ networkId, userId, hostname, nodeKey: nodeKey() }))
        .device;
    const a = await mk(net.id, user.id, 'a');
    const b = await mk(net.id, user.id, 'b');
    const x = await mk(other.id, otherUser.id, 'build-box');
    expect(errorOf(await s.store.devices.rename(a.id, 'Build Box'))).toBe('invalid_name');
    expect(unwrap(await s.store.devices.rename(a.id, ' Build-Box ')).name).toBe('build-box');
    expect(x.name).toBe('build-box'); // same name in another network is fine
    expect(errorOf(await s.store.devices.rename(b.id, 'build-box'))).toBe('name_taken');
    expect(errorOf(await s.store.devices.rename(b.id, '!!!'))).toBe('invalid_name');
    expect(errorOf(await s.store.devices.rename('dev_missing', 'z'))).toBe('not_found');
    expect(unwrap(await s.store.devices.rename(a.id, 'build-box')).name).toBe('build-box');
  });

  it('tags devices, which drops the user owner', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const d = unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'srv',
        nodeKey: nodeKey(),
      }),
    ).device;
    const tagged = unwrap(await s.store.devices.setTags(d.id, ['tag:prod', 'tag:db']));
    expect(tagged).toMatchObject({ userId: null, tags: ['tag:prod', 'tag:db'] });
    expect(errorOf(await s.store.devices.setTags(d.id, []))).toBe('invalid_owner');
    expect(errorOf(await s.store.devices.setTags('dev_missing', ['tag:x']))).toBe('not_found');
    const t2 = unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: null,
        tags: ['tag:ci'],
        hostname: 'ci',
        nodeKey: nodeKey(),
        keyExpiryDisabled: true,
        ephemeral: true,
      }),
    ).device;
    expect(t2).toMatchObject({
      userId: null,
      tags: ['tag:ci'],
      keyExpiryDisabled: true,
      ephemeral: true,
    });
  });

  it('manages key expiry and rotates node keys and credentials', async () => {
    const net = await newNetwork(s.store, { settings: { keyExpiryDays: 1 } });
    const user = await newUser(s.store, net.id);
    const { device, credential } = unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'k',
        nodeKey: nodeKey(),
      }),
    );
    expect(device.keyExpiry).toEqual(new Date(s.clock.t + DAY));
    expect(isKeyExpired(device, new Date(s.clock.t))).toBe(false);
    expect(isKeyExpired(device, new Date(s.clock.t + DAY))).toBe(true);
    const disabled = await s.store.devices.setKeyExpiryDisabled(device.id, true);
    expect(disabled?.keyExpiryDisabled).toBe(true);
    expect(isKeyExpired(disabled!, new Date(s.clock.t + 2 * DAY))).toBe(false);
    const at = new Date(s.clock.t + 7 * DAY);
    expect((await s.store.devices.setKeyExpiry(device.id, at))?.keyExpiry).toEqual(at);
    expect((await s.store.devices.setKeyExpiry(device.id, null))?.keyExpiry).toBeNull();

    s.clock.advance(DAY / 2);
    const newKey = nodeKey();
    const rotated = unwrap(await s.store.devices.rotateNodeKey(device.id, newKey));
    expect(rotated.nodeKey).toBe(newKey);
    expect(rotated.keyExpiry).toEqual(new Date(s.clock.t + DAY));
    expect(await s.store.devices.findByNodeKey(device.nodeKey)).toBeNull();
    const other = unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'o',
        nodeKey: nodeKey(),
      }),
    ).device;
    expect(errorOf(await s.store.devices.rotateNodeKey(device.id, other.nodeKey))).toBe(
      'node_key_in_use',
    );
    expect(errorOf(await s.store.devices.rotateNodeKey('dev_missing', nodeKey()))).toBe(
      'not_found',
    );

    const fresh = await s.store.devices.rotateCredential(device.id);
    expect(fresh).toMatch(/^tr_node_/);
    expect(await s.store.devices.findByCredentialHash(hashToken(credential))).toBeNull();
    expect((await s.store.devices.findByCredentialHash(hashToken(fresh!)))?.id).toBe(device.id);
    expect(await s.store.devices.rotateCredential('dev_missing')).toBeNull();
  });

  it('hands each passing key expiry to the expiry sweep exactly once', async () => {
    const net = await newNetwork(s.store, { settings: { keyExpiryDays: 1 } });
    const user = await newUser(s.store, net.id);
    const make = async (hostname: string) =>
      unwrap(
        await s.store.devices.create({
          networkId: net.id,
          userId: user.id,
          hostname,
          nodeKey: nodeKey(),
        }),
      ).device;
    const a = await make('expires');
    const b = await make('never');
    const c = await make('by-admin');
    await s.store.devices.setKeyExpiryDisabled(b.id, true);
    const mine = (ds: { id: string; networkId: string }[]) =>
      ds.filter((d) => d.networkId === net.id).map((d) => d.id);
    expect(mine(await s.store.devices.claimExpiredKeys(new Date(s.clock.t)))).toEqual([]);
    // An admin expires c now and records it: the sweep must not record it again.
    await s.store.devices.setKeyExpiry(c.id, new Date(s.clock.t), { noted: true });
    const later = new Date(s.clock.t + DAY);
    // Concurrent sweeps (two replicas) split the work; nobody gets a device twice.
    const [x, y] = await Promise.all([
      s.store.devices.claimExpiredKeys(later),
      s.store.devices.claimExpiredKeys(later),
    ]);
    expect([...mine(x), ...mine(y)]).toEqual([a.id]);
    expect(mine(await s.store.devices.claimExpiredKeys(later))).toEqual([]);
    // Signing in again moves the expiry forward; its next passing is recorded again.
    s.clock.advance(DAY);
    unwrap(await s.store.devices.rotateNodeKey(a.id, nodeKey()));
    expect(mine(await s.store.devices.claimExpiredKeys(new Date(s.clock.t)))).toEqual([]);
    expect(mine(await s.store.devices.claimExpiredKeys(new Date(s.clock.t + DAY)))).toEqual([a.id]);
  });

  it('applies the cheap netmap-stream updates and round-trips their JSON', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const d = unwrap(
      await s.store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'h',
        nodeKey: nodeKey(),
      }),
    ).device;
    expect(
      await s.store.devices.updateEndpoints(d.id, ['192.0.2.1:41641', '[2001:db8::1]:41641']),
    ).toBe(true);
    expect(
      await s.store.devices.updateHostInfo(d.id, {
        hostname: 'h2',
        os: 'linux',
        osVersion: '6.1',
        clientVersion: '0.2.0',
        hostInfo: { distro: 'debian', posture: { disk: 'encrypted' } },
      }),
    ).toBe(true);
    expect(
      await s.store.devices.updateRelay(d.id, {
        homeRelayRegion: 2,
        relayLatencies: { '1': 35.5, '2': 12 },
      }),
    ).toBe(true);
    expect(
      await s.store.devices.setAdvertisedRoutes(d.id, ['10.0.0.0/24', '0.0.0.0/0', '::/0']),
    ).toBe(true);
    expect(await s.store.devices.setDiscoKey(d.id, 'discokey:new')).toBe(true);
    s.clock.advance(42);
    expect(await s.store.devices.markSeen(d.id)).toBe(true);
    expect(await s.store.devices.get(d.id)).toMatchObject({
      endpoints: ['192.0.2.1:41641', '[2001:db8::1]:41641'],
      hostname: 'h2',
      name: 'h', // the DNS name does not follow hostname changes
      os: 'linux',
      osVersion: '6.1',
      clientVersion: '0.2.0',
      hostInfo: { distro: 'debian', posture: { disk: 'encrypted' } },
      homeRelayRegion: 2,
      relayLatencies: { '1': 35.5, '2': 12 },
      advertisedRoutes: ['10.0.0.0/24', '0.0.0.0/0', '::/0'],
      discoKey: 'discokey:new',
      lastSeenAt: new Date(s.clock.t),
    });
    const at = new Date(s.clock.t + 5);
    expect(await s.store.devices.markSeen(d.id, at)).toBe(true);
    expect((await s.store.devices.get(d.id))?.lastSeenAt).toEqual(at);
    expect(await s.store.devices.updateEndpoints('dev_missing', [])).toBe(false);
    expect(await s.store.devices.markSeen('dev_missing')).toBe(false);
  });

  it('removes stale ephemeral devices only', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const mk = async (ephemeral: boolean) =>
      unwrap(
        await s.store.devices.create({
          networkId: net.id,
          userId: user.id,
          hostname: 'e',
          nodeKey: nodeKey(),
          ephemeral,
        }),
      ).device;
    const stale = await mk(true);
    const seen = await mk(true);
    const durable = await mk(false);
    s.clock.advance(10 * 60_000);
    await s.store.devices.markSeen(seen.id);
    const removed = await s.store.devices.deleteStaleEphemeral(new Date(s.clock.t - 60_000));
    expect(removed.map((d) => d.id)).toContain(stale.id);
    expect(removed.map((d) => d.id)).not.toContain(seen.id);
    expect((await s.store.devices.list(net.id)).map((d) => d.id).sort()).toEqual(
      [seen.id, durable.id].sort(),
    );
  });
}
