import { afterEach, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../control/relay/standalone.js';
import type { RelayMap } from '../../shared/schema/control/netmap.js';
import { ManualClock } from '../testing/manual-clock.js';
import { waitFor } from '../testing/wait.js';
import { silentLogger } from '../daemon/log.js';
import { FAST_PATH_TICK_MS, FastPath } from './fast-path.js';
import { CROSSING_INIT_HOLD_MS, EARLY_INIT_SETTLE_MS } from './magicsock.js';
import { fastPathRemoveScript } from './fast-path-rules.js';
import { TRUST_DIRECT_PATH_MS, DISCOVERY_INTERVAL_MS } from './peer-paths.js';
import {
  applyNetmap,
  ownEndpoints,
  peerEntry,
  relayMapOf,
  startNode,
  startRelay,
  wgPacket,
  type Node,
} from './test-harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function relay(id: number): Promise<RunningRelay> {
  const r = await startRelay(id);
  cleanups.push(() => r.close());
  return r;
}

async function node(i: number, clock?: ManualClock): Promise<Node> {
  const n = await startNode(i, clock ? { clock } : {});
  cleanups.push(
    () => n.ms.close(),
    () => n.wg.close(),
  );
  return n;
}

/** Gives `a` and `b` each other as peers; returns each side's proxy endpoint for the other. */
async function connect(
  a: Node,
  b: Node,
  relayMap: RelayMap,
  opts: { endpoints?: boolean; homeRegion?: { a: number; b: number } } = {},
): Promise<{ aToB: string; bToA: string }> {
  const withEndpoints = opts.endpoints ?? true;
  a.ms.setOwnEndpoints(ownEndpoints(a));
  b.ms.setOwnEndpoints(ownEndpoints(b));
  const entry = (n: Node, home: number) =>
    peerEntry(n, { ...(withEndpoints ? {} : { endpoints: [] }), homeRegion: home });
  const pa = await applyNetmap(a, [entry(b, opts.homeRegion?.b ?? 1)], relayMap);
  const pb = await applyNetmap(b, [entry(a, opts.homeRegion?.a ?? 1)], relayMap);
  return { aToB: pa.get(b.nodeKey)!, bToA: pb.get(a.nodeKey)! };
}

const pathOf = (from: Node, to: Node) => from.ms.peerStatus(to.nodeKey)?.path;

/** Sends a tagged datagram from `from`'s WireGuard and waits until `to`'s WireGuard has it. */
async function passes(from: Node, to: Node, endpoint: string, tag: number): Promise<void> {
  const has = () => to.wg.received.some((r) => r.packet[16] === tag);
  await waitFor(
    () => {
      if (!has()) from.wg.send(endpoint, wgPacket(tag));
      return has();
    },
    `datagram ${tag} from node ${from.index} to node ${to.index}`,
    5000,
    50,
  );
}

