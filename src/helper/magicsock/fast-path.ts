/**
 * The direct fast path (Linux): once a peer has a trusted direct path, WireGuard sends to the
 * peer's real ip:port itself and the kernel carries the packets, so Node copies none of them.
 * fast-path-rules.ts makes that traffic leave from and arrive on magicsock's port; this module
 * decides, per peer, when the fast path is on, and switches WireGuard's endpoint for the peer
 * between the peer's address and its loopback proxy (wg-proxy.ts).
 *
 * Every switch takes three steps, so no packet is lost or leaks from WireGuard's own port:
 *   1. rules: inbound only for the new address, outbound for the old and the new one;
 *   2. WireGuard's endpoint: the new address, or the proxy;
 *   3. rules: outbound only for the new address.
 * WireGuard adopts the source of every authenticated packet as the peer's endpoint (roaming):
 * after step 1 no packet of the old address reaches it directly any more, and a packet it gets
 * through the proxy (the peer also sent over the relay) only moves it back to the slow, always
 * working path. Each tick re-reads WireGuard's endpoints and points a roamed fast peer back.
 *
 * Packets on the fast path pass magicsock by, so the tick also feeds WireGuard's own byte
 * counters to peer-paths as activity: that keeps the heartbeats (and so the trust) going. A
 * path that stops being trusted is noticed within a tick and the peer goes back to the proxy,
 * where magicsock sends on the direct path and the relay until the path answers again.
 *
 * All timers run on the Clock and all I/O goes through FastPathSystem, so the state machine is
 * unit-tested on a simulated clock; the lab proves the real rules and WireGuard.
 */
import { ipPortToString, parseIpPort, type IpPort } from '../../shared/ip.js';
import type { Clock } from '../control-client/clock.js';
import type { Logger } from '../daemon/log.js';
import type { Exec } from '../exec.js';
import { NftCommand } from '../os/nft.js';
import { encodeSetRequest, uapiGet, uapiSet } from '../wg/uapi.js';
import {
  fastPathProbeScript,
  fastPathRemoveScript,
  fastPathScript,
  type FastPathRuleEntry,
} from './fast-path-rules.js';

/**
 * How often the controller looks at every peer's path and WireGuard's endpoints: a path that
 * stops being trusted leaves the fast path within this (the proxy noticed it at the next packet),
 * and WireGuard's byte counters stay far finer than the 45 s activity window they feed.
 */
export const FAST_PATH_TICK_MS = 1_000;
/** After a failed nft or WireGuard call, every peer stays on the proxy this long, then retry. */
export const FAST_PATH_RETRY_MS = 30_000;
/**
 * A fast peer WireGuard keeps sending to but hears nothing from for this long is not getting
 * through (a host firewall or a NAT on this machine can drop what magicsock's socket gets):
 * WireGuard itself gives a session up after 15 s of that (keepalive 10 s + rekey 5 s).
 */
export const FAST_PATH_SILENT_MS = 20_000;
/**
 * A WireGuard keepalive's size on the wire (header 16 + tag 16): the one message that expects no
 * answer (only one side of a pair sends persistent keepalives), so it never starts the silence.
 */
export const WIREGUARD_KEEPALIVE_BYTES = 32;
/** Such a peer stays on the proxy this long before the fast path is tried again. */
export const FAST_PATH_SILENT_BACKOFF_MS = 5 * 60_000;

export type FastPathMode = 'on' | 'off' | 'auto';

/** One peer as magicsock sees it. */
export interface FastPathTarget {
  /** The peer's node key (its WireGuard public key, base64). */
  readonly nodeKey: string;
  /** The loopback proxy WireGuard reaches the peer at when not on the fast path. */
  readonly proxyEndpoint: string;
  /** The trusted direct path, when WireGuard may take it itself; null otherwise. */
  readonly direct: IpPort | null;
}

/** What the controller needs of magicsock. */
export interface FastPathHost {
  targets(): readonly FastPathTarget[];
  /** WireGuard sent to this peer on the fast path (packets magicsock never saw). */
  wireGuardActive(nodeKey: string): void;
}

