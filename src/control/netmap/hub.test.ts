import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Peer } from '../../shared/schema/control/netmap.js';
import { NetmapHub, type HubOptions } from './hub.js';
import { EnginePolicy } from './engine-policy.js';
import { parseGeoCsv, parsePolicy } from '../policy/index.js';
import {
  CollectingSink,
  deviceFixture,
  discoKeyFixture,
  NETWORK_ID,
  networkFixture,
} from './testing.js';

const relayMap = {
  regions: [
    {
      id: 1,
      code: 'lab',
      name: 'Lab',
      relays: [{ url: 'ws://127.0.0.1:1/v1/relay', stunHost: '127.0.0.1', stunPort: 3478 }],
    },
  ],
};

function makeHub(over: Partial<HubOptions> = {}) {
  let now = Date.parse('2026-06-01T00:00:00.000Z');
  let tokenN = 0;
  const hub = new NetmapHub({
    relayMap: () => relayMap,
    issueRelayToken: async () => ({
      token: `relay-token-${String(++tokenN).padStart(8, '0')}`,
      expiresAt: new Date(now + 3_600_000).toISOString(),
    }),
    clock: () => now,
    schedule: () => {}, // tests flush explicitly
    schedulePresence: null, // presence applies at once unless a test batches it
    ...over,
  });
  hub.setNetwork(NETWORK_ID, networkFixture);
  return { hub, advance: (ms: number) => (now += ms), now: () => now };
}

const hello = () => ({
  type: 'hello' as const,
  version: 1,
  nodeKey: 'x',
  discoKey: discoKeyFixture(),
});
const peerIds = (s: CollectingSink) => (s.netmap?.peers.map((p) => p.id) ?? []).sort();

