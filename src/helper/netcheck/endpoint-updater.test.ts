import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint, RelayMap } from '../../shared/schema/control/netmap.js';
import type { NetcheckReport } from '../../shared/schema/netcheck.js';
import type { InterfaceAddress } from '../control-client/hostinfo.js';
import { ManualClock } from '../testing/manual-clock.js';
import { waitFor } from '../testing/wait.js';
import { DgramStunTransport } from './dgram-transport.js';
import {
  EndpointUpdater,
  LINK_POLL_INTERVAL_MS,
  RESTUN_INTERVAL_MS,
  RESTUN_JITTER_MS,
  type PortMapSource,
} from './endpoint-updater.js';
import { Netcheck } from './netcheck.js';
import { type Closable, loopbackStunServer, relayMapOf } from './test-support.js';

const cleanups: Closable[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c.close();
});

const eth0 = (address: string): InterfaceAddress => ({
  interfaceName: 'eth0',
  address,
  family: address.includes(':') ? 'IPv6' : 'IPv4',
  cidr: null,
  internal: false,
});

/**
 * An updater on a ManualClock (its schedule is simulated) around a real Netcheck that probes two
 * real STUN servers on loopback (its traffic and timeouts are real).
 */
async function setup(
  options: {
    random?: () => number;
    withNetcheck?: boolean;
    regions?: number;
    portMapper?: PortMapSource;
  } = {},
) {
  const servers = await Promise.all(
    Array.from({ length: options.regions ?? 2 }, () => loopbackStunServer()),
  );
  cleanups.push(...servers);
  const relayMap: RelayMap = relayMapOf(
    servers.map((s, i) => ({ id: i + 1, stun: [{ host: '127.0.0.1', port: s.address().port }] })),
  );
  const transport = await DgramStunTransport.open({ v4: '127.0.0.1', v6: null });
  cleanups.push(transport);
  const netcheck = new Netcheck({
    transport,
    families: () => ({ ipv4: true, ipv6: false }),
    budgetMs: 1500,
  });
  transport.sink = netcheck;
  let runs = 0;
  let finished = 0;
  const counting = {
    run: async (m: RelayMap) => {
      runs += 1;
      const report = await netcheck.run(m);
      finished += 1;
      return report;
    },
  };
  const clock = new ManualClock();
  let interfaces: InterfaceAddress[] = [eth0('192.0.2.10'), eth0('fe80::1')];
  const emitted: { endpoints: Endpoint[]; report: NetcheckReport | null }[] = [];
  const updater = new EndpointUpdater({
    netcheck: options.withNetcheck === false ? null : counting,
    interfaces: () => interfaces,
    localPort: () => transport.port(4),
    meshInterface: 'trellis0',
    ...(options.portMapper ? { portMapper: options.portMapper } : {}),
    onChange: (endpoints, report) => emitted.push({ endpoints, report }),
    clock,
    ...(options.random ? { random: options.random } : {}),
  });
  cleanups.push({ close: () => updater.stop() });
  const port = transport.port(4)!;
  return {
    updater,
    clock,
    relayMap,
    emitted,
    port,
    runs: () => runs,
    finished: () => finished,
    setInterfaces: (list: InterfaceAddress[]) => (interfaces = list),
    last: () => emitted[emitted.length - 1],
  };
}

