/**
 * magicsock: the helper's UDP socket (one per address family, on the magicsock port) carrying
 * STUN, disco and WireGuard, plus the relay, joined into one path per peer.
 *
 *   wireguard-go ⇄ per-peer loopback proxy (wg-proxy.ts) ⇄ magicsock ⇄ direct UDP or relay ⇄ peer
 *
 * Receive path, by the first bytes of each datagram: WireGuard (type 1–4, three zero bytes) is
 * accepted only from addresses a peer proved with disco and goes to that peer's proxy; disco is
 * opened with our disco key (strangers and bad seals dropped and counted); STUN goes to the
 * registered sink (netcheck). Relay payloads are attributed by the relay's sender node key.
 * Nothing a peer sends can throw out of here: every handler is guarded and counts what it drops.
 *
 * Path choice per peer lives in peer-paths.ts; relay regions in ../relay/manager.ts.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import {
  isDisco,
  MAX_CALL_ME_MAYBE_ENDPOINTS,
  openDisco,
  sealDisco,
  type DiscoMessage,
} from '../../shared/disco/index.js';
import {
  contains,
  ipPortToString,
  parseCidr,
  parseIp,
  parseIpPort,
  type IpPort,
  type IpPrefix,
} from '../../shared/ip.js';
import {
  generateKeyPair,
  keyFromBase64,
  keysEqual,
  keyToBase64,
  keyToHex,
  type KeyPair,
} from '../../shared/keys.js';
import { isStun } from '../../shared/stun/index.js';
import type { Endpoint, Peer, RelayMap } from '../../shared/schema/control/netmap.js';
import type { NetcheckReport } from '../../shared/schema/netcheck.js';
import { systemClock, type Clock } from '../control-client/clock.js';
import type { Logger } from '../daemon/log.js';
import type { PeerPathStatus } from '../engine/status.js';
import { RelayManager, type RelayConnection, type RegionStatus } from '../relay/manager.js';
import type { RelayClientOptions } from '../relay/client.js';
import { PeerPaths, type PathRef, type PeerPathsDelegate } from './peer-paths.js';
import { newCounters, type MagicsockCounters, type PingPath } from './types.js';
import type { StunSink, StunTransport } from '../netcheck/types.js';
import { PathLostSignal } from './path-lost-signal.js';
import { WgProxy } from './wg-proxy.js';
import type { FastPath, FastPathHost } from './fast-path.js';

/**
 * A relay route learned from the peer's own packets beats its netmap home region for this long:
 * after a failover the packets show where the peer is before control can say so.
 */
export const RELAY_ROUTE_TRUST_MS = 30_000;
/** Counters are logged (debug level) this often when they changed: enough to follow a session. */
export const COUNTERS_LOG_INTERVAL_MS = 10_000;
/**
 * 'direct-path-lost' at most this often (one re-STUN covers every peer behind the same NAT), and
 * a loss inside the interval fires at its end (path-lost-signal.ts). A netcheck costs a few STUN
 * round trips, and a rebinding is found this much sooner at worst.
 */
export const PATH_LOST_EVENT_MIN_INTERVAL_MS = 5_000;
/**
 * A WireGuard handshake initiation still unanswered this long after we sent it is resent (once)
 * when the route to the peer changes. Under WireGuard's REKEY_TIMEOUT (5 s), after which
 * WireGuard sends a fresh initiation itself; a resent one is only ever a duplicate the peer
 * rejects (its timestamp is not newer) or the first copy to arrive.
 */
export const HANDSHAKE_RESEND_MAX_AGE_MS = 4_000;
/**
 * Two handshake initiations that cross (each side initiated before the other's arrived) stall
 * WireGuard: it keeps one handshake state per peer, so each side, by answering the other's
 * initiation, forgets its own, and then rejects the answer to it; both wait for the 5 s retry.
 * So the side with the lower node key holds the peer's crossing initiation back this long: the
 * peer answers ours meanwhile (a relayed round trip, with margin), and the held one is dropped;
 * should ours have been lost, the held one goes to WireGuard after all.
 */
export const CROSSING_INIT_HOLD_MS = 1_000;
/**
 * A peer's initiation that came before WireGuard knew the peer goes to WireGuard this long after
 * it is configured, through the crossing check above: configuring a peer with a persistent
 * keepalive makes WireGuard initiate at once, and that initiation (sent during the config, read
 * back by its proxy a moment later) must be seen first, or the two cross unnoticed.
 */