describe('NetmapHub', () => {
  let env: ReturnType<typeof makeHub>;
  beforeEach(() => {
    env = makeHub();
    for (let i = 1; i <= 4; i++) env.hub.upsertDevice(deviceFixture(i));
  });

  it('sends a full netmap with every other approved device first', async () => {
    const { hub } = env;
    hub.upsertDevice(deviceFixture(5, { approved: false }));
    const s = new CollectingSink();
    await hub.subscribe('dev1', s, hello());
    expect(s.messages[0]?.type).toBe('full');
    expect(peerIds(s)).toEqual(['dev2', 'dev3', 'dev4']);
    expect(s.netmap?.self.id).toBe('dev1');
    expect(s.netmap?.relayToken?.token).toBe('relay-token-00000001');
    expect(s.netmap?.peers[0]?.allowedIPs).toEqual([`100.64.0.3/32`, `fd7a:115c:a1e0::3/128`]);
  });

  it('delivers a live change only to the devices that see it, as a partial patch', async () => {
    const { hub } = env;
    const s1 = new CollectingSink();
    const s2 = new CollectingSink();
    await hub.subscribe('dev1', s1, hello());
    await hub.subscribe('dev2', s2, hello());
    hub.flush();
    const before1 = s1.messages.length;
    const before2 = s2.messages.length;
    hub.patchLive('dev2', { endpoints: [{ addr: '192.0.2.1:41641', type: 'stun' }] });
    hub.flush();
    expect(s2.messages.length).toBe(before2); // not echoed to the device itself
    const d = s1.messages.slice(before1);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({
      type: 'delta',
      patch: { peersPatched: [{ id: 'dev2', endpoints: [{ addr: '192.0.2.1:41641' }] }] },
    });
    expect(
      Object.keys((d[0] as { patch: { peersPatched: object[] } }).patch.peersPatched[0] ?? {}),
    ).toEqual(['id', 'endpoints']);
  });

  it('coalesces changes within one turn into one delta per viewer', async () => {
    const { hub } = env;
    const s1 = new CollectingSink();
    await hub.subscribe('dev1', s1, hello());
    hub.flush();
    const n = s1.messages.length;
    hub.patchLive('dev3', { endpoints: [{ addr: '192.0.2.3:1', type: 'local' }] });
    hub.patchLive('dev3', { homeRelayRegion: 1 });
    hub.patchLive('dev4', { homeRelayRegion: 1 });
    hub.flush();
    expect(s1.messages.length).toBe(n + 1);
    const p3 = s1.netmap?.peers.find((p) => p.id === 'dev3');
    expect(p3?.homeRelayRegion).toBe(1);
    expect(p3?.endpoints).toEqual([{ addr: '192.0.2.3:1', type: 'local' }]);
  });

  it('marks peers online and offline with stream presence', async () => {
    const { hub, advance } = env;
    const s1 = new CollectingSink();
    await hub.subscribe('dev1', s1, hello());
    const s2 = new CollectingSink();
    const sub2 = await hub.subscribe('dev2', s2, hello());
    hub.flush();
    expect(s1.netmap?.peers.find((p) => p.id === 'dev2')?.online).toBe(true);
    expect(s1.netmap?.peers.find((p) => p.id === 'dev2')?.discoKey).not.toBeNull();
    advance(5000);
    if (!('deviceId' in sub2)) throw new Error('subscribe failed');
    hub.unsubscribe(sub2);
    hub.flush();
    const p2 = s1.netmap?.peers.find((p) => p.id === 'dev2');
    expect(p2?.online).toBe(false);
    expect(p2?.lastSeen).toBe('2026-06-01T00:00:05.000Z');
    expect(hub.isOnline('dev2')).toBe(false);
  });

  it('adds newly approved devices and removes deleted ones', async () => {
    const { hub } = env;
    const s1 = new CollectingSink();
    await hub.subscribe('dev1', s1, hello());
    hub.upsertDevice(deviceFixture(9, { approved: false }));
    hub.flush();
    expect(peerIds(s1)).not.toContain('dev9');
    hub.upsertDevice(deviceFixture(9, { approved: true }));
    hub.flush();
    expect(peerIds(s1)).toContain('dev9');
    hub.removeDevice('dev3');
    hub.flush();
    expect(peerIds(s1)).toEqual(['dev2', 'dev4', 'dev9']);
  });

  it('tells a deleted device to sign in again and closes its stream', async () => {
    const { hub } = env;
    const s = new CollectingSink();
    await hub.subscribe('dev2', s, hello());
    hub.removeDevice('dev2');
    expect(s.closed).toEqual({ type: 'reauth', reason: 'device-deleted' });
    expect(s.final).toMatchObject({ type: 'reauth-required', reason: 'device-deleted' });
  });

  it('refuses unknown devices and expired keys', async () => {
    const { hub, now } = env;
    hub.upsertDevice(deviceFixture(7, { keyExpiry: new Date(now() - 1).toISOString() }));
    expect(await hub.subscribe('nope', new CollectingSink(), hello())).toEqual({
      code: 'unknown_device',
    });
    expect(await hub.subscribe('dev7', new CollectingSink(), hello())).toEqual({
      code: 'key_expired',
    });
  });

  it('closes a stream whose key expires, and refreshes relay tokens before they lapse', async () => {
    const { hub, advance, now } = env;
    hub.upsertDevice(
      deviceFixture(8, { keyExpiry: new Date(now() + 2 * 3_600_000).toISOString() }),
    );
    const s8 = new CollectingSink();
    const s1 = new CollectingSink();
    await hub.subscribe('dev8', s8, hello());
    await hub.subscribe('dev1', s1, hello());
    hub.flush();
    advance(50 * 60_000); // 50 of 60 minutes: inside the refresh margin
    await hub.sweep();
    hub.flush();
    expect(s1.netmap?.relayToken?.token).not.toBe('relay-token-00000002');
    advance(2 * 3_600_000);
    await hub.sweep();
    expect(s8.closed).toEqual({ type: 'reauth', reason: 'key-expired' });
  });

  it('replaces an older stream of the same device', async () => {
    const { hub } = env;
    const a = new CollectingSink();
    const b = new CollectingSink();
    await hub.subscribe('dev1', a, hello());
    await hub.subscribe('dev1', b, hello());
    expect(a.closed).toEqual({ type: 'replaced' });
    expect(b.messages[0]?.type).toBe('full');
    expect(hub.isOnline('dev1')).toBe(true);
  });

  it('resumes a dropped stream with one delta naming only what changed', async () => {
    const { hub } = env;
    const s = new CollectingSink();
    const sub = await hub.subscribe('dev1', s, hello());
    if (!('deviceId' in sub)) throw new Error('subscribe failed');
    hub.patchLive('dev2', { homeRelayRegion: 1 });
    hub.flush();
    hub.unsubscribe(sub);
    hub.patchLive('dev3', { endpoints: [{ addr: '198.51.100.7:9', type: 'stun' }] });
    hub.removeDevice('dev4');
    hub.flush();

    const again = new CollectingSink();
    again.netmap = s.netmap;
    again.lastSeq = s.lastSeq;
    await hub.subscribe('dev1', again, {
      ...hello(),
      resume: { token: s.resumeToken, seq: s.lastSeq },
    });
    expect(again.messages[0]?.type).toBe('delta');
    const patch = again.messages[0]?.type === 'delta' ? again.messages[0].patch : {};
    expect(patch.peersAdded?.map((p: Peer) => p.id)).toEqual(['dev3']);
    expect(patch.peersRemoved).toEqual(['dev4']);
    expect(again.netmap?.peers.find((p) => p.id === 'dev3')?.endpoints).toEqual([
      { addr: '198.51.100.7:9', type: 'stun' },
    ]);
    expect(hub.stats.resumes).toBe(1);
  });

  it('resumes a stream that was itself resumed (the token carries over)', async () => {
    const { hub } = env;
    let sink = new CollectingSink();
    let sub = await hub.subscribe('dev1', sink, hello());
    for (let round = 0; round < 3; round++) {
      if (!('deviceId' in sub)) throw new Error('subscribe failed');
      hub.unsubscribe(sub);
      hub.patchLive('dev2', { homeRelayRegion: round + 1 });
      hub.flush();
      const next = new CollectingSink();
      next.netmap = sink.netmap;
      next.lastSeq = sink.lastSeq;
      next.resumeToken = sink.resumeToken;
      sub = await hub.subscribe('dev1', next, {
        ...hello(),
        resume: { token: sink.resumeToken, seq: sink.lastSeq },
      });
      expect(next.messages[0]?.type).toBe('delta');
      expect(next.netmap?.peers.find((p) => p.id === 'dev2')?.homeRelayRegion).toBe(round + 1);
      sink = next;
    }
    expect(hub.stats.resumes).toBe(3);
  });

  it('falls back to a full map for an unknown resume token or sequence', async () => {
    const { hub } = env;
    const s = new CollectingSink();
    const sub = await hub.subscribe('dev1', s, hello());
    if (!('deviceId' in sub)) throw new Error('subscribe failed');
    hub.unsubscribe(sub);
    const a = new CollectingSink();
    await hub.subscribe('dev1', a, {
      ...hello(),
      resume: { token: 'forged.token', seq: s.lastSeq },
    });
    expect(a.messages[0]?.type).toBe('full');
    const b = new CollectingSink();
    await hub.subscribe('dev1', b, { ...hello(), resume: { token: a.resumeToken, seq: 999 } });
    expect(b.messages[0]?.type).toBe('full');
  });

  it('serializes an identical delta once for every viewer', async () => {
    const { hub } = env;
    const sinks = await Promise.all(
      ['dev1', 'dev2', 'dev3'].map(async (id) => {
        const s = new CollectingSink();
        await hub.subscribe(id, s, hello());
        return s;
      }),
    );
    hub.flush();
    const texts: string[] = [];
    for (const s of sinks) {
      const orig = s.sendText.bind(s);
      s.sendText = (t) => {
        texts.push(t.replace(/"seq":\d+/, ''));
        orig(t);
      };
    }
    hub.patchLive('dev4', { homeRelayRegion: 1 });
    hub.flush();
    expect(texts).toHaveLength(3);
    expect(new Set(texts).size).toBe(1);
  });
});