describe('magicsock on loopback with a real relay', () => {
  it('finds the direct path with disco and carries WireGuard both ways through the proxies', async () => {
    const r1 = await relay(1);
    const [a, b] = [await node(1), await node(2)];
    const { aToB, bToA } = await connect(a, b, relayMapOf([{ id: 1, relay: r1 }]));
    await waitFor(() => pathOf(a, b)?.type === 'direct', 'a: direct path to b');
    await waitFor(() => pathOf(b, a)?.type === 'direct', 'b: direct path to a');
    expect(pathOf(a, b)).toEqual({
      type: 'direct',
      fastPath: false,
      endpoint: `127.0.0.1:${b.ms.port}`,
    });
    expect(a.ms.peerStatus(b.nodeKey)?.latencyMs).toBeGreaterThanOrEqual(0);

    await passes(a, b, aToB, 1);
    await passes(b, a, bToA, 2);
    // WireGuard sees each peer at its proxy: the datagram came from b's proxy for a.
    const got = b.wg.received.find((r) => r.packet[16] === 1)!;
    expect(`127.0.0.1:${got.from}`).toBe(bToA);
    expect(a.ms.counters.wgDirectOut).toBeGreaterThan(0);
    expect(b.ms.counters.wgDirectIn).toBeGreaterThan(0);
    expect(a.ms.counters.receiveErrors + b.ms.counters.receiveErrors).toBe(0);

    const ping = await a.ms.ping(b.nodeKey, 2000);
    expect(ping?.path).toEqual({ type: 'direct', endpoint: `127.0.0.1:${b.ms.port}` });
  });

  it('never takes a path through the tunnel’s own routes: such endpoints and disco are ignored', async () => {
    const r1 = await relay(1);
    const map = relayMapOf([{ id: 1, relay: r1 }]);
    const [a, b] = [await node(1), await node(2)];
    a.ms.setOwnEndpoints(ownEndpoints(a));
    b.ms.setOwnEndpoints(ownEndpoints(b));
    // a routes 127.0.0.0/8 into the tunnel (as a device accepting a subnet route that holds the
    // peer's LAN address): b's endpoint there would be reached through the tunnel itself.
    const aToB = (
      await a.ms.setNetmap({
        selfNodeKey: a.nodeKey,
        peers: [peerEntry(b)],
        relayMap: map,
        relayToken: a.token,
        tunnelRoutes: ['127.0.0.0/8', '100.64.0.0/10'],
      })
    ).get(b.nodeKey)!;
    a.ms.wireGuardConfigured(a.wg.port);
    const bToA = (await applyNetmap(b, [peerEntry(a)], map)).get(a.nodeKey)!;
    await passes(a, b, aToB, 11);
    await passes(b, a, bToA, 12);
    await waitFor(() => a.ms.counters.viaTunnelIgnored > 0, 'a ignored b’s endpoint and disco');
    // Long enough for b's pings to reach a and be answered, were they not ignored.
    await new Promise((r) => setTimeout(r, 1500));
    expect(pathOf(a, b)).toEqual({ type: 'relay', region: 1 });
    expect(pathOf(b, a)?.type).not.toBe('direct');
    expect(a.ms.counters.wgDirectOut + a.ms.counters.wgDirectIn).toBe(0);
    expect(a.ms.counters.wgRelayOut).toBeGreaterThan(0);
  });

  it('holds a peer’s packets until WireGuard is configured with that peer', async () => {
    const r1 = await relay(1);
    const map = relayMapOf([{ id: 1, relay: r1 }]);
    const [a, b] = [await node(1), await node(2)];
    const { aToB } = await connect(a, b, map);
    await waitFor(() => pathOf(a, b)?.type === 'direct', 'a: direct path to b');
    // b learns of a third peer c, but its WireGuard is not configured with c yet.
    const c = await node(3);
    const cToB = (await applyNetmap(c, [peerEntry(b)], map)).get(b.nodeKey)!;
    await b.ms.setNetmap({
      selfNodeKey: b.nodeKey,
      peers: [peerEntry(a), peerEntry(c)],
      relayMap: map,
      relayToken: b.token,
    });
    await waitFor(() => pathOf(c, b)?.type === 'direct', 'c: direct path to b');
    c.wg.send(cToB, wgPacket(7));
    await waitFor(() => b.ms.counters.wgDirectIn > 0, 'b got c’s packet');
    await new Promise((r) => setTimeout(r, 100));
    expect(b.wg.received.some((r) => r.packet[16] === 7)).toBe(false);
    b.ms.wireGuardConfigured(b.wg.port);
    await waitFor(() => b.wg.received.some((r) => r.packet[16] === 7), 'held packet delivered');
    await passes(a, b, aToB, 8);
  });

  it('passes a peer’s initiation from before WireGuard knew the peer through the crossing check', async () => {
    const r1 = await relay(1);
    const map = relayMapOf([{ id: 1, relay: r1 }]);
    const b = await node(2);
    // c has the higher node key, so b (lower) is the side that holds a crossing initiation.
    const raw = (n: Node) => Buffer.from(n.nodeKey, 'base64');
    let c = await node(3);
    while (Buffer.compare(raw(b), raw(c)) > 0) c = await node(3);
    const cToB = (await applyNetmap(c, [peerEntry(b)], map)).get(b.nodeKey)!;
    const proxies = await b.ms.setNetmap({
      selfNodeKey: b.nodeKey,
      peers: [peerEntry(c)],
      relayMap: map,
      relayToken: b.token,
    });
    const bToC = proxies.get(c.nodeKey)!;
    await waitFor(() => pathOf(c, b)?.type === 'direct', 'c: direct path to b');
    const message = (type: number, tag: number) => {
      const p = wgPacket(tag);
      p[0] = type;
      return p;
    };
    const got = (tag: number) => b.wg.received.some((r) => r.packet[16] === tag);
    // c initiates while b's WireGuard does not know c yet.
    c.wg.send(cToB, message(1, 30));
    await waitFor(() => b.ms.counters.wgDirectIn > 0, 'b got c’s initiation');
    // b's WireGuard is configured and at once initiates itself (a persistent keepalive does).
    b.ms.wireGuardConfigured(b.wg.port);
    b.wg.send(bToC, message(1, 31));
    await waitFor(() => b.ms.counters.wgCrossingInitHeld === 1, 'b holds c’s early initiation');
    await new Promise((r) => setTimeout(r, EARLY_INIT_SETTLE_MS + 200));
    expect(got(30)).toBe(false);
    // c answers b's initiation: the crossing one is dropped.
    c.wg.send(cToB, message(2, 32));
    await waitFor(() => got(32), 'b got c’s response');
    await new Promise((r) => setTimeout(r, CROSSING_INIT_HOLD_MS + 200));
    expect(got(30)).toBe(false);
  });

  it('relays while no direct path works, then upgrades to direct once it does', async () => {
    const r1 = await relay(1);
    const clock = new ManualClock();
    const [a, b] = [await node(1, clock), await node(2, clock)];
    a.direct = false; // a's UDP is blocked from the start
    const { aToB, bToA } = await connect(a, b, relayMapOf([{ id: 1, relay: r1 }]));
    await passes(a, b, aToB, 1);
    await passes(b, a, bToA, 2);
    expect(b.ms.counters.wgRelayIn).toBeGreaterThan(0);
    expect(a.ms.counters.wgRelayIn).toBeGreaterThan(0);
    await waitFor(() => pathOf(a, b)?.type === 'relay', 'a: relayed path to b');
    expect(pathOf(a, b)).toEqual({ type: 'relay', region: 1 });
    const ping = await a.ms.ping(b.nodeKey, 2000);
    expect(ping?.path).toEqual({ type: 'relay', region: 1 });

    // UDP works again: the next discovery round finds the direct path.
    a.direct = true;
    clock.advance(DISCOVERY_INTERVAL_MS);
    a.wg.send(aToB, wgPacket(3));
    await waitFor(() => pathOf(a, b)?.type === 'direct', 'a: upgraded to direct');
    await waitFor(() => {
      b.wg.send(bToA, wgPacket(4));
      return pathOf(b, a)?.type === 'direct';
    }, 'b: upgraded to direct');
  });

  it('falls back to the relay when a direct path stops answering', async () => {
    const r1 = await relay(1);
    const clock = new ManualClock();
    const [a, b] = [await node(1, clock), await node(2, clock)];
    const { aToB } = await connect(a, b, relayMapOf([{ id: 1, relay: r1 }]));
    await waitFor(() => pathOf(a, b)?.type === 'direct', 'a: direct path to b');
    await passes(a, b, aToB, 1);
    const relayedBefore = b.ms.counters.wgRelayIn;

    b.direct = false; // the path breaks: heartbeats go unanswered
    clock.advance(TRUST_DIRECT_PATH_MS + 1);
    expect(pathOf(a, b)).toEqual({ type: 'relay', region: 1 });
    await passes(a, b, aToB, 2);
    expect(b.ms.counters.wgRelayIn).toBeGreaterThan(relayedBefore);
  });

  it('moves WireGuard onto the fast path once the direct path is trusted, and back when it breaks', async () => {
    const r1 = await relay(1);
    const clock = new ManualClock();
    const endpoints = new Map<string, string>();
    const scripts: string[] = [];
    const fastPath = new FastPath({
      clock,
      log: silentLogger,
      system: {
        applyRules: (script) => {
          scripts.push(script);
          return Promise.resolve();
        },
        setEndpoints: (eps) => {
          for (const [k, e] of eps) endpoints.set(k, e);
          return Promise.resolve();
        },
        peers: () =>
          Promise.resolve(
            [...endpoints].map(([publicKey, endpoint]) => ({
              publicKey,
              endpoint,
              txBytes: 0,
              rxBytes: 0,
            })),
          ),
      },
    });
    const a = await startNode(1, { clock, fastPath });
    const b = await node(2, clock);
    cleanups.push(
      () => a.ms.close(),
      () => a.wg.close(),
    );
    const { aToB } = await connect(a, b, relayMapOf([{ id: 1, relay: r1 }]));
    await waitFor(() => pathOf(a, b)?.type === 'direct', 'a: direct path to b');
    // The pong that made the path trusted moved WireGuard to b's address: rules, then endpoint.
    await waitFor(() => endpoints.get(b.nodeKey) === `127.0.0.1:${b.ms.port}`, 'fast path on');
    expect(fastPath.isOn(b.nodeKey)).toBe(true);
    expect(scripts.at(-1)).toContain(`udp sport set ${a.ms.port} notrack`);

    b.direct = false; // the path breaks: heartbeats go unanswered
    clock.advance(TRUST_DIRECT_PATH_MS + FAST_PATH_TICK_MS);
    await waitFor(() => endpoints.get(b.nodeKey) === aToB, 'fast path off: back to the proxy');
    expect(fastPath.isOn(b.nodeKey)).toBe(false);
    await passes(a, b, aToB, 1); // through the proxy and the relay

    await a.ms.close();
    expect(scripts.at(-1)).toBe(fastPathRemoveScript());
  });

  it('punches through with call-me-maybe when neither side lists the other’s endpoints', async () => {
    const r1 = await relay(1);
    const [a, b] = [await node(1), await node(2)];
    const { aToB } = await connect(a, b, relayMapOf([{ id: 1, relay: r1 }]), {
      endpoints: false,
    });
    await waitFor(() => pathOf(a, b)?.type === 'direct', 'a: direct path via call-me-maybe');
    await waitFor(() => pathOf(b, a)?.type === 'direct', 'b: direct path via call-me-maybe');
    await passes(a, b, aToB, 1);
  });

  it('reaches a peer homed in another region through that region', async () => {
    const [r1, r2] = [await relay(1), await relay(2)];
    const map = relayMapOf([
      { id: 1, relay: r1 },
      { id: 2, relay: r2 },
    ]);
    const [a, b] = [await node(1), await node(2)];
    a.direct = false;
    b.ms.setPreferredRegion(2);
    const { aToB, bToA } = await connect(a, b, map, { homeRegion: { a: 1, b: 2 } });
    await waitFor(() => b.ms.homeRegion === 2, 'b homed in region 2');
    expect(a.ms.homeRegion).toBe(1);
    await passes(a, b, aToB, 1);
    await passes(b, a, bToA, 2);
    // Relays deliver within one region: a had to open region 2 to reach b there.
    expect(a.ms.relayStatus()).toEqual([
      { id: 1, home: true, state: 'connected' },
      { id: 2, home: false, state: 'connected' },
    ]);
  });

  it('resends an unanswered handshake initiation once a fresh netmap shows the peer elsewhere', async () => {
    const [r1, r2, r3] = [await relay(1), await relay(2), await relay(3)];
    const map = relayMapOf([
      { id: 1, relay: r1 },
      { id: 2, relay: r2 },
      { id: 3, relay: r3 },
    ]);
    const [a, b] = [await node(1), await node(2)];
    a.direct = false;
    b.direct = false;
    b.ms.setPreferredRegion(2);
    // Both start from stale (cached) netmaps: a thinks b is homed in 1, b thinks a is in 3.
    const { aToB } = await connect(a, b, map, { homeRegion: { a: 3, b: 1 } });
    await waitFor(() => b.ms.homeRegion === 2, 'b homed in region 2');
    const init = wgPacket(7);
    init[0] = 1; // a handshake initiation
    a.wg.send(aToB, init);
    await waitFor(() => a.ms.counters.wgRelayOut > 0, 'a relayed its initiation');
    // Through region 1, where b is not: lost (WireGuard would retry only after 5 s).
    await new Promise((r) => setTimeout(r, 300));
    expect(b.wg.received).toHaveLength(0);
    // Control's fresh netmap says b is homed in 2: the initiation goes again, there.
    await applyNetmap(a, [peerEntry(b, { homeRegion: 2 })], map);
    await waitFor(() => b.wg.received.some((r) => r.packet[16] === 7), 'b got the initiation');
    expect(a.ms.counters.wgHandshakeResent).toBe(1);
    // Only once per initiation, and never for one that was answered.
    await applyNetmap(a, [peerEntry(b, { homeRegion: 3 })], map);
    expect(a.ms.counters.wgHandshakeResent).toBe(1);
  });

  it('holds back a handshake initiation that crosses ours (lower node key), until ours is answered', async () => {
    const r1 = await relay(1);
    const [a, b] = [await node(1), await node(2)];
    const { aToB, bToA } = await connect(a, b, relayMapOf([{ id: 1, relay: r1 }]));
    await passes(a, b, aToB, 1);
    await passes(b, a, bToA, 2);
    const lowerFirst =
      Buffer.compare(Buffer.from(a.nodeKey, 'base64'), Buffer.from(b.nodeKey, 'base64')) < 0;
    const [lo, hi, loToHi, hiToLo] = lowerFirst ? [a, b, aToB, bToA] : [b, a, bToA, aToB];
    const got = (n: Node, tag: number) => n.wg.received.some((r) => r.packet[16] === tag);
    const message = (type: number, tag: number) => {
      const p = wgPacket(tag);
      p[0] = type;
      return p;
    };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    // lo initiates; hi's own initiation crosses it.
    lo.wg.send(loToHi, message(1, 10));
    await waitFor(() => got(hi, 10), 'hi got lo’s initiation');
    hi.wg.send(hiToLo, message(1, 11));
    await waitFor(() => lo.ms.counters.wgCrossingInitHeld === 1, 'lo holds hi’s initiation');
    await sleep(200);
    expect(got(lo, 11)).toBe(false);
    // hi answers lo's initiation: lo's WireGuard gets the answer, and never the crossing one.
    hi.wg.send(hiToLo, message(2, 12));
    await waitFor(() => got(lo, 12), 'lo got hi’s response');
    await sleep(CROSSING_INIT_HOLD_MS + 200);
    expect(got(lo, 11)).toBe(false);

    // Had lo's initiation been lost (no answer), the held one reaches WireGuard after the hold.
    lo.wg.send(loToHi, message(1, 20));
    await waitFor(() => got(hi, 20), 'hi got lo’s second initiation');
    hi.wg.send(hiToLo, message(1, 21));
    await waitFor(() => lo.ms.counters.wgCrossingInitHeld === 2, 'lo holds again');
    await waitFor(
      () => got(lo, 21),
      'the held initiation after the hold',
      CROSSING_INIT_HOLD_MS + 2000,
    );
    // The higher key never holds: hi took lo's initiations at once.
    expect(hi.ms.counters.wgCrossingInitHeld).toBe(0);
  });

  it('moves home to another region when the home relay goes down, and keeps relaying', async () => {
    const [r1, r2] = [await relay(1), await relay(2)];
    const map = relayMapOf([
      { id: 1, relay: r1 },
      { id: 2, relay: r2 },
    ]);
    const [a, b] = [await node(1), await node(2)];
    a.direct = false;
    const homes: (number | null)[] = [];
    a.ms.on('home-region', (r) => homes.push(r));
    const { aToB, bToA } = await connect(a, b, map);
    await passes(a, b, aToB, 1);
    await passes(b, a, bToA, 2);
    expect(a.ms.homeRegion).toBe(1);

    await r1.close();
    await waitFor(() => a.ms.homeRegion === 2 && b.ms.homeRegion === 2, 'both homed in region 2');
    expect(homes).toEqual([1, 2]);
    // Each side's netmap still says the other is homed in region 1; traffic flows through 2.
    await passes(a, b, aToB, 3);
    await passes(b, a, bToA, 4);
    expect(pathOf(a, b)).toEqual({ type: 'relay', region: 2 });
  });
});
