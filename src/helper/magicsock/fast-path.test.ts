import { describe, expect, it } from 'vitest';
import type { IpPort } from '../../shared/ip.js';
import { silentLogger } from '../daemon/log.js';
import { ManualClock } from '../testing/manual-clock.js';
import { fastPathRemoveScript } from './fast-path-rules.js';
import {
  FAST_PATH_RETRY_MS,
  FAST_PATH_SILENT_BACKOFF_MS,
  FAST_PATH_SILENT_MS,
  FAST_PATH_TICK_MS,
  FastPath,
  openFastPath,
  type FastPathSystem,
  type FastPathTarget,
  type WireGuardPeerView,
  WIREGUARD_KEEPALIVE_BYTES,
} from './fast-path.js';

const E1: IpPort = { ip: '203.0.113.9', family: 'ipv4', port: 41641 };
const E2: IpPort = { ip: '203.0.113.77', family: 'ipv4', port: 41641 };
const PEER = 'peer-key';
const PROXY = '127.0.0.1:40001';

type Call =
  | {
      readonly op: 'rules';
      readonly in: string[];
      readonly out: string[];
      readonly removed: boolean;
    }
  | { readonly op: 'endpoints'; readonly set: Record<string, string> };

/** The sets' elements of a script, e.g. in4 → ['203.0.113.9 . 41641']. */
function elements(script: string, set: string): string[] {
  const line = script.split('\n').find((l) => l.trim().startsWith(`set ${set} `)) ?? '';
  const m = /elements = \{ ([^}]*) \}/.exec(line);
  return m ? m[1]!.split(', ') : [];
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function setup() {
  const clock = new ManualClock();
  const calls: Call[] = [];
  const wg = new Map<string, WireGuardPeerView>([
    [PEER, { publicKey: PEER, endpoint: PROXY, txBytes: 0, rxBytes: 0 }],
  ]);
  let failRules = false;
  const system: FastPathSystem = {
    applyRules: (script) => {
      if (failRules) return Promise.reject(new Error('nft: no'));
      calls.push({
        op: 'rules',
        in: elements(script, 'in4'),
        out: elements(script, 'out4'),
        removed: script === fastPathRemoveScript(),
      });
      return Promise.resolve();
    },
    setEndpoints: (eps) => {
      calls.push({ op: 'endpoints', set: Object.fromEntries(eps) });
      for (const [k, e] of eps) {
        const p = wg.get(k);
        if (p) wg.set(k, { ...p, endpoint: e });
      }
      return Promise.resolve();
    },
    peers: () => Promise.resolve([...wg.values()]),
  };
  let direct: IpPort | null = null;
  const active: string[] = [];
  const fp = new FastPath({ system, log: silentLogger, clock });
  const targets = (): FastPathTarget[] => [{ nodeKey: PEER, proxyEndpoint: PROXY, direct }];
  fp.attach({ targets, wireGuardActive: (k) => void active.push(k) }, 41641);
  return {
    clock,
    calls,
    wg,
    fp,
    active,
    setDirect: (d: IpPort | null) => void (direct = d),
    failRules: (f: boolean) => void (failRules = f),
    /** Pokes the controller and lets its calls finish. */
    run: async () => {
      fp.poke();
      await settle();
    },
  };
}

