import { generateRelayTokenKeyPair } from '../../control/relay/token-keys.js';
import { startRelayServer } from '../../control/relay/standalone.js';
import { NetcheckReport } from '../../shared/schema/netcheck.js';
import { type Addr, encodeBindingSuccess, newTransactionId } from '../../shared/stun/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { DgramStunTransport } from './dgram-transport.js';
import { httpLatency, httpProbeUrl } from './http-latency.js';
import { Netcheck, type NetcheckOptions, familiesOf } from './netcheck.js';
import {
  type Closable,
  type RegionSpec,
  loopbackStunServer,
  relayMapOf,
  startResponder,
} from './test-support.js';

const cleanups: Closable[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c.close();
});
function track<T extends Closable>(c: T): T {
  cleanups.push(c);
  return c;
}

const BOTH = () => ({ ipv4: true, ipv6: true });
const V4 = () => ({ ipv4: true, ipv6: false });

/** A Netcheck on its own loopback sockets, as it would sit on magicsock's. */
async function netcheckOn(
  options: Partial<NetcheckOptions> = {},
  bind: { v4?: string | null; v6?: string | null } = { v4: '127.0.0.1', v6: '::1' },
) {
  const transport = track(await DgramStunTransport.open(bind));
  const netcheck = new Netcheck({ transport, families: BOTH, ...options });
  transport.sink = netcheck;
  track({ close: () => netcheck.close() });
  return { netcheck, transport };
}

async function stunServer(host = '127.0.0.1', port = 0) {
  const s = track(await loopbackStunServer(host, port));
  return { host, port: s.address().port };
}

/** A v4 and a v6 server on the same port number, as one dual-stack relay host would have. */
async function dualStackServer(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const v4 = await loopbackStunServer('127.0.0.1', 0);
    try {
      track(await loopbackStunServer('::1', v4.address().port));
      track(v4);
      return v4.address().port;
    } catch (e) {
      await v4.close();
      if (attempt > 10) throw e;
    }
  }
}