export const EARLY_INIT_SETTLE_MS = 50;
/** WireGuard's handshake initiation and response (message types 1 and 2). */
const WG_HANDSHAKE_INITIATION = 1;
const WG_HANDSHAKE_RESPONSE = 2;
/** Direct source addresses remembered per peer (a peer roams, NATs rebind). */
export const MAX_LEARNED_ADDRS_PER_PEER = 16;

export interface MagicsockOptions {
  /** UDP port for both families; 0 picks one (then IPv6 tries the same number). */
  readonly port: number;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Bind addresses; null disables the family. Defaults: '0.0.0.0' and '::'. */
  readonly bind4?: string | null;
  readonly bind6?: string | null;
  /** Where the per-peer proxies and WireGuard meet. Default 127.0.0.1. */
  readonly loopback?: string;
  /** Relay connections (tests). */
  readonly relayConnect?: (opts: RelayClientOptions) => RelayConnection;
  /**
   * Test hook: direct datagrams for which this returns false are dropped (both directions), to
   * simulate a path that stops working.
   */
  readonly directFilter?: (direction: 'in' | 'out', address: string, port: number) => boolean;
  /**
   * The direct fast path (fast-path.ts): WireGuard's own port carries a peer's packets while its
   * direct path is trusted. Started with magicsock, removed when it closes.
   */
  readonly fastPath?: FastPath;
}

/** What magicsock needs of the netmap. */
export interface MagicsockNetmap {
  readonly selfNodeKey: string;
  readonly peers: readonly Peer[];
  readonly relayMap: RelayMap;
  readonly relayToken: string | null;
  /**
   * Prefixes this device routes into the tunnel: the peers' mesh addresses and the subnet routes
   * it accepts (never an exit node's default routes, which policy routing keeps peer endpoints
   * out of). A peer endpoint inside one would be reached through the tunnel itself (a subnet
   * router reporting its LAN address, for example), so such endpoints are never path candidates
   * and disco from them is ignored, as Tailscale does.
   */
  readonly tunnelRoutes?: readonly string[];
}

export interface MagicsockEvents {
  /** Our home relay region changed: control should tell the peers. */
  'home-region': [region: number | null];
  /**
   * A trusted direct path stopped answering. Our NAT may have rebound (new public address),
   * so our endpoints should be found again (STUN) and sent to peers in call-me-maybe.
   */
  'direct-path-lost': [];
}

interface PeerConn {
  readonly nodeKey: string;
  readonly nodeKeyRaw: Uint8Array;
  readonly nodeKeyHex: string;
  discoKey: Uint8Array | null;
  discoHex: string | null;
  homeRegion: number | null;
  readonly paths: PeerPaths;
  readonly proxy: WgProxy;
  relayRegion: number | null;
  relayAt: number;
  readonly learned: Set<string>;
  /**
   * Our latest handshake initiation to the peer while nothing has come back from it. Started from
   * a cached netmap, we relay it through the peer's home region as last seen, which may be stale;
   * when a fresh netmap or the peer's own packets show the route, it goes again (once) instead of
   * waiting for WireGuard's 5 s retry.
   */
  unansweredInit: { readonly packet: Uint8Array; readonly at: number; resent: boolean } | null;
  /** The peer's initiation that crossed ours, held back (CROSSING_INIT_HOLD_MS). */
  heldInit: { readonly packet: Uint8Array; readonly timer: unknown } | null;
  /** The peer's initiation from before WireGuard knew the peer (EARLY_INIT_SETTLE_MS). */
  earlyInit: { readonly packet: Uint8Array; timer: unknown } | null;
  closed: boolean;
}

const sourceKey = (address: string, port: number): string =>
  address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;

/** WireGuard's message types 1–4 are little-endian u32s: one byte, then three zeros. */
function isWireGuard(p: Uint8Array): boolean {
  const t = p[0] ?? 0;
  return p.length >= 4 && t >= 1 && t <= 4 && p[1] === 0 && p[2] === 0 && p[3] === 0;
}