describe('FastPath', () => {
  it('does nothing until WireGuard has a port, then takes a trusted direct path', async () => {
    const t = setup();
    t.setDirect(E1);
    await t.run();
    expect(t.calls).toEqual([]);
    expect(t.fp.isOn(PEER)).toBe(false);
    t.fp.setWireGuardPort(51820);
    await settle();
    // Rules first (in and out), then WireGuard's endpoint; nothing more to change after that.
    expect(t.calls).toEqual([
      { op: 'rules', in: ['203.0.113.9 . 41641'], out: ['203.0.113.9 . 41641'], removed: false },
      { op: 'endpoints', set: { [PEER]: '203.0.113.9:41641' } },
    ]);
    expect(t.fp.isOn(PEER)).toBe(true);
    expect(t.fp.counters.fastPathOn).toBe(1);
  });

  it('goes back to the proxy in order: inbound rule, endpoint, outbound rule', async () => {
    const t = setup();
    t.fp.setWireGuardPort(51820);
    t.setDirect(E1);
    await t.run();
    t.calls.length = 0;
    t.setDirect(null); // the path stopped being trusted
    t.clock.advance(FAST_PATH_TICK_MS);
    await settle();
    expect(t.calls).toEqual([
      { op: 'rules', in: [], out: ['203.0.113.9 . 41641'], removed: false },
      { op: 'endpoints', set: { [PEER]: PROXY } },
      { op: 'rules', in: [], out: [], removed: true },
    ]);
    expect(t.fp.isOn(PEER)).toBe(false);
    expect(t.fp.counters.fastPathOff).toBe(1);
  });

  it('moves to a new address without a gap: both outbound while WireGuard switches', async () => {
    const t = setup();
    t.fp.setWireGuardPort(51820);
    t.setDirect(E1);
    await t.run();
    t.calls.length = 0;
    t.setDirect(E2);
    await t.run();
    expect(t.calls).toEqual([
      {
        op: 'rules',
        in: ['203.0.113.77 . 41641'],
        out: ['203.0.113.77 . 41641', '203.0.113.9 . 41641'],
        removed: false,
      },
      { op: 'endpoints', set: { [PEER]: '203.0.113.77:41641' } },
      { op: 'rules', in: ['203.0.113.77 . 41641'], out: ['203.0.113.77 . 41641'], removed: false },
    ]);
  });

  it('points WireGuard back when it roamed to the proxy, and reports its activity', async () => {
    const t = setup();
    t.fp.setWireGuardPort(51820);
    t.setDirect(E1);
    await t.run();
    t.calls.length = 0;
    // A packet the peer sent over the relay came through the proxy: WireGuard adopted it.
    t.wg.set(PEER, { publicKey: PEER, endpoint: PROXY, txBytes: 100, rxBytes: 0 });
    t.clock.advance(FAST_PATH_TICK_MS);
    await settle();
    expect(t.calls).toEqual([{ op: 'endpoints', set: { [PEER]: '203.0.113.9:41641' } }]);
    expect(t.fp.counters.fastPathRepointed).toBe(1);
    // Bytes sent since the last look are activity; no change is none.
    expect(t.active).toEqual([PEER]);
    t.clock.advance(FAST_PATH_TICK_MS);
    await settle();
    expect(t.active).toEqual([PEER]);
    t.wg.set(PEER, { publicKey: PEER, endpoint: '203.0.113.9:41641', txBytes: 250, rxBytes: 0 });
    t.clock.advance(FAST_PATH_TICK_MS);
    await settle();
    expect(t.active).toEqual([PEER, PEER]);
  });

  it('sends a peer that is sent to but never heard from back to the proxy for a while', async () => {
    const t = setup();
    t.fp.setWireGuardPort(51820);
    t.setDirect(E1);
    await t.run();
    const traffic = async (tx: number, rx: number) => {
      t.wg.set(PEER, { publicKey: PEER, endpoint: '203.0.113.9:41641', txBytes: tx, rxBytes: rx });
      t.clock.advance(FAST_PATH_TICK_MS);
      await settle();
    };
    // Both ways: fine for as long as it lasts.
    for (let i = 1; i <= 30; i++) await traffic(i * 100, i * 100);
    expect(t.fp.isOn(PEER)).toBe(true);
    // Idle both ways: fine too (nothing sent, nothing expected), and so are persistent
    // keepalives, which the peer does not answer.
    let tx = 3000;
    for (let i = 0; i < 100; i++) {
      await traffic(i % 25 === 0 ? (tx += WIREGUARD_KEEPALIVE_BYTES) : tx, 3000);
    }
    expect(t.fp.isOn(PEER)).toBe(true);
    // Sending, hearing nothing: off once it lasted FAST_PATH_SILENT_MS.
    const ticks = FAST_PATH_SILENT_MS / FAST_PATH_TICK_MS;
    for (let i = 0; i < ticks - 1; i++) await traffic((tx += 100), 3000);
    expect(t.fp.isOn(PEER)).toBe(true);
    await traffic((tx += 100), 3000);
    await traffic(tx + 100, 3000);
    expect(t.fp.isOn(PEER)).toBe(false);
    expect(t.fp.counters.fastPathSilent).toBe(1);
    expect(t.wg.get(PEER)?.endpoint).toBe(PROXY);
    // It stays on the proxy for the backoff, then is tried again.
    t.clock.advance(FAST_PATH_SILENT_BACKOFF_MS - 5 * FAST_PATH_TICK_MS);
    await settle();
    expect(t.fp.isOn(PEER)).toBe(false);
    t.clock.advance(5 * FAST_PATH_TICK_MS);
    await settle();
    expect(t.fp.isOn(PEER)).toBe(true);
  });

  it('on a failure puts every peer back on its proxy and retries only later', async () => {
    const t = setup();
    t.fp.setWireGuardPort(51820);
    t.setDirect(E1);
    await t.run();
    t.calls.length = 0;
    t.setDirect(E2);
    t.failRules(true);
    await t.run();
    expect(t.fp.counters.fastPathErrors).toBe(1);
    expect(t.fp.isOn(PEER)).toBe(false);
    expect(t.calls).toEqual([{ op: 'endpoints', set: { [PEER]: PROXY } }]);
    t.failRules(false);
    t.calls.length = 0;
    t.clock.advance(FAST_PATH_RETRY_MS - FAST_PATH_TICK_MS);
    await settle();
    expect(t.fp.isOn(PEER)).toBe(false);
    t.clock.advance(FAST_PATH_TICK_MS);
    await settle();
    expect(t.fp.isOn(PEER)).toBe(true);
    expect(t.wg.get(PEER)?.endpoint).toBe('203.0.113.77:41641');
  });

  it('removes its table on close and then stays quiet', async () => {
    const t = setup();
    t.fp.setWireGuardPort(51820);
    t.setDirect(E1);
    await t.run();
    t.calls.length = 0;
    await t.fp.close();
    expect(t.calls).toEqual([{ op: 'rules', in: [], out: [], removed: true }]);
    t.clock.advance(10 * FAST_PATH_TICK_MS);
    await t.run();
    expect(t.calls).toHaveLength(1);
    expect(t.clock.pending()).toEqual([]);
  });
});