describe('Netcheck against our own STUN servers on loopback', () => {
  it('reports UDP, both families, reflexive addresses, latencies and a preferred region', async () => {
    const port1 = await dualStackServer();
    const region2 = await stunServer();
    const { netcheck, transport } = await netcheckOn({
      resolve: async (host) => {
        expect(host).toBe('stun1.test');
        return [
          { address: '127.0.0.1', family: 4 },
          { address: '::1', family: 6 },
        ];
      },
    });
    const regions: RegionSpec[] = [
      { id: 1, stun: [{ host: 'stun1.test', port: port1 }] },
      { id: 2, stun: [region2] },
    ];
    const started = performance.now();
    const report = await netcheck.run(relayMapOf(regions));
    const elapsed = performance.now() - started;

    expect(NetcheckReport.parse(report)).toEqual(report);
    expect(report).toMatchObject({
      udp: true,
      ipv4: true,
      ipv6: true,
      globalV4: `127.0.0.1:${transport.port(4)}`,
      globalV6: `[::1]:${transport.port(6)}`,
      // Two IPv4 servers saw the same mapping (no NAT on loopback).
      mappingVariesByDest: false,
      portMapping: null,
    });
    expect(Object.keys(report.regionLatencies)).toEqual(['1', '2']);
    for (const ms of Object.values(report.regionLatencies)) {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(3000);
    }
    const fastest = Object.entries(report.regionLatencies).sort((a, b) => a[1] - b[1])[0]![0];
    expect(report.preferredRegion).toBe(Number(fastest));
    expect(Math.abs(Date.parse(report.measuredAt) - Date.now())).toBeLessThan(60_000);
    // Everything answered, so the run ended long before its 3 s budget.
    expect(elapsed).toBeLessThan(2000);
    expect(netcheck.report).toBe(report);
  });

  it('says the mapping varies by destination behind a "hard" NAT that maps per server', async () => {
    // Each server sees a different public port for the same local socket: a symmetric NAT.
    const nat = (offset: number) => (from: Addr) => ({
      ...from,
      address: '198.51.100.7',
      port: 1024 + ((from.port + offset) % 60000),
    });
    const a = track(await startResponder({ mapped: nat(1) }));
    const b = track(await startResponder({ mapped: nat(2) }));
    const { netcheck, transport } = await netcheckOn({ families: V4 });
    const report = await netcheck.run(
      relayMapOf([
        { id: 1, stun: [{ host: '127.0.0.1', port: a.port }] },
        { id: 2, stun: [{ host: '127.0.0.1', port: b.port }] },
      ]),
    );
    expect(report.mappingVariesByDest).toBe(true);
    const local = transport.port(4)!;
    const seen = [1, 2].map((o) => `198.51.100.7:${1024 + ((local + o) % 60000)}`);
    // Still reported for hard NAT: it is what the fastest server saw.
    expect(seen).toContain(report.globalV4);
  });

  it('says the mapping does not vary behind an "easy" NAT, and null with a single server', async () => {
    const easy = (from: Addr) => ({ ...from, address: '198.51.100.7', port: from.port + 1 });
    const a = track(await startResponder({ mapped: easy }));
    const b = track(await startResponder({ mapped: easy }));
    const { netcheck, transport } = await netcheckOn({ families: V4 });
    const both = await netcheck.run(
      relayMapOf([
        { id: 1, stun: [{ host: '127.0.0.1', port: a.port }] },
        { id: 2, stun: [{ host: '127.0.0.1', port: b.port }] },
      ]),
    );
    expect(both.mappingVariesByDest).toBe(false);
    expect(both.globalV4).toBe(`198.51.100.7:${transport.port(4)! + 1}`);
    const one = await netcheck.run(
      relayMapOf([{ id: 1, stun: [{ host: '127.0.0.1', port: a.port }] }]),
    );
    expect(one.mappingVariesByDest).toBeNull();
  });

  it('ignores and counts responses with unknown transaction ids', async () => {
    const forging = track(await startResponder({ forgeFirst: true }));
    const { netcheck, transport } = await netcheckOn({ families: V4 });
    const report = await netcheck.run(
      relayMapOf([{ id: 1, stun: [{ host: '127.0.0.1', port: forging.port }] }]),
    );
    // The forged answer (port 9) came first and was not believed.
    expect(report.globalV4).toBe(`127.0.0.1:${transport.port(4)}`);
    expect(netcheck.counters().unknownTransaction).toBeGreaterThanOrEqual(1);

    const before = netcheck.counters();
    const stray = encodeBindingSuccess(newTransactionId(), {
      address: '203.0.113.1',
      port: 1,
      family: 4,
    });
    expect(netcheck.handleStun(stray, { address: '127.0.0.1', port: forging.port })).toBe(false);
    expect(netcheck.handleStun(Uint8Array.of(0, 1, 2), { address: 'x', port: -1 })).toBe(false);
    expect(netcheck.counters()).toEqual({
      unknownTransaction: before.unknownTransaction + 1,
      notAResponse: before.notAResponse + 1,
    });
  });

  it('does not believe an answer with port 0 or an address of the other family', async () => {
    const zero = track(await startResponder({ mapped: (from) => ({ ...from, port: 0 }) }));
    const v6 = track(
      await startResponder({ mapped: () => ({ address: '2001:db8::1', port: 5, family: 6 }) }),
    );
    const { netcheck } = await netcheckOn({ families: V4, budgetMs: 600 });
    const report = await netcheck.run(
      relayMapOf([
        { id: 1, stun: [{ host: '127.0.0.1', port: zero.port }] },
        { id: 2, stun: [{ host: '127.0.0.1', port: v6.port }] },
      ]),
    );
    expect(report).toMatchObject({ udp: false, globalV4: null, globalV6: null });
  });

  it('keeps the preferred region unless another is clearly faster or it stops answering', async () => {
    let delay1 = 0;
    let silent1 = false;
    const r1 = track(await startResponder({ delayMs: () => delay1, silent: () => silent1 }));
    const r2 = track(await startResponder({ delayMs: () => 350 }));
    const { netcheck } = await netcheckOn({ families: V4, budgetMs: 2500 });
    const map = relayMapOf([
      { id: 1, stun: [{ host: '127.0.0.1', port: r1.port }] },
      { id: 2, stun: [{ host: '127.0.0.1', port: r2.port }] },
    ]);
    expect((await netcheck.run(map)).preferredRegion).toBe(1);
    // Region 1 is now slower than region 2 (400 vs 350 ms) but not by enough to move.
    delay1 = 400;
    const near = await netcheck.run(map);
    expect(near.regionLatencies['1']).toBeGreaterThan(near.regionLatencies['2']!);
    expect(near.preferredRegion).toBe(1);
    // Region 2 is now clearly faster (350 < 2/3 × 1200 ms).
    delay1 = 1200;
    expect((await netcheck.run(map)).preferredRegion).toBe(2);
    // A region that stops answering has no latency and cannot be preferred.
    silent1 = true;
    const gone = await netcheck.run(map);
    expect(gone.preferredRegion).toBe(2);
    expect(gone.regionLatencies['1']).toBeUndefined();
  });

  it('moves off a preferred region that stopped answering', async () => {
    const r1 = track(await startResponder({ silent: () => true }));
    const r2 = await stunServer();
    const { netcheck } = await netcheckOn({
      families: V4,
      budgetMs: 800,
      previous: {
        udp: true,
        ipv4: true,
        ipv6: false,
        globalV4: '127.0.0.1:1',
        globalV6: null,
        mappingVariesByDest: null,
        preferredRegion: 1,
        regionLatencies: { '1': 1, '2': 50 },
        portMapping: null,
        measuredAt: new Date().toISOString(),
      },
    });
    const report = await netcheck.run(
      relayMapOf([
        { id: 1, stun: [{ host: '127.0.0.1', port: r1.port }] },
        { id: 2, stun: [r2] },
      ]),
    );
    expect(r1.requests).toBeGreaterThanOrEqual(2); // retransmitted before giving up
    expect(report.preferredRegion).toBe(2);
  });

  it('falls back to HTTP latency to the relays when UDP is blocked', async () => {
    const { publicKey } = generateRelayTokenKeyPair();
    const relays = await Promise.all(
      [1, 2].map(async (regionId) =>
        track(await startRelayServer({ host: '127.0.0.1', port: 0, regionId, publicKey })),
      ),
    );
    const blocked = track(await startResponder({ silent: () => true }));
    const { netcheck } = await netcheckOn({
      families: V4,
      budgetMs: 1500,
      httpFallbackAfterMs: 200,
    });
    const started = performance.now();
    const report = await netcheck.run(
      relayMapOf(
        relays.map((r, i) => ({
          id: i + 1,
          stun: [{ host: '127.0.0.1', port: blocked.port }],
          urls: [r.url],
        })),
      ),
    );
    expect(performance.now() - started).toBeLessThan(1500 + 1000);
    expect(report).toMatchObject({
      udp: false,
      ipv4: false,
      ipv6: false,
      globalV4: null,
      globalV6: null,
      mappingVariesByDest: null,
    });
    expect(Object.keys(report.regionLatencies)).toEqual(['1', '2']);
    expect([1, 2]).toContain(report.preferredRegion);
    expect(NetcheckReport.parse(report)).toEqual(report);
  });

  it('does not probe HTTP when STUN answers', async () => {
    const server = await stunServer();
    const probed: string[] = [];
    const { netcheck } = await netcheckOn({
      families: V4,
      httpFallbackAfterMs: 1000,
      httpLatency: async (url) => {
        probed.push(url);
        return 1;
      },
    });
    const report = await netcheck.run(relayMapOf([{ id: 1, stun: [server] }]));
    expect(report.udp).toBe(true);
    expect(probed).toEqual([]);
  });

  it('finishes at once for a family without a socket, and for an empty relay map', async () => {
    const server = await stunServer();
    const { netcheck } = await netcheckOn({ families: BOTH }, { v4: '127.0.0.1', v6: null });
    const started = performance.now();
    const report = await netcheck.run(
      relayMapOf([{ id: 1, stun: [server, { host: '::1', port: server.port }] }]),
    );
    expect(performance.now() - started).toBeLessThan(2000);
    expect(report).toMatchObject({ udp: true, ipv4: true, ipv6: false, globalV6: null });

    const empty = await netcheck.run({ regions: [] });
    expect(empty).toMatchObject({ udp: false, preferredRegion: null, regionLatencies: {} });
  });

  it('probes a loopback STUN server even when the host has no usable address of its family', async () => {
    const server = await stunServer();
    const { netcheck } = await netcheckOn({ families: () => ({ ipv4: false, ipv6: false }) });
    const report = await netcheck.run(relayMapOf([{ id: 1, stun: [server] }]));
    expect(report).toMatchObject({ udp: true, ipv4: true });
  });

  it('joins a run in progress instead of starting another', async () => {
    const slow = track(await startResponder({ delayMs: () => 100 }));
    const { netcheck } = await netcheckOn({ families: V4 });
    const map = relayMapOf([{ id: 1, stun: [{ host: '127.0.0.1', port: slow.port }] }]);
    const [a, b] = await Promise.all([netcheck.run(map), netcheck.run(map)]);
    expect(a).toBe(b);
    expect(slow.requests).toBe(1);
  });
});