describe('NetmapHub presence batching', () => {
  it('sends each viewer one delta for a burst of connects, serialized once', async () => {
    let runPresence: (() => void) | null = null;
    const { hub } = makeHub({ schedulePresence: (fn) => (runPresence = fn) });
    for (let i = 1; i <= 6; i++) hub.upsertDevice(deviceFixture(i));
    const watchers = [new CollectingSink(), new CollectingSink()];
    await hub.subscribe('dev1', watchers[0]!, hello());
    await hub.subscribe('dev2', watchers[1]!, hello());
    runPresence!();
    hub.flush();
    const texts: string[] = [];
    for (const w of watchers) {
      const orig = w.sendText.bind(w);
      w.sendText = (t) => {
        texts.push(t.replace(/"seq":\d+/, ''));
        orig(t);
      };
    }
    for (const id of ['dev3', 'dev4', 'dev5'])
      await hub.subscribe(id, new CollectingSink(), hello());
    hub.flush();
    expect(texts).toHaveLength(0); // nothing until the batch window closes
    runPresence!();
    hub.flush();
    expect(texts).toHaveLength(2);
    expect(texts[0]).toBe(texts[1]);
    for (const w of watchers) {
      const online = w.netmap?.peers
        .filter((p) => p.online)
        .map((p) => p.id)
        .sort();
      expect(online).toEqual(expect.arrayContaining(['dev3', 'dev4', 'dev5']));
    }
  });
});