export class Magicsock extends EventEmitter<MagicsockEvents> implements StunTransport {
  readonly counters: MagicsockCounters = newCounters();
  private readonly disco: KeyPair = generateKeyPair();
  private readonly clock: Clock;
  private readonly loopback: string;
  private sock4: dgram.Socket | null = null;
  private sock6: dgram.Socket | null = null;
  private boundPort: number | null = null;
  private stunSink: StunSink | null = null;
  private relay: RelayManager | null = null;
  private selfNodeKey: string | null = null;
  private selfNodeKeyRaw: Uint8Array | null = null;
  private ownEndpoints: IpPort[] = [];
  private wgPort: number | null = null;
  private readonly peers = new Map<string, PeerConn>();
  private readonly byNodeHex = new Map<string, PeerConn>();
  private readonly byDiscoHex = new Map<string, PeerConn>();
  private readonly bySource = new Map<string, PeerConn>();
  private latencies = new Map<number, number>();
  /** MagicsockNetmap.tunnelRoutes, parsed. */
  private tunnelRoutes: IpPrefix[] = [];
  private preferredRegion: number | null = null;
  private updating: Promise<unknown> = Promise.resolve();
  private countersTimer: unknown = null;
  private readonly pathLost: PathLostSignal;
  private closed = false;

  constructor(private readonly opts: MagicsockOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.pathLost = new PathLostSignal(this.clock, PATH_LOST_EVENT_MIN_INTERVAL_MS, () =>
      this.emit('direct-path-lost'),
    );
    this.loopback = opts.loopback ?? '127.0.0.1';
  }

  /** Our disco public key (new every start), for control's map hello. */
  get discoPublicKey(): string {
    return keyToBase64(this.disco.publicKey);
  }

  /** The port magicsock listens on (after start). */
  get port(): number | null {
    return this.boundPort;
  }

  get homeRegion(): number | null {
    return this.relay?.home ?? null;
  }

  /** Opens the UDP sockets. Throws when IPv4 can't be bound (the port is taken). */
  async start(): Promise<void> {
    const bind4 = this.opts.bind4 === undefined ? '0.0.0.0' : this.opts.bind4;
    const bind6 = this.opts.bind6 === undefined ? '::' : this.opts.bind6;
    let port = this.opts.port;
    if (bind4 !== null) {
      this.sock4 = await this.bind('udp4', bind4, port);
      port = this.sock4.address().port;
    }
    if (bind6 !== null) {
      try {
        this.sock6 = await this.bind('udp6', bind6, port);
        port = this.sock6.address().port;
      } catch (e) {
        // No IPv6 on this host (or the number is taken there): IPv4 alone still works.
        this.opts.log.info({ error: (e as Error).message }, 'magicsock: no IPv6 socket');
      }
    }
    if (!this.sock4 && !this.sock6) throw new Error('magicsock: no UDP socket could be opened');
    this.boundPort = port;
    this.opts.log.info(
      { port, ipv6: this.sock6 !== null, fastPath: this.opts.fastPath !== undefined },
      'magicsock listening',
    );
    this.opts.fastPath?.attach(this.fastPathHost(), port);
    this.logCounters('');
  }

  private logCounters(last: string): void {
    if (this.closed) return;
    const now = JSON.stringify(this.counters);
    if (now !== last) this.opts.log.debug({ ...this.counters }, 'magicsock counters');
    this.countersTimer = this.clock.setTimeout(
      () => this.logCounters(now),
      COUNTERS_LOG_INTERVAL_MS,
    );
  }

  /** Netcheck's STUN client: it gets every STUN datagram that arrives. */
  setStunSink(sink: StunSink | null): void {
    this.stunSink = sink;
  }

  /** Sends a STUN request from the socket of the address's family; throws when there is none. */
  sendStun(packet: Uint8Array, address: string, port: number): void {
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
    if (!this.sendUdp({ ip: address, family, port }, packet)) {
      throw new Error(`magicsock has no open ${family} socket`);
    }
  }

  /** Our endpoint candidates, sent to peers in call-me-maybe. */
  setOwnEndpoints(endpoints: readonly Endpoint[]): void {
    const out: IpPort[] = [];
    for (const e of endpoints) {
      const p = parseIpPort(e.addr);
      if (p.ok && out.length < MAX_CALL_ME_MAYBE_ENDPOINTS) out.push(p.value);
    }
    const before = new Set(this.ownEndpoints.map((e) => ipPortToString(e.ip, e.port)));
    this.ownEndpoints = out;
    if (out.some((e) => !before.has(ipPortToString(e.ip, e.port)))) {
      for (const p of this.peers.values()) p.paths.ownEndpointsChanged();
    }
  }

  /** Netcheck's findings: region latencies and its preferred region pick the home relay. */
  setNetcheckReport(report: NetcheckReport): void {
    this.setRegionLatencies(
      new Map(Object.entries(report.regionLatencies).map(([k, v]) => [Number(k), v])),
    );
    this.setPreferredRegion(report.preferredRegion);
  }