describe('EndpointUpdater', () => {
  it('emits local endpoints at once, then adds the STUN-reflexive one', async () => {
    const t = await setup();
    t.updater.setRelayMap(t.relayMap);
    t.updater.start();
    expect(t.emitted[0]).toEqual({
      endpoints: [{ addr: `192.0.2.10:${t.port}`, type: 'local' }],
      report: null,
    });
    const withStun = await waitFor(() => t.emitted[1], 'the first netcheck');
    expect(withStun.endpoints).toEqual([
      { addr: `127.0.0.1:${t.port}`, type: 'stun' },
      { addr: `192.0.2.10:${t.port}`, type: 'local' },
    ]);
    expect(withStun.report).toMatchObject({ udp: true, globalV4: `127.0.0.1:${t.port}` });
    expect(t.updater.report).toBe(withStun.report);
    expect(t.runs()).toBe(1);
  });

  it('puts the port mapping first, reports what the gateway speaks, and drops it', async () => {
    let mapped: string | null = null;
    const support = { upnp: false, natPmp: true, pcp: true };
    const t = await setup({
      portMapper: {
        probe: () => {
          mapped = '198.51.100.7:41641';
          return Promise.resolve(support);
        },
        get endpoint() {
          return mapped;
        },
      },
    });
    t.updater.setRelayMap(t.relayMap);
    t.updater.start();
    const first = await waitFor(() => t.emitted[1], 'the first netcheck');
    expect(first.endpoints).toEqual([
      { addr: '198.51.100.7:41641', type: 'portmap' },
      { addr: `127.0.0.1:${t.port}`, type: 'stun' },
      { addr: `192.0.2.10:${t.port}`, type: 'local' },
    ]);
    expect(first.report).toMatchObject({ portMapping: support, portMapped: '198.51.100.7:41641' });
    mapped = null;
    t.updater.candidatesChanged();
    expect(t.last()!.endpoints.map((e) => e.type)).toEqual(['stun', 'local']);
  });

  it('publishes the reflexive address without waiting for a slow port-mapping probe', async () => {
    // A gateway that speaks no port-mapping protocol: the probe ends only at its timeout.
    let answer: (support: { upnp: boolean; natPmp: boolean; pcp: boolean }) => void = () => {};
    const t = await setup({
      portMapper: {
        probe: () => new Promise((resolve) => (answer = resolve)),
        endpoint: null,
      },
    });
    t.updater.setRelayMap(t.relayMap);
    t.updater.start();
    const withStun = await waitFor(() => t.emitted[1], 'the reflexive address');
    expect(withStun.endpoints.map((e) => e.type)).toEqual(['stun', 'local']);
    expect(withStun.report).toMatchObject({ globalV4: `127.0.0.1:${t.port}`, portMapping: null });
    expect(t.emitted).toHaveLength(2);
    // The probe's verdict follows in its own emit; the run ends only then.
    answer({ upnp: false, natPmp: false, pcp: false });
    const final = await waitFor(() => t.emitted[2], 'the port-mapping findings');
    expect(final.report).toMatchObject({
      globalV4: `127.0.0.1:${t.port}`,
      portMapping: { upnp: false, natPmp: false, pcp: false },
    });
    expect(t.updater.report).toBe(final.report);
    expect(t.runs()).toBe(1);
  });

  it('re-STUNs 20–26 s after each run, and emits only when something changed', async () => {
    for (const [random, expected] of [
      [0, RESTUN_INTERVAL_MS],
      [0.9999, RESTUN_INTERVAL_MS + RESTUN_JITTER_MS - 1],
    ] as const) {
      // One region: loopback RTTs jitter by more than the 2/3 hysteresis, so with two the
      // preferred region (a real change) could move between runs.
      const t = await setup({ random: () => random, regions: 1 });
      t.updater.setRelayMap(t.relayMap);
      t.updater.start();
      await waitFor(() => t.updater.report, 'the first netcheck');
      // Two timers: the link poll and the re-STUN.
      expect(t.clock.pending()).toEqual([LINK_POLL_INTERVAL_MS, expected]);
      expect(expected).toBeGreaterThanOrEqual(20_000);
      expect(expected).toBeLessThan(26_000);
      t.clock.advance(expected - 1);
      expect(t.runs()).toBe(1);
      t.clock.advance(1);
      expect(t.runs()).toBe(2);
      await waitFor(() => t.finished() === 2, 'the second netcheck');
      // Same endpoints, same gist of the report: nothing new to tell anyone.
      expect(t.emitted.length).toBe(2);
      expect(t.clock.pending()).toContain(expected);
      t.updater.stop();
    }
  });

  it('runs at once on a link change and reports the new address', async () => {
    const t = await setup({ random: () => 0.5 });
    t.updater.setRelayMap(t.relayMap);
    t.updater.start();
    await waitFor(() => t.emitted.length === 2, 'the first netcheck');
    t.setInterfaces([eth0('192.0.2.10'), eth0('198.51.100.20'), eth0('2001:db8::20')]);
    t.clock.advance(LINK_POLL_INTERVAL_MS - 1);
    expect(t.runs()).toBe(1);
    t.clock.advance(1);
    expect(t.runs()).toBe(2);
    expect(t.last()!.endpoints).toEqual([
      { addr: `127.0.0.1:${t.port}`, type: 'stun' },
      { addr: `192.0.2.10:${t.port}`, type: 'local' },
      { addr: `198.51.100.20:${t.port}`, type: 'local' },
      { addr: `[2001:db8::20]:${t.port}`, type: 'local' },
    ]);
    await waitFor(() => t.finished() === 2, 'the netcheck after the link change');
    // The next re-STUN counts from the end of this run.
    t.clock.advance(LINK_POLL_INTERVAL_MS * 2);
    expect(t.runs()).toBe(2);
  });

  it('runs when the STUN servers in the relay map change, and not otherwise', async () => {
    const t = await setup();
    t.updater.start();
    expect(t.runs()).toBe(0); // no relay map yet: local endpoints only
    expect(t.emitted.length).toBe(1);
    t.updater.setRelayMap(t.relayMap);
    expect(t.runs()).toBe(1);
    await waitFor(() => t.updater.report, 'the netcheck');
    t.updater.setRelayMap(structuredClone(t.relayMap));
    expect(t.runs()).toBe(1);
    t.updater.setRelayMap({ regions: t.relayMap.regions.slice(0, 1) });
    expect(t.runs()).toBe(2);
  });

  it('runs a fresh netcheck on demand, joining one in progress', async () => {
    const t = await setup();
    t.updater.setRelayMap(t.relayMap);
    t.updater.start();
    const joined = await t.updater.runNow();
    expect(t.runs()).toBe(1);
    expect(joined).toBe(t.updater.report);
    const fresh = await t.updater.runNow();
    expect(t.runs()).toBe(2);
    expect(fresh?.udp).toBe(true);
  });

  it('without a netcheck keeps local endpoints current and answers runNow with null', async () => {
    const t = await setup({ withNetcheck: false });
    t.updater.setRelayMap(t.relayMap);
    t.updater.start();
    expect(t.emitted).toEqual([
      { endpoints: [{ addr: `192.0.2.10:${t.port}`, type: 'local' }], report: null },
    ]);
    expect(await t.updater.runNow()).toBeNull();
    t.setInterfaces([eth0('192.0.2.11')]);
    t.clock.advance(LINK_POLL_INTERVAL_MS);
    expect(t.last()!.endpoints).toEqual([{ addr: `192.0.2.11:${t.port}`, type: 'local' }]);
    expect(t.clock.pending()).toEqual([LINK_POLL_INTERVAL_MS]);
  });

  it('stops: no timers left, and a run in flight emits nothing', async () => {
    const t = await setup();
    t.updater.setRelayMap(t.relayMap);
    t.updater.start();
    const inFlight = t.updater.runNow();
    t.updater.stop();
    expect(t.clock.pending()).toEqual([]);
    await inFlight;
    expect(t.emitted.length).toBe(1);
    expect(t.clock.pending()).toEqual([]);
    // A restart emits the current state again (a new control stream needs it).
    t.updater.start();
    expect(t.emitted.length).toBe(2);
  });
});