/**
 * Model check: after any sequence of changes, every live client's netmap — built from its full
 * map plus the deltas it received — equals the netmap a fresh subscription would get now.
 */
describe.each([
  ['allow-all policy', () => undefined],
  ['policy engine', () => new EnginePolicy()],
])('NetmapHub delta model with %s', (_name, makePolicy) => {
  const op = fc.oneof(
    fc.record({
      t: fc.constant('live' as const),
      dev: fc.integer({ min: 1, max: 6 }),
      region: fc.integer({ min: 1, max: 3 }),
    }),
    fc.record({
      t: fc.constant('endpoints' as const),
      dev: fc.integer({ min: 1, max: 6 }),
      port: fc.integer({ min: 1, max: 65535 }),
    }),
    fc.record({
      t: fc.constant('upsert' as const),
      dev: fc.integer({ min: 1, max: 8 }),
      approved: fc.boolean(),
      rename: fc.boolean(),
    }),
    fc.record({ t: fc.constant('remove' as const), dev: fc.integer({ min: 5, max: 8 }) }),
    fc.record({ t: fc.constant('disconnect' as const), dev: fc.integer({ min: 1, max: 3 }) }),
    fc.record({
      t: fc.constant('reconnect' as const),
      dev: fc.integer({ min: 1, max: 3 }),
      resume: fc.boolean(),
    }),
    fc.record({ t: fc.constant('flush' as const) }),
  );

  it('keeps every client netmap equal to a fresh one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const policy = makePolicy();
        const { hub } = makeHub(policy ? { policy } : {});
        for (let i = 1; i <= 6; i++) hub.upsertDevice(deviceFixture(i));
        const sinks = new Map<number, CollectingSink>();
        const subs = new Map<number, Awaited<ReturnType<typeof hub.subscribe>>>();
        for (const i of [1, 2, 3]) {
          const s = new CollectingSink();
          sinks.set(i, s);
          subs.set(i, await hub.subscribe(`dev${i}`, s, hello()));
        }
        for (const o of ops) {
          switch (o.t) {
            case 'live':
              hub.patchLive(`dev${o.dev}`, { homeRelayRegion: o.region });
              break;
            case 'endpoints':
              hub.patchLive(`dev${o.dev}`, {
                endpoints: [{ addr: `192.0.2.${o.dev}:${o.port}`, type: 'stun' }],
              });
              break;
            case 'upsert': {
              const cur = hub.getDevice(`dev${o.dev}`) ?? deviceFixture(o.dev);
              hub.upsertDevice({
                ...cur,
                approved: o.dev <= 3 ? true : o.approved,
                name: o.rename ? `${cur.name}x`.slice(0, 60) : cur.name,
              });
              break;
            }
            case 'remove':
              hub.removeDevice(`dev${o.dev}`);
              break;
            case 'disconnect': {
              const sub = subs.get(o.dev);
              if (sub && 'deviceId' in sub && !sub.closed) hub.unsubscribe(sub);
              break;
            }
            case 'reconnect': {
              const old = sinks.get(o.dev);
              const sub = subs.get(o.dev);
              if (sub && 'deviceId' in sub && !sub.closed) break;
              hub.flush();
              const s = new CollectingSink();
              if (o.resume && old?.netmap) {
                s.netmap = old.netmap;
                s.lastSeq = old.lastSeq;
                s.resumeToken = old.resumeToken;
              }
              const r = await hub.subscribe(`dev${o.dev}`, s, {
                ...hello(),
                ...(o.resume && old
                  ? { resume: { token: old.resumeToken, seq: old.lastSeq } }
                  : {}),
              });
              sinks.set(o.dev, s);
              subs.set(o.dev, r);
              break;
            }
            case 'flush':
              hub.flush();
              break;
          }
        }
        hub.flush();
        for (const [i, s] of sinks) {
          const sub = subs.get(i);
          if (!sub || !('deviceId' in sub) || sub.closed) continue;
          const fresh = new CollectingSink();
          const probe = makeHubSnapshot(hub, `dev${i}`, fresh);
          await probe;
          const norm = (peers: Peer[] | undefined) =>
            [...(peers ?? [])]
              .sort((a, b) => a.id.localeCompare(b.id))
              .map((p) => ({ ...p, online: undefined, lastSeen: undefined }));
          expect(norm(s.netmap?.peers)).toEqual(norm(fresh.netmap?.peers));
          expect(s.netmap?.self).toEqual(fresh.netmap?.self);
        }
      }),
      { numRuns: 150 },
    );
  });
});