  setRegionLatencies(latencies: ReadonlyMap<number, number>): void {
    this.latencies = new Map(latencies);
    this.relay?.setRegionLatencies(this.latencies);
  }

  setPreferredRegion(region: number | null): void {
    this.preferredRegion = region;
    this.relay?.setPreferredRegion(region);
  }

  /**
   * WireGuard was configured with the current peers and listens on `port` (the proxies' only
   * allowed source and destination): call after every apply. A peer's packets wait in its proxy
   * until then, since WireGuard drops a handshake from a peer it does not know yet (a 5 s retry).
   */
  wireGuardConfigured(port: number | null): void {
    this.wgPort = port;
    if (port !== null) {
      for (const p of this.peers.values()) {
        p.proxy.configured(port);
        this.scheduleEarlyInit(p);
      }
    }
    this.opts.fastPath?.setWireGuardPort(port);
    this.opts.fastPath?.poke();
  }

  /** magicsock's side of the fast path: which peers may bypass it, and their activity. */
  private fastPathHost(): FastPathHost {
    return {
      targets: () =>
        [...this.peers.values()].map((p) => {
          const cur = p.paths.current();
          const sock =
            cur.type === 'direct' && cur.addr.family === 'ipv6' ? this.sock6 : this.sock4;
          // Only once WireGuard knows the peer: it would drop the peer's handshakes before.
          const direct = cur.type === 'direct' && p.proxy.isReady && sock ? cur.addr : null;
          return { nodeKey: p.nodeKey, proxyEndpoint: p.proxy.endpoint, direct };
        }),
      wireGuardActive: (nodeKey) => this.peers.get(nodeKey)?.paths.noteWireGuardActive(),
    };
  }

  /**
   * Brings peers, relay map and token to the netmap's (null: no peers, no relays). Resolves
   * with each peer's proxy endpoint ("127.0.0.1:port" by node key), WireGuard's endpoint for it.
   */
  setNetmap(nm: MagicsockNetmap | null): Promise<ReadonlyMap<string, string>> {
    const run = this.updating.then(() => this.applyNetmap(nm));
    this.updating = run.catch(() => undefined);
    return run;
  }

  /** Whether `ip` is inside a prefix routed into the tunnel (see MagicsockNetmap.tunnelRoutes). */
  private viaTunnel(ip: string): boolean {
    if (this.tunnelRoutes.length === 0) return false;
    const addr = parseIp(ip);
    return addr.ok && this.tunnelRoutes.some((p) => contains(p, addr.value));
  }

  /** The endpoints a path may use: none inside the tunnel's own routes. */
  private outsideTunnel(endpoints: readonly IpPort[]): IpPort[] {
    const out = endpoints.filter((e) => !this.viaTunnel(e.ip));
    this.counters.viaTunnelIgnored += endpoints.length - out.length;
    return out;
  }

  /** Status of one peer's path (null for an unknown peer). */
  peerStatus(nodeKey: string): PeerPathStatus | null {
    const p = this.peers.get(nodeKey);
    if (!p) return null;
    const cur = p.paths.current();
    switch (cur.type) {
      case 'direct':
        return {
          path: {
            type: 'direct',
            endpoint: ipPortToString(cur.addr.ip, cur.addr.port),
            fastPath: this.opts.fastPath?.isOn(nodeKey) ?? false,
          },
          latencyMs: cur.latencyMs,
        };
      case 'relay': {
        const region = this.relay?.route(this.relayPreference(p)) ?? null;
        return region === null
          ? { path: { type: 'none' }, latencyMs: null }
          : { path: { type: 'relay', region }, latencyMs: cur.latencyMs };
      }
      case 'none':
        return { path: { type: 'none' }, latencyMs: null };
    }
  }

  /** A disco ping to the peer (LocalAPI ping): the path that answered first, or null. */
  async ping(nodeKey: string, timeoutMs: number): Promise<PingPath | null> {
    const p = this.peers.get(nodeKey);
    if (!p || this.closed) return null;
    const r = await p.paths.probe(timeoutMs);
    if (!r) return null;
    return r.type === 'direct'
      ? {
          path: { type: 'direct', endpoint: ipPortToString(r.addr.ip, r.addr.port) },
          latencyMs: r.latencyMs,
        }
      : { path: { type: 'relay', region: r.region }, latencyMs: r.latencyMs };
  }