export interface WireGuardPeerView {
  readonly publicKey: string;
  readonly endpoint: string | null;
  readonly txBytes: number;
  readonly rxBytes: number;
}

/** What the controller needs of the OS: nftables and WireGuard's per-peer endpoints. */
export interface FastPathSystem {
  /** Runs an nft script as one transaction. */
  applyRules(script: string): Promise<void>;
  /** Points WireGuard at these endpoints (public key → "ip:port"); unknown peers are skipped. */
  setEndpoints(endpoints: ReadonlyMap<string, string>): Promise<void>;
  /** WireGuard's peers: endpoint and bytes sent. */
  peers(): Promise<readonly WireGuardPeerView[]>;
}

export interface FastPathCounters {
  /** Peers moved onto / off the fast path. */
  fastPathOn: number;
  fastPathOff: number;
  /** WireGuard had roamed away from a fast peer's address and was pointed back. */
  fastPathRepointed: number;
  /** nft or WireGuard calls that failed (every peer then went back to its proxy). */
  fastPathErrors: number;
  /** Fast peers that sent but heard nothing back (FAST_PATH_SILENT_MS) and went back. */
  fastPathSilent: number;
}

export interface FastPathOptions {
  readonly system: FastPathSystem;
  readonly log: Logger;
  readonly clock: Clock;
}

const endpointKey = (text: string | null): string | null => {
  if (text === null) return null;
  const p = parseIpPort(text);
  return p.ok ? ipPortToString(p.value.ip, p.value.port) : text;
};
const addrText = (a: IpPort): string => ipPortToString(a.ip, a.port);

interface PeerTraffic {
  tx: number;
  rx: number;
  /** When WireGuard first sent after it last heard from the peer; null: nothing unanswered. */
  unansweredSince: number | null;
}

interface OnPath {
  readonly addr: IpPort;
  readonly proxyEndpoint: string;
}

export class FastPath {
  readonly counters: FastPathCounters = {
    fastPathOn: 0,
    fastPathOff: 0,
    fastPathRepointed: 0,
    fastPathErrors: 0,
    fastPathSilent: 0,
  };
  private host: FastPathHost | null = null;
  private magicsockPort: number | null = null;
  private wireGuardPort: number | null = null;
  /** Peers on the fast path: rules installed and WireGuard pointed at the address. */
  private readonly current = new Map<string, OnPath>();
  /** The script last applied; null when the table is (believed) absent. */
  private applied: string | null = null;
  private readonly traffic = new Map<string, PeerTraffic>();
  /** Peers whose fast path heard nothing back: on the proxy until then. */
  private readonly silentUntil = new Map<string, number>();
  private suspendedUntil: number | null = null;
  private timer: unknown = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(private readonly opts: FastPathOptions) {}

  /** Checks that the kernel and nft can do it, and removes a crashed predecessor's table. */
  static async probe(system: FastPathSystem): Promise<void> {
    await system.applyRules(fastPathProbeScript());
  }

  /** magicsock is listening on `port`: start looking at its peers. */
  attach(host: FastPathHost, magicsockPort: number): void {
    this.host = host;
    this.magicsockPort = magicsockPort;
    this.schedule();
  }

  /** WireGuard's own port (null: no device). A new port means a new device: rules follow. */
  setWireGuardPort(port: number | null): void {
    if (port === this.wireGuardPort) return;
    this.wireGuardPort = port;
    this.poke();
  }