describe('HTTP latency', () => {
  it('maps relay URLs to their health page', () => {
    expect(httpProbeUrl('ws://127.0.0.1:8080/v1/relay')?.href).toBe(
      'http://127.0.0.1:8080/healthz',
    );
    expect(httpProbeUrl('wss://relay.example.com/v1/relay')?.href).toBe(
      'https://relay.example.com/healthz',
    );
    expect(httpProbeUrl('ftp://x/')).toBeNull();
    expect(httpProbeUrl('not a url')).toBeNull();
  });

  it('measures a relay and reports a refused connection as an error', async () => {
    const { publicKey } = generateRelayTokenKeyPair();
    const relay = track(
      await startRelayServer({ host: '127.0.0.1', port: 0, regionId: 1, publicKey }),
    );
    const r = await httpLatency(relay.url, AbortSignal.timeout(5000));
    expect(r.ok && r.value).toBeGreaterThanOrEqual(0);
    expect(r.ok && r.value).toBeLessThan(5000);
    await relay.close();
    const refused = await httpLatency(relay.url, AbortSignal.timeout(5000));
    expect(refused.ok ? 'ok' : refused.error.code).toBe('failed');
    const bad = await httpLatency('nope', AbortSignal.timeout(5000));
    expect(bad.ok ? 'ok' : bad.error.code).toBe('bad-url');
  });
});

describe('familiesOf', () => {
  it('counts only addresses a STUN server could answer', () => {
    const a = (address: string, internal = false) => ({
      interfaceName: 'eth0',
      address,
      family: address.includes(':') ? ('IPv6' as const) : ('IPv4' as const),
      cidr: null,
      internal,
    });
    expect(familiesOf([a('127.0.0.1', true), a('::1', true), a('fe80::1')])).toEqual({
      ipv4: false,
      ipv6: false,
    });
    expect(familiesOf([a('192.0.2.1'), a('fe80::1')])).toEqual({ ipv4: true, ipv6: false });
    expect(familiesOf([a('2001:db8::1')])).toEqual({ ipv4: false, ipv6: true });
  });
});