/** A fresh full map for `id` from the hub's current state, without disturbing the live stream. */
async function makeHubSnapshot(hub: NetmapHub, id: string, sink: CollectingSink): Promise<void> {
  const d = hub.getDevice(id);
  if (!d) return;
  const { hub: twin } = makeHub({ policy: new EnginePolicy() });
  for (const dev of hub.devices(NETWORK_ID)) twin.upsertDevice(dev);
  await twin.subscribe(id, sink, hello());
}

describe('NetmapHub with the policy engine', () => {
  const restrictive = `{
    // Engineers may reach servers on SSH; nothing else is allowed.
    groups: { "group:eng": ["ada@example.com"] },
    tagOwners: { "tag:server": ["group:eng"] },
    acls: [{ action: "accept", src: ["group:eng"], dst: ["tag:server:22"], proto: "tcp" }],
  }`;
  const server = (n: number) =>
    deviceFixture(n, { owner: { type: 'tagged', tags: ['tag:server'] }, ownerRole: null });

  it('shows only the peers policy allows, filters inbound to tcp/22, and applies a new policy as deltas', async () => {
    const policy = new EnginePolicy();
    const { hub } = makeHub({ policy });
    const parsed = parsePolicy(restrictive);
    if (!parsed.ok) throw new Error(parsed.error[0]?.message);
    hub.applyPolicyChange(NETWORK_ID, policy.setPolicy(NETWORK_ID, parsed.value));
    for (const i of [1, 2]) hub.upsertDevice(deviceFixture(i));
    for (const i of [4, 5]) hub.upsertDevice(server(i));
    const s1 = new CollectingSink();
    const s4 = new CollectingSink();
    await hub.subscribe('dev1', s1, hello());
    await hub.subscribe('dev4', s4, hello());
    hub.flush();
    expect(peerIds(s1)).toEqual(['dev4', 'dev5']); // not dev2: engineers don't reach each other
    expect(peerIds(s4)).toEqual(['dev1', 'dev2']); // servers see who may reach them
    const f = s4.netmap?.packetFilter ?? [];
    expect(f).toHaveLength(1);
    expect(f[0]?.protos).toEqual(['tcp']);
    expect(f[0]?.dsts.every((d) => d.ports.first === 22 && d.ports.last === 22)).toBe(true);
    expect(f[0]?.srcs).toEqual(expect.arrayContaining(['100.64.0.2/32', '100.64.0.3/32']));
    expect(s1.netmap?.packetFilter).toEqual([]); // nothing may reach an engineer's laptop

    const before = s1.messages.length;
    const allowAll = parsePolicy('{ acls: [{ action: "accept", src: ["*"], dst: ["*:*"] }] }');
    if (!allowAll.ok) throw new Error(allowAll.error[0]?.message);
    hub.applyPolicyChange(NETWORK_ID, policy.setPolicy(NETWORK_ID, allowAll.value));
    hub.flush();
    expect(s1.messages.slice(before).every((m) => m.type === 'delta')).toBe(true);
    expect(peerIds(s1)).toEqual(['dev2', 'dev4', 'dev5']);
    expect(s4.netmap?.packetFilter[0]?.protos).toEqual(['any']);
  });

  it('sends nothing to a device whose view and filter a new policy leaves as they were', async () => {
    const policy = new EnginePolicy();
    const { hub } = makeHub({ policy });
    for (const i of [1, 2]) hub.upsertDevice(deviceFixture(i));
    const s1 = new CollectingSink();
    await hub.subscribe('dev1', s1, hello());
    hub.flush();
    const before = s1.messages.length;
    // Different rules, same outcome for these devices: everyone still reaches every member.
    const same = parsePolicy(
      '{ acls: [{ action: "accept", src: ["*"], dst: ["autogroup:member:*"] }] }',
    );
    if (!same.ok) throw new Error(same.error[0]?.message);
    hub.applyPolicyChange(NETWORK_ID, policy.setPolicy(NETWORK_ID, same.value));
    hub.flush();
    expect(s1.messages.length).toBe(before);
    // A real change still goes out.
    const narrower = parsePolicy(
      '{ acls: [{ action: "accept", src: ["*"], dst: ["autogroup:member:22"] }] }',
    );
    if (!narrower.ok) throw new Error(narrower.error[0]?.message);
    hub.applyPolicyChange(NETWORK_ID, policy.setPolicy(NETWORK_ID, narrower.value));
    hub.flush();
    expect(s1.messages.length).toBe(before + 1);
    expect(s1.netmap?.packetFilter[0]?.dsts.every((d) => d.ports.first === 22)).toBe(true);
  });

  it('drops a device from views when its owner loses the group that granted access', async () => {
    const policy = new EnginePolicy();
    const { hub } = makeHub({ policy });
    const parsed = parsePolicy(
      '{ groups: { "group:ops": [] }, tagOwners: { "tag:server": [] }, acls: [{ action: "accept", src: ["group:ops"], dst: ["tag:server:*"] }] }',
    );
    if (!parsed.ok) throw new Error(parsed.error[0]?.message);
    hub.applyPolicyChange(NETWORK_ID, policy.setPolicy(NETWORK_ID, parsed.value));
    hub.upsertDevice(deviceFixture(1, { ownerGroups: ['ops'] }));
    hub.upsertDevice(server(4));
    const s4 = new CollectingSink();
    await hub.subscribe('dev4', s4, hello());
    hub.flush();
    expect(peerIds(s4)).toEqual(['dev1']);
    hub.upsertDevice(deviceFixture(1, { ownerGroups: [] })); // the IdP no longer says "ops"
    hub.flush();
    expect(peerIds(s4)).toEqual([]);
    expect(s4.netmap?.packetFilter).toEqual([]);
  });
});