  /** Something changed (a pong, a peer came or went): look now instead of at the next tick. */
  poke(): void {
    if (this.closed || this.host === null) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** Whether the peer's traffic bypasses magicsock right now. */
  isOn(nodeKey: string): boolean {
    return this.current.has(nodeKey);
  }

  /** Removes the rules (WireGuard's device goes away with the daemon). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.opts.clock.clearTimeout(this.timer);
    await this.running;
    this.current.clear();
    await this.opts.system.applyRules(fastPathRemoveScript());
    this.applied = null;
  }

  private schedule(): void {
    if (this.closed) return;
    this.opts.clock.clearTimeout(this.timer);
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = null;
      this.poke();
      this.schedule();
    }, FAST_PATH_TICK_MS);
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.reconcile();
      } catch (e) {
        await this.fail(e);
      }
    } while (this.again && !this.closed);
  }

  private wanted(): Map<string, FastPathTarget & { direct: IpPort }> {
    const out = new Map<string, FastPathTarget & { direct: IpPort }>();
    const now = this.opts.clock.now();
    if (this.suspendedUntil !== null && now < this.suspendedUntil) return out;
    this.suspendedUntil = null;
    if (this.wireGuardPort === null || this.host === null) return out;
    for (const [k, until] of this.silentUntil) if (now >= until) this.silentUntil.delete(k);
    for (const t of this.host.targets()) {
      if (t.direct && !this.silentUntil.has(t.nodeKey)) {
        out.set(t.nodeKey, { ...t, direct: t.direct });
      }
    }
    return out;
  }

  private async reconcile(): Promise<void> {
    if (this.closed) return;
    const want = this.wanted();
    const changed = new Map<string, string>();
    for (const [k, t] of want) {
      const cur = this.current.get(k);
      if (!cur || addrText(cur.addr) !== addrText(t.direct)) changed.set(k, addrText(t.direct));
    }
    for (const [k, cur] of this.current) {
      if (!want.has(k)) changed.set(k, cur.proxyEndpoint);
    }
    const wantEntries = [...want.values()].map((t) => t.direct);
    if (changed.size > 0) {
      const oldOut = [...this.current.values()].map((c) => c.addr);
      await this.applyRules(wantEntries, [...oldOut, ...wantEntries]);
      await this.opts.system.setEndpoints(changed);
      for (const k of changed.keys()) {
        const t = want.get(k);
        const was = this.current.get(k);
        if (t) {
          this.current.set(k, { addr: t.direct, proxyEndpoint: t.proxyEndpoint });
          this.counters.fastPathOn++;
          this.opts.log.info(
            { peer: k, endpoint: addrText(t.direct) },
            'fast path on: WireGuard sends to the peer directly',
          );
        } else if (was) {
          this.current.delete(k);
          this.traffic.delete(k);
          this.counters.fastPathOff++;
          this.opts.log.info({ peer: k }, 'fast path off: WireGuard goes through magicsock');
        }
      }
    }
    await this.applyRules(wantEntries, wantEntries);
    if (this.current.size > 0) await this.verify();
  }

  /**
   * Re-points WireGuard at fast peers it roamed away from, reports their activity, and sends a
   * peer that only talks and never hears back to the proxy for a while.
   */
  private async verify(): Promise<void> {
    const peers = await this.opts.system.peers();
    const now = this.opts.clock.now();
    const repoint = new Map<string, string>();
    let silent = false;
    for (const p of peers) {
      const cur = this.current.get(p.publicKey);
      if (!cur) continue;
      const want = addrText(cur.addr);
      if (endpointKey(p.endpoint) !== want) repoint.set(p.publicKey, want);
      const t = this.traffic.get(p.publicKey);
      if (!t) {
        this.traffic.set(p.publicKey, { tx: p.txBytes, rx: p.rxBytes, unansweredSince: null });
        continue;
      }
      if (p.txBytes !== t.tx) {
        if (p.txBytes - t.tx > WIREGUARD_KEEPALIVE_BYTES) t.unansweredSince ??= now;
        this.host?.wireGuardActive(p.publicKey);
      }
      if (p.rxBytes !== t.rx) t.unansweredSince = null;
      t.tx = p.txBytes;
      t.rx = p.rxBytes;
      if (t.unansweredSince !== null && now - t.unansweredSince >= FAST_PATH_SILENT_MS) {
        this.counters.fastPathSilent++;
        this.silentUntil.set(p.publicKey, now + FAST_PATH_SILENT_BACKOFF_MS);
        this.opts.log.warn(
          { peer: p.publicKey, endpoint: want, retryInMs: FAST_PATH_SILENT_BACKOFF_MS },
          'fast path: WireGuard hears nothing back from the peer; it goes through magicsock',
        );
        silent = true;
      }
    }
    if (silent) this.again = true; // the next round takes those peers off
    if (repoint.size > 0) {
      this.counters.fastPathRepointed += repoint.size;
      this.opts.log.debug({ peers: [...repoint.keys()] }, 'fast path: WireGuard roamed; back');
      await this.opts.system.setEndpoints(repoint);
    }
  }

  /** Applies the table for these inbound and outbound addresses (nothing when unchanged). */
  private async applyRules(inbound: readonly IpPort[], outbound: readonly IpPort[]): Promise<void> {
    const l = this.wireGuardPort;
    const p = this.magicsockPort;
    const entries = new Map<string, { addr: IpPort; inbound: boolean; outbound: boolean }>();
    const entry = (a: IpPort) => {
      const k = addrText(a);
      const e = entries.get(k) ?? { addr: a, inbound: false, outbound: false };
      entries.set(k, e);
      return e;
    };
    for (const a of inbound) entry(a).inbound = true;
    for (const a of outbound) entry(a).outbound = true;
    const list: FastPathRuleEntry[] = [...entries.values()];
    const script =
      list.length === 0 || l === null || p === null
        ? null
        : fastPathScript({ magicsockPort: p, wireGuardPort: l, entries: list });
    if (script === this.applied) return;
    await this.opts.system.applyRules(script ?? fastPathRemoveScript());
    this.applied = script;
  }

  /** A call failed: every peer back to its proxy (best effort), no fast path for a while. */
  private async fail(e: unknown): Promise<void> {
    this.counters.fastPathErrors++;
    this.opts.log.warn(
      { error: (e as Error).message, retryInMs: FAST_PATH_RETRY_MS },
      'fast path failed; all peers go through magicsock',
    );
    this.suspendedUntil = this.opts.clock.now() + FAST_PATH_RETRY_MS;
    const back = new Map([...this.current].map(([k, c]) => [k, c.proxyEndpoint]));
    this.current.clear();
    this.traffic.clear();
    this.applied = null;
    await this.opts.system.applyRules(fastPathRemoveScript()).catch(() => undefined);
    if (back.size > 0) await this.opts.system.setEndpoints(back).catch(() => undefined);
  }
}

/** The real system: `nft` in our namespace and wireguard-go's UAPI socket. */
export function linuxFastPathSystem(exec: Exec, uapiSocketPath: string): FastPathSystem {
  const nft = new NftCommand(exec);
  return {
    applyRules: (script) => nft.apply(script),
    setEndpoints: async (endpoints) => {
      const request = encodeSetRequest({
        replacePeers: false,
        peers: [...endpoints].map(([publicKey, endpoint]) => ({
          kind: 'update' as const,
          publicKey,
          endpoint,
        })),
      });
      if (!request.ok) throw new Error(`fast path: ${request.error.message}`);
      await uapiSet(uapiSocketPath, request.value);
    },
    peers: async () => (await uapiGet(uapiSocketPath)).peers,
  };
}

/**
 * The fast path for this daemon, or null where it is off: `off`, magicsock off, not Linux, or a
 * WireGuard backend other than wireguard-go; `auto` is also off where nft or the kernel cannot
 * do it (logged), while `on` then throws.
 */
export async function openFastPath(opts: {
  readonly mode: FastPathMode;
  readonly platform: string;
  readonly backend: string;
  readonly system: FastPathSystem;
  readonly log: Logger;
  readonly clock: Clock;
}): Promise<FastPath | null> {
  if (opts.mode === 'off') return null;
  const why =
    opts.platform !== 'linux'
      ? 'it needs Linux (nftables)'
      : opts.backend !== 'wireguard-go'
        ? `it needs the wireguard-go backend, not ${opts.backend}`
        : null;
  if (why === null) {
    try {
      await FastPath.probe(opts.system);
      return new FastPath({ system: opts.system, log: opts.log, clock: opts.clock });
    } catch (e) {
      const message = `the fast path cannot work here: nft said ${(e as Error).message}`;
      if (opts.mode === 'on') throw new Error(message, { cause: e });
      opts.log.info({}, `${message}; WireGuard traffic goes through magicsock`);
      return null;
    }
  }
  if (opts.mode === 'on') throw new Error(`--fast-path on: ${why}`);
  opts.log.info({}, `fast path off: ${why}`);
  return null;
}