describe('openFastPath', () => {
  const base = {
    platform: 'linux',
    backend: 'wireguard-go',
    log: silentLogger,
    clock: new ManualClock(),
  };
  const system = (probeOk: boolean): FastPathSystem & { probes: number } => {
    const s = {
      probes: 0,
      applyRules: () => {
        s.probes++;
        return probeOk ? Promise.resolve() : Promise.reject(new Error('no nftables'));
      },
      setEndpoints: () => Promise.resolve(),
      peers: () => Promise.resolve([]),
    };
    return s;
  };

  it('is on where Linux, wireguard-go and nft allow it (auto and on)', async () => {
    for (const mode of ['auto', 'on'] as const) {
      const s = system(true);
      expect(await openFastPath({ ...base, mode, system: s })).toBeInstanceOf(FastPath);
      expect(s.probes).toBe(1);
    }
  });

  it('is off when asked, and with auto where it cannot work; on then fails', async () => {
    const s = system(true);
    expect(await openFastPath({ ...base, mode: 'off', system: s })).toBeNull();
    expect(s.probes).toBe(0);
    const cases = [
      { platform: 'darwin', backend: 'wireguard-go', probeOk: true },
      { platform: 'linux', backend: 'kernel', probeOk: true },
      { platform: 'linux', backend: 'wireguard-go', probeOk: false },
    ];
    for (const c of cases) {
      const opts = { ...base, ...c, system: system(c.probeOk) };
      expect(await openFastPath({ ...opts, mode: 'auto' })).toBeNull();
      await expect(openFastPath({ ...opts, mode: 'on' })).rejects.toThrow(/fast.path/);
    }
  });
});