describe('NetmapHub geolocation', () => {
  it("re-evaluates a device's posture and views when its public address changes country", async () => {
    const geo = parseGeoCsv('192.0.2.0/24,DE\n203.0.113.0/24,RU\n');
    if (!geo.ok) throw new Error(geo.error.message);
    const policy = new EnginePolicy(geo.value);
    const { hub } = makeHub({ policy });
    const parsed = parsePolicy(`{
      postures: { "posture:eu": [{ kind: "geolocation", action: "allow", countries: ["DE"] }] },
      acls: [{ action: "accept", src: ["*"], dst: ["*:*"], srcPosture: ["posture:eu"] }],
    }`);
    if (!parsed.ok) throw new Error(parsed.error[0]?.message);
    hub.applyPolicyChange(NETWORK_ID, policy.setPolicy(NETWORK_ID, parsed.value));
    const hostInfo = {
      hostname: 'h',
      os: 'linux' as const,
      osVersion: '12',
      clientVersion: '1.0.0',
      posture: { runningProcesses: [], localNetworks: [] },
      advertisedRoutes: [],
      advertiseExitNode: false,
    };
    const at = (ip: string) => [{ addr: `${ip}:41641`, type: 'stun' as const }];
    hub.upsertDevice(deviceFixture(1, { hostInfo, endpoints: at('192.0.2.5') }));
    hub.upsertDevice(deviceFixture(2, { hostInfo }));
    const s1 = new CollectingSink();
    const s2 = new CollectingSink();
    await hub.subscribe('dev1', s1, hello());
    await hub.subscribe('dev2', s2, hello());
    hub.flush();
    expect(peerIds(s1)).toEqual(['dev2']);
    expect(peerIds(s2)).toEqual(['dev1']);
    expect(s1.netmap?.self.posture).toEqual([
      expect.objectContaining({ kind: 'geolocation', passed: true }),
    ]);

    hub.patchLive('dev1', { endpoints: at('203.0.113.9') }); // roamed to a blocked country
    hub.flush();
    expect(peerIds(s1)).toEqual([]);
    expect(peerIds(s2)).toEqual([]);
    const [check] = s1.netmap?.self.posture ?? [];
    expect(check).toMatchObject({ kind: 'geolocation', passed: false });
    expect(check?.reason).toContain('RU');

    // An endpoint change that keeps the public address is a cheap live patch as before.
    const before = s2.messages.length;
    hub.patchLive('dev1', {
      endpoints: [...at('203.0.113.9'), { addr: '10.0.0.5:41641', type: 'local' }],
    });
    hub.flush();
    expect(s2.messages.length).toBe(before);
  });
});