  /** Relay regions and their connection states. */
  relayStatus(): RegionStatus[] {
    return this.relay?.status() ?? [];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.countersTimer);
    this.pathLost.close();
    await this.updating;
    await this.opts.fastPath
      ?.close()
      .catch((e: unknown) =>
        this.opts.log.warn({ error: (e as Error).message }, 'removing the fast path rules failed'),
      );
    for (const p of [...this.peers.values()]) this.removePeer(p);
    await this.relay?.close();
    this.relay = null;
    for (const s of [this.sock4, this.sock6]) s?.close();
    this.sock4 = null;
    this.sock6 = null;
  }

  // -- netmap ----------------------------------------------------------------------------------

  private async applyNetmap(nm: MagicsockNetmap | null): Promise<ReadonlyMap<string, string>> {
    if (this.closed) return new Map();
    if (nm === null) {
      for (const p of [...this.peers.values()]) this.removePeer(p);
      await this.relay?.close();
      this.relay = null;
      this.selfNodeKey = null;
      this.selfNodeKeyRaw = null;
      return new Map();
    }
    if (nm.selfNodeKey !== this.selfNodeKey) this.setSelf(nm.selfNodeKey);
    this.relay?.setRelayMap(nm.relayMap, nm.relayToken);
    this.tunnelRoutes = (nm.tunnelRoutes ?? []).flatMap((c) => {
      const p = parseCidr(c);
      return p.ok ? [p.value] : [];
    });

    const wanted = new Map(nm.peers.map((p) => [p.nodeKey, p]));
    for (const p of [...this.peers.values()]) if (!wanted.has(p.nodeKey)) this.removePeer(p);
    for (const peer of nm.peers) {
      if (this.closed) break;
      const existing = this.peers.get(peer.nodeKey);
      if (existing) this.updatePeer(existing, peer);
      else await this.addPeer(peer);
    }
    const out = new Map<string, string>();
    for (const [k, p] of this.peers) out.set(k, p.proxy.endpoint);
    this.opts.fastPath?.poke();
    return out;
  }

  private setSelf(nodeKey: string): void {
    const raw = keyFromBase64(nodeKey);
    if (!raw.ok) {
      this.opts.log.warn({}, 'magicsock: our node key does not parse; relays stay off');
      return;
    }
    this.selfNodeKey = nodeKey;
    this.selfNodeKeyRaw = raw.value;
    const old = this.relay;
    if (old) void old.close();
    const relay = new RelayManager({
      nodeKey: raw.value,
      clock: this.clock,
      ...(this.opts.random ? { random: this.opts.random } : {}),
      ...(this.opts.relayConnect ? { connect: this.opts.relayConnect } : {}),
    });
    relay.on('receive', (region, src, payload) =>
      this.guard(() => this.onRelay(region, src, payload)),
    );
    relay.on('home', (region) => {
      this.opts.log.info({ region }, 'magicsock: home relay region');
      this.emit('home-region', region);
    });
    relay.on('state', (region, s) => {
      if (s.state === 'backoff') {
        this.opts.log.warn({ region, error: s.error.message }, 'magicsock: relay connection lost');
      } else if (s.state === 'connected') {
        this.opts.log.info({ region }, 'magicsock: relay connected');
      }
    });
    relay.setRegionLatencies(this.latencies);
    relay.setPreferredRegion(this.preferredRegion);
    this.relay = relay;
  }

  private async addPeer(peer: Peer): Promise<void> {
    const raw = keyFromBase64(peer.nodeKey);
    if (!raw.ok) return;
    let conn: PeerConn | null = null;
    const proxy = await WgProxy.open({
      loopback: this.loopback,
      counters: this.counters,
      wgPort: () => this.wgPort,
      onOutbound: (packet) => {
        if (conn && !conn.closed) this.guard(() => this.sendWireGuard(conn!, packet));
      },
    });
    if (this.closed || this.peers.has(peer.nodeKey)) {
      proxy.close();
      return;
    }
    const c: PeerConn = {
      nodeKey: peer.nodeKey,
      nodeKeyRaw: raw.value,
      nodeKeyHex: keyToHex(raw.value),
      discoKey: null,
      discoHex: null,
      homeRegion: peer.homeRelayRegion,
      paths: new PeerPaths(
        this.clock,
        this.pathsDelegate(() => c),
      ),
      proxy,
      relayRegion: null,
      relayAt: 0,
      learned: new Set(),
      unansweredInit: null,
      heldInit: null,
      earlyInit: null,
      closed: false,
    };
    conn = c;
    this.peers.set(c.nodeKey, c);
    this.byNodeHex.set(c.nodeKeyHex, c);
    this.updatePeer(c, peer);
  }

  private updatePeer(c: PeerConn, peer: Peer): void {
    const moved = c.homeRegion !== peer.homeRelayRegion;
    c.homeRegion = peer.homeRelayRegion;
    if (moved) this.resendUnansweredInit(c);
    c.paths.setNetmapEndpoints(this.outsideTunnel(netmapEndpoints(peer.endpoints)));
    const disco = peer.discoKey ? keyFromBase64(peer.discoKey) : null;
    const discoRaw = disco?.ok ? disco.value : null;
    const same =
      (discoRaw === null && c.discoKey === null) ||
      (discoRaw !== null && c.discoKey !== null && keysEqual(discoRaw, c.discoKey));
    if (same) return;
    // A new disco key means the peer restarted: what we learned about its paths is void.
    if (c.discoHex) this.byDiscoHex.delete(c.discoHex);
    this.forgetSources(c);
    c.paths.reset();
    c.discoKey = discoRaw;
    c.discoHex = discoRaw ? keyToHex(discoRaw) : null;
    if (c.discoHex) {
      this.byDiscoHex.set(c.discoHex, c);
      c.paths.discoverNow('new peer or disco key');
    }
    // The peer restarted: an initiation sent meanwhile may have reached a device not yet there.
    this.resendUnansweredInit(c);
  }

  private resendUnansweredInit(c: PeerConn): void {
    const init = c.unansweredInit;
    if (!init || init.resent || this.clock.now() - init.at > HANDSHAKE_RESEND_MAX_AGE_MS) return;
    init.resent = true;
    this.counters.wgHandshakeResent++;
    this.sendWireGuard(c, init.packet);
  }

  private removePeer(c: PeerConn): void {
    c.closed = true;
    if (c.heldInit) this.clock.clearTimeout(c.heldInit.timer);
    c.heldInit = null;
    if (c.earlyInit) this.clock.clearTimeout(c.earlyInit.timer);
    c.earlyInit = null;
    c.paths.close();
    c.proxy.close();
    this.forgetSources(c);
    this.peers.delete(c.nodeKey);
    this.byNodeHex.delete(c.nodeKeyHex);
    if (c.discoHex && this.byDiscoHex.get(c.discoHex) === c) this.byDiscoHex.delete(c.discoHex);
  }

  private forgetSources(c: PeerConn): void {
    for (const k of c.learned) if (this.bySource.get(k) === c) this.bySource.delete(k);
    c.learned.clear();
  }

  /** `address:port` sent authenticated disco for `c`: WireGuard from there is `c`'s. */
  private learnSource(c: PeerConn, key: string): void {
    const prev = this.bySource.get(key);
    if (prev === c) return;
    if (prev) prev.learned.delete(key);
    if (c.learned.size >= MAX_LEARNED_ADDRS_PER_PEER) {
      const oldest = c.learned.values().next();
      if (!oldest.done) {
        c.learned.delete(oldest.value);
        if (this.bySource.get(oldest.value) === c) this.bySource.delete(oldest.value);
      }
    }
    c.learned.add(key);
    this.bySource.set(key, c);
  }

  private pathsDelegate(peer: () => PeerConn): PeerPathsDelegate {
    return {
      sendDirect: (addr, msg) => {
        const sealed = this.seal(peer(), msg);
        return sealed !== null && this.sendUdp(addr, sealed);
      },
      sendRelay: (msg) => {
        const p = peer();
        const sealed = this.seal(p, msg);
        if (sealed === null || !this.relay) return null;
        return this.relay.send(p.nodeKeyRaw, sealed, this.relayPreference(p));
      },
      ownEndpoints: () => this.ownEndpoints,
      ownNodeKey: () => this.selfNodeKeyRaw,
      directPathLost: () => this.noteDirectPathLost(),
      debug: (obj, msg) => this.opts.log.debug({ peer: peer().nodeKey, ...obj }, msg),
    };
  }

  private noteDirectPathLost(): void {
    this.pathLost.raise();
  }

  private seal(p: PeerConn, msg: DiscoMessage): Uint8Array | null {
    if (!p.discoKey) return null;
    try {
      return sealDisco(msg, this.disco.privateKey, p.discoKey);
    } catch {
      return null; // a low-order disco key in the netmap: that peer gets no disco
    }
  }

  private relayPreference(p: PeerConn): (number | null)[] {
    const recent =
      p.relayRegion !== null && this.clock.now() - p.relayAt <= RELAY_ROUTE_TRUST_MS
        ? p.relayRegion
        : null;
    return [recent, p.homeRegion];
  }

  // -- sending ---------------------------------------------------------------------------------

  private sendWireGuard(c: PeerConn, packet: Uint8Array): void {
    if (packet[0] === WG_HANDSHAKE_INITIATION && c.unansweredInit?.packet !== packet) {
      c.unansweredInit = { packet, at: this.clock.now(), resent: false };
    }
    const plan = c.paths.planSend();
    let sent = false;
    if (plan.direct && this.sendUdp(plan.direct, packet)) {
      this.counters.wgDirectOut++;
      sent = true;
    }
    if (plan.relay && this.relay) {
      if (this.relay.send(c.nodeKeyRaw, packet, this.relayPreference(c)) !== null) {
        this.counters.wgRelayOut++;
        sent = true;
      }
    }
    if (!sent) this.counters.wgNoPath++;
  }

  private sendUdp(addr: IpPort, packet: Uint8Array): boolean {
    const sock = addr.family === 'ipv4' ? this.sock4 : this.sock6;
    if (!sock || this.closed) return false;
    if (this.opts.directFilter && !this.opts.directFilter('out', addr.ip, addr.port)) {
      this.counters.directFiltered++;
      return true; // "sent", then lost on the way: what a broken path looks like
    }
    try {
      sock.send(packet, addr.port, addr.ip); // an asynchronous failure is an 'error' event
    } catch {
      this.counters.sendFailed++;
      return false;
    }
    return true;
  }

  // -- receiving -------------------------------------------------------------------------------

  private async bind(type: 'udp4' | 'udp6', address: string, port: number): Promise<dgram.Socket> {
    const sock = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address, port }, () => {
        sock.off('error', reject);
        resolve();
      });
    }).catch((e: unknown) => {
      sock.close();
      throw e;
    });
    // Send errors (and ICMP errors reported as such) must not take the socket (or process) down.
    sock.on('error', (e) => {
      this.counters.sendFailed++;
      this.opts.log.debug({ error: e.message }, 'magicsock socket error');
    });
    sock.on('message', (packet, rinfo) => this.guard(() => this.onUdp(packet, rinfo)));
    return sock;
  }

  /** Runs a receive handler; a throw is a bug in here, counted and logged, never fatal. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.counters.receiveErrors++;
      this.opts.log.warn({ error: (e as Error).message }, 'magicsock: receive handler failed');
    }
  }

  private onUdp(packet: Uint8Array, rinfo: dgram.RemoteInfo): void {
    if (this.opts.directFilter && !this.opts.directFilter('in', rinfo.address, rinfo.port)) {
      this.counters.directFiltered++;
      return;
    }
    if (isWireGuard(packet)) {
      const c = this.bySource.get(sourceKey(rinfo.address, rinfo.port));
      if (!c) {
        this.counters.wgUnknownSource++;
        return;
      }
      this.counters.wgDirectIn++;
      this.deliverWireGuard(c, packet);
      return;
    }
    if (isDisco(packet)) {
      if (this.viaTunnel(rinfo.address)) {
        this.counters.viaTunnelIgnored++;
        return;
      }
      const family = rinfo.family === 'IPv6' ? 'ipv6' : 'ipv4';
      const from: PathRef = {
        type: 'direct',
        addr: { ip: rinfo.address, family, port: rinfo.port },
      };
      this.onDisco(packet, from, null, sourceKey(rinfo.address, rinfo.port));
      return;
    }
    if (isStun(packet)) {
      const handled = this.stunSink?.handleStun(packet, {
        address: rinfo.address,
        port: rinfo.port,
      });
      if (handled) this.counters.stunHandled++;
      else this.counters.stunIgnored++;
      return;
    }
    this.counters.unknownPacket++;
  }

  private onRelay(region: number, src: Uint8Array, payload: Uint8Array): void {
    const c = this.byNodeHex.get(keyToHex(src));
    if (!c) {
      this.counters.relayUnknownPeer++;
      return;
    }
    const newRoute = c.relayRegion !== region;
    c.relayRegion = region;
    c.relayAt = this.clock.now();
    if (isDisco(payload)) {
      this.onDisco(payload, { type: 'relay', region }, c, null);
      // The peer is reachable in this region: our initiation may have gone to another one.
      if (newRoute) this.resendUnansweredInit(c);
      return;
    }
    this.counters.wgRelayIn++;
    c.paths.noteRelayReceive();
    this.deliverWireGuard(c, payload);
  }

  /** The peer's early initiation goes to WireGuard, through the crossing check, shortly. */
  private scheduleEarlyInit(c: PeerConn): void {
    const early = c.earlyInit;
    if (!early || early.timer !== null || !c.proxy.isReady) return;
    early.timer = this.clock.setTimeout(() => {
      c.earlyInit = null;
      if (!c.closed) this.guard(() => this.deliverWireGuard(c, early.packet));
    }, EARLY_INIT_SETTLE_MS);
  }

  /** A WireGuard packet from the peer, for our WireGuard (see CROSSING_INIT_HOLD_MS). */
  private deliverWireGuard(c: PeerConn, packet: Uint8Array): void {
    if (packet[0] === WG_HANDSHAKE_INITIATION && !c.proxy.isReady) {
      // WireGuard does not know the peer yet: keep the latest, see EARLY_INIT_SETTLE_MS.
      if (c.earlyInit) this.clock.clearTimeout(c.earlyInit.timer);
      c.earlyInit = { packet, timer: null };
      return;
    }
    const ours = c.unansweredInit;
    c.unansweredInit = null; // something came back: the peer is there
    if (
      packet[0] === WG_HANDSHAKE_INITIATION &&
      ours !== null &&
      this.clock.now() - ours.at < CROSSING_INIT_HOLD_MS &&
      c.heldInit === null &&
      this.selfNodeKeyRaw !== null &&
      Buffer.compare(this.selfNodeKeyRaw, c.nodeKeyRaw) < 0
    ) {
      this.counters.wgCrossingInitHeld++;
      const timer = this.clock.setTimeout(() => {
        const held = c.heldInit;
        c.heldInit = null;
        if (held && !c.closed) c.proxy.deliver(held.packet); // ours went unanswered after all
      }, CROSSING_INIT_HOLD_MS);
      c.heldInit = { packet, timer };
      return;
    }
    if (packet[0] === WG_HANDSHAKE_RESPONSE && c.heldInit !== null) {
      // Our initiation is answered: the peer forgot its own by answering, so drop it too.
      this.clock.clearTimeout(c.heldInit.timer);
      c.heldInit = null;
    }
    c.proxy.deliver(packet);
  }

  /**
   * An incoming disco message. `viaRelay` is the peer the relay says sent it (the sealed sender
   * must be that same peer); `source` is the UDP source of a direct one.
   */
  private onDisco(
    packet: Uint8Array,
    from: PathRef,
    viaRelay: PeerConn | null,
    source: string | null,
  ): void {
    const opened = openDisco(packet, this.disco.privateKey, (k) =>
      this.byDiscoHex.has(keyToHex(k)),
    );
    if (!opened.ok) {
      switch (opened.error.code) {
        case 'unknown-peer':
          this.counters.discoUnknownSender++;
          return;
        case 'auth-failed':
        case 'low-order-point':
        case 'too-large':
        case 'not-disco':
          this.counters.discoBadSeal++;
          return;
        default:
          this.counters.discoBadMessage++;
          return;
      }
    }
    const c = this.byDiscoHex.get(keyToHex(opened.value.sender));
    if (!c || (viaRelay && viaRelay !== c)) {
      this.counters.discoKeyMismatch++;
      return;
    }
    const msg = opened.value.message;
    switch (msg.type) {
      case 'ping':
        if (!keysEqual(msg.nodeKey, c.nodeKeyRaw)) {
          this.counters.discoKeyMismatch++;
          return;
        }
        this.counters.discoReceived++;
        if (source) this.learnSource(c, source);
        c.paths.handlePing(from, msg.txId);
        return;
      case 'pong':
        if (!c.paths.handlePong(from, msg.txId)) {
          this.counters.discoUnmatchedPong++;
          return;
        }
        this.counters.discoReceived++;
        if (source) this.learnSource(c, source);
        this.opts.fastPath?.poke(); // a path may just have become trusted
        return;
      case 'call-me-maybe':
        this.counters.discoReceived++;
        this.counters.callMeMaybeHeld += c.paths.handleCallMeMaybe(
          this.outsideTunnel(msg.endpoints),
        );
        return;
    }
  }
}

/** The netmap's endpoint texts as addresses (unparsable ones are skipped). */
function netmapEndpoints(endpoints: readonly Endpoint[]): IpPort[] {
  const out: IpPort[] = [];
  for (const e of endpoints) {
    const p = parseIpPort(e.addr);
    if (p.ok) out.push(p.value);
  }
  return out;
}