describe('NetmapHub primary routers', () => {
  const PREFIX = '10.9.0.0/16';
  const router = (n: number, over: Parameters<typeof deviceFixture>[1] = {}) =>
    deviceFixture(n, { routes: { advertised: [PREFIX], approved: [PREFIX] }, ...over });

  async function setup() {
    const env = makeHub();
    const { hub, advance } = env;
    hub.upsertDevice(deviceFixture(1));
    hub.upsertDevice(router(2));
    hub.upsertDevice(router(3));
    const r2 = await hub.subscribe('dev2', new CollectingSink(), hello());
    advance(1000);
    const r3 = await hub.subscribe('dev3', new CollectingSink(), hello());
    const s1 = new CollectingSink();
    await hub.subscribe('dev1', s1, hello());
    hub.flush();
    const peer = (id: string) => s1.netmap?.peers.find((p) => p.id === id);
    return { ...env, s1, peer, r2, r3 };
  }

  it('routes a shared prefix through one router, and fails over within one delta', async () => {
    const { hub, s1, peer, r2 } = await setup();
    // dev2 has been online longest: it is primary; dev3 offers the prefix as a standby.
    expect(peer('dev2')?.allowedIPs).toContain(PREFIX);
    expect(peer('dev2')?.primaryRoutes).toEqual([PREFIX]);
    expect(peer('dev3')?.allowedIPs).not.toContain(PREFIX);
    expect(peer('dev3')?.routesOffered).toEqual([PREFIX]);
    expect(peer('dev3')?.primaryRoutes).toEqual([]);

    const before = s1.messages.length;
    if (!('deviceId' in r2)) throw new Error('subscribe failed');
    hub.unsubscribe(r2);
    hub.flush();
    expect(s1.messages.length).toBe(before + 1);
    expect(s1.messages.at(-1)?.type).toBe('delta');
    expect(peer('dev2')?.online).toBe(false);
    expect(peer('dev2')?.allowedIPs).not.toContain(PREFIX);
    expect(peer('dev3')?.allowedIPs).toContain(PREFIX);
    expect(peer('dev3')?.primaryRoutes).toEqual([PREFIX]);
    expect(hub.primaryRoutesOf('dev3')).toEqual([PREFIX]);

    // The old primary comes back: the prefix stays where it is (no flapping).
    await hub.subscribe('dev2', new CollectingSink(), hello());
    hub.flush();
    expect(peer('dev2')?.online).toBe(true);
    expect(peer('dev2')?.primaryRoutes).toEqual([]);
    expect(peer('dev3')?.primaryRoutes).toEqual([PREFIX]);

    // The new primary is deleted: the prefix moves back.
    hub.removeDevice('dev3');
    hub.flush();
    expect(peer('dev3')).toBeUndefined();
    expect(peer('dev2')?.allowedIPs).toContain(PREFIX);
  });

  it('hands the prefix over when the primary is unapproved or its route withdrawn', async () => {
    const { hub, peer } = await setup();
    hub.upsertDevice(router(2, { approved: false }));
    hub.flush();
    expect(peer('dev2')).toBeUndefined();
    expect(peer('dev3')?.primaryRoutes).toEqual([PREFIX]);
    hub.upsertDevice(router(2));
    hub.flush();
    expect(peer('dev2')?.primaryRoutes).toEqual([]);
    hub.upsertDevice(router(3, { routes: { advertised: [], approved: [] } }));
    hub.flush();
    expect(peer('dev3')?.routesOffered).toEqual([]);
    expect(peer('dev2')?.primaryRoutes).toEqual([PREFIX]);
  });

  it('keeps the prefix on the last primary while no router is online', async () => {
    const { hub, peer, r2, r3 } = await setup();
    if (!('deviceId' in r2) || !('deviceId' in r3)) throw new Error('setup failed');
    hub.unsubscribe(r2); // dev3 takes over
    hub.flush();
    hub.unsubscribe(r3); // and goes offline too: nobody online routes the prefix
    hub.flush();
    expect(peer('dev2')?.online).toBe(false);
    expect(peer('dev3')?.online).toBe(false);
    expect(peer('dev3')?.primaryRoutes).toEqual([PREFIX]);
    expect(peer('dev2')?.primaryRoutes).toEqual([]);
    // The first router back online takes it.
    await hub.subscribe('dev2', new CollectingSink(), hello());
    hub.flush();
    expect(peer('dev2')?.primaryRoutes).toEqual([PREFIX]);
    expect(peer('dev3')?.allowedIPs).not.toContain(PREFIX);
  });
});
