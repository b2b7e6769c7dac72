/**
 * One peer's paths, as magicsock sees them: its candidate UDP endpoints, the disco pings in
 * flight, the best direct path proven by a pong, and the relay. Decides where each WireGuard
 * packet goes and when to probe. All I/O goes through a delegate and all timers through the
 * Clock, so the whole state machine runs on a simulated clock in unit tests.
 *
 * The timers are Tailscale's (wgengine/magicsock endpoint.go), for the same reasons:
 * - relay until a direct path is proven by a pong; send on both while a proven path goes stale;
 * - heartbeat the best path every 3 s while WireGuard is active, trust it 6.5 s past its pong;
 * - re-probe every candidate every minute (a better path may have appeared);
 * - switch to a lower-latency path only when it is clearly better (hysteresis).
 */
import { randomBytes } from 'node:crypto';
import { ipPortToString, type IpPort } from '../../shared/ip.js';
import { keyToHex } from '../../shared/keys.js';
import type { DiscoMessage } from '../../shared/disco/index.js';
import { MAX_CALL_ME_MAYBE_ENDPOINTS, TX_ID_LENGTH } from '../../shared/disco/index.js';
import type { Clock } from '../control-client/clock.js';

/** Heartbeat on the best path: two lost pongs in a row still fit in the trust window below. */
export const HEARTBEAT_INTERVAL_MS = 3_000;
/**
 * How long a direct path is trusted after its last pong: two heartbeats plus a margin, so one
 * lost pong doesn't drop the path, two do.
 */
export const TRUST_DIRECT_PATH_MS = 6_500;
/** With a working direct path, all candidates are probed again this often (upgrade probes). */
export const UPGRADE_INTERVAL_MS = 60_000;
/**
 * While no direct path is trusted and WireGuard is active, discovery (pings to every candidate
 * plus call-me-maybe through the relay) repeats this often: NAT mappings and firewall holes are
 * only opened by packets, and both sides retrying in step is what punches the hole.
 */
export const DISCOVERY_INTERVAL_MS = 5_000;
/** One candidate is not pinged again by discovery sooner than this (a CMM overrides it). */
export const CANDIDATE_PING_MIN_INTERVAL_MS = 1_000;
/** Pinging back the source of a ping: at most this often, so a flood of pings stays a trickle. */
export const PING_BACK_MIN_INTERVAL_MS = 100;
/** A ping not answered within this is lost; later pongs are ignored. */
export const PING_TIMEOUT_MS = 5_000;
/**
 * WireGuard is "active" towards a peer for this long after it last sent: heartbeats and probes
 * stop for idle peers. WireGuard's persistent keepalive (25 s) keeps a tunnel active on its own.
 */
export const SESSION_ACTIVE_TIMEOUT_MS = 45_000;
/** A best path not answered for this long past its trust window is forgotten (relay only). */
export const FORGET_DIRECT_PATH_MS = TRUST_DIRECT_PATH_MS + PING_TIMEOUT_MS;
/** A relay path counts as in use while something came back over it within this window. */
export const RELAY_PATH_ACTIVE_MS = 60_000;
/**
 * A path replaces the current best only when its latency is below this fraction of the best's
 * and at least BETTER_PATH_MIN_GAIN_MS lower: jitter between two similar paths never flips it.
 */
export const BETTER_PATH_RATIO = 0.9;
export const BETTER_PATH_MIN_GAIN_MS = 0.5;
/**
 * Pings one peer's call-me-maybe messages may make us send at once: two full endpoint lists
 * (MAX_CALL_ME_MAYBE_ENDPOINTS each). A peer's message names addresses we then send to, so an
 * unlimited stream of them (a compromised or buggy peer) would turn us into a packet cannon
 * aimed at any host; honest peers send one short list per discovery round and never reach this.
 */
export const CALL_ME_MAYBE_PING_BURST = 2 * MAX_CALL_ME_MAYBE_ENDPOINTS;
/** The budget refills by one full endpoint list per discovery interval (6.4 pings a second). */
export const CALL_ME_MAYBE_PINGS_PER_MS = MAX_CALL_ME_MAYBE_ENDPOINTS / DISCOVERY_INTERVAL_MS;
/** Candidates kept per peer (netmap endpoints, call-me-maybe, ping sources); oldest learned go. */
export const MAX_CANDIDATES = 96;
/** Pings in flight per peer; the oldest is forgotten beyond this. */
export const MAX_PINGS_IN_FLIGHT = 256;

/** Where a disco message came from or goes. */
export type PathRef =
  | { readonly type: 'direct'; readonly addr: IpPort }
  | { readonly type: 'relay'; readonly region: number };

/** What a ping answered: the path it took and its round trip. */
export type ProbeResult =
  | { readonly type: 'direct'; readonly addr: IpPort; readonly latencyMs: number }
  | { readonly type: 'relay'; readonly region: number; readonly latencyMs: number };

/** Where the next WireGuard packet goes: directly, through the relay, or both. */
export interface SendPlan {
  readonly direct: IpPort | null;
  readonly relay: boolean;
}

export type CurrentPath =
  | { readonly type: 'direct'; readonly addr: IpPort; readonly latencyMs: number | null }
  | { readonly type: 'relay'; readonly latencyMs: number | null }
  | { readonly type: 'none' };

export interface PeerPathsDelegate {
  /** Sends a disco message straight to `addr`; false when it could not be sent. */
  sendDirect(addr: IpPort, msg: DiscoMessage): boolean;
  /** Sends a disco message through the relay; the region used, or null when none is up. */
  sendRelay(msg: DiscoMessage): number | null;
  /** Our own endpoint candidates, for call-me-maybe. */
  ownEndpoints(): readonly IpPort[];
  /** Our node public key (raw), for pings. Null until known. */
  ownNodeKey(): Uint8Array | null;
  /**
   * A direct path that was trusted stopped answering: our NAT may have rebound, so our own
   * endpoints may be stale (a fresh STUN finds the new ones for the next call-me-maybe).
   */
  directPathLost(): void;
  /** A log line about this peer (debug level). */
  debug(obj: object, msg: string): void;
}

type CandidateSource = 'netmap' | 'call-me-maybe' | 'ping';

interface Candidate {
  readonly addr: IpPort;
  source: CandidateSource;
  lastPingAt: number | null;
  lastPongAt: number | null;
  latencyMs: number | null;
  learnedAt: number;
}

interface PingInFlight {
  readonly to: PathRef;
  readonly sentAt: number;
  readonly probe: Probe | null;
}

interface Probe {
  done: boolean;
  readonly resolve: (r: ProbeResult | null) => void;
  timer: unknown;
}

interface BestPath {
  readonly key: string;
  readonly addr: IpPort;
  latencyMs: number;
  lastPongAt: number;
}

export const addrKey = (a: IpPort): string => ipPortToString(a.ip, a.port);

export class PeerPaths {
  private readonly candidates = new Map<string, Candidate>();
  private readonly pings = new Map<string, PingInFlight>();
  private best: BestPath | null = null;
  private relayLatencyMs: number | null = null;
  private relayHeardAt: number | null = null;
  private lastActiveAt: number | null = null;
  private lastDiscoveryAt: number | null = null;
  private lastFullProbeAt: number | null = null;
  private heartbeatTimer: unknown = null;
  /** Pings call-me-maybe may still trigger (a token bucket, see CALL_ME_MAYBE_PING_BURST). */
  private cmmBudget = CALL_ME_MAYBE_PING_BURST;
  private cmmBudgetAt: number | null = null;
  /** Whether the last look found a trusted direct path (to notice when it is lost). */
  private wasTrusted = false;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly delegate: PeerPathsDelegate,
  ) {}

  /**
   * The netmap's endpoint list for the peer changed (replaces earlier netmap candidates). New
   * candidates are probed at once while no direct path is trusted: the peer just learned them
   * (typically its STUN-reflexive address), and it is probing ours at the same moment.
   */
  setNetmapEndpoints(endpoints: readonly IpPort[]): void {
    const now = this.clock.now();
    const keep = new Set(endpoints.map(addrKey));
    for (const [k, c] of this.candidates) {
      if (c.source === 'netmap' && !keep.has(k)) this.candidates.delete(k);
    }
    const fresh = endpoints.filter((ep) => !this.candidates.has(addrKey(ep)));
    for (const ep of endpoints) this.addCandidate(ep, 'netmap', now);
    if (fresh.length > 0 && this.lastDiscoveryAt !== null && !this.trusted(now)) {
      this.discover(now, 'new peer endpoints');
    }
  }

  /**
   * Our own endpoints changed (a netcheck found our reflexive address, or the link changed):
   * without a trusted direct path, tell the peer at once so it can punch towards them.
   */
  ownEndpointsChanged(): void {
    const now = this.clock.now();
    if (this.lastDiscoveryAt !== null && !this.trusted(now)) {
      this.discover(now, 'our endpoints changed');
    }
  }

  /** The peer restarted (new disco key): everything learned about its paths is void. */
  reset(): void {
    for (const p of this.pings.values()) this.finishProbe(p.probe, null);
    this.pings.clear();
    for (const [k, c] of this.candidates) {
      if (c.source !== 'netmap') this.candidates.delete(k);
      else {
        c.lastPingAt = null;
        c.lastPongAt = null;
        c.latencyMs = null;
      }
    }
    this.best = null;
    this.relayLatencyMs = null;
    this.relayHeardAt = null;
    this.lastDiscoveryAt = null;
    this.lastFullProbeAt = null;
  }

  /**
   * WireGuard has a packet for the peer: where it goes. Going stale or missing a direct path
   * starts discovery (rate limited), so the first packet to a new peer also starts hole punching.
   */
  planSend(): SendPlan {
    const now = this.clock.now();
    this.markActive(now);
    const best = this.usableBest(now);
    if (best && this.trusted(now)) {
      return { direct: best.addr, relay: false };
    }
    this.maybeDiscover(now, best ? 'direct path stale' : 'no direct path');
    return { direct: best?.addr ?? null, relay: true };
  }

  /**
   * WireGuard sent to the peer on a path that bypasses magicsock (the fast path): the session is
   * active, so heartbeats keep the path's trust fresh as they do for packets sent through here.
   */
  noteWireGuardActive(): void {
    this.markActive(this.clock.now());
  }

  /** Something arrived over the relay from this peer. */
  noteRelayReceive(): void {
    this.relayHeardAt = this.clock.now();
  }

  /** The path traffic takes right now, with the latest disco latency on it. */
  current(): CurrentPath {
    const now = this.clock.now();
    const best = this.usableBest(now);
    if (best && this.trusted(now)) {
      return { type: 'direct', addr: best.addr, latencyMs: best.latencyMs };
    }
    if (this.relayHeardAt !== null && now - this.relayHeardAt <= RELAY_PATH_ACTIVE_MS) {
      return { type: 'relay', latencyMs: this.relayLatencyMs };
    }
    return { type: 'none' };
  }

  /** Candidate endpoints known for the peer (for status and tests). */
  candidateAddrs(): IpPort[] {
    return [...this.candidates.values()].map((c) => c.addr);
  }

  /**
   * An authenticated ping from the peer arrived over `from`: answer it on the same path. Its
   * source is also a candidate (for a peer behind a NAT, the only one that works), and pinging
   * it back at once completes the hole punch from our side.
   */
  handlePing(from: PathRef, txId: Uint8Array): void {
    const now = this.clock.now();
    if (from.type === 'relay') {
      this.relayHeardAt = now;
      this.delegate.sendRelay({ type: 'pong', txId, src: relayMagicAddr(from.region) });
      return;
    }
    this.delegate.sendDirect(from.addr, { type: 'pong', txId, src: from.addr });
    const known = this.candidates.has(addrKey(from.addr));
    const c = this.addCandidate(from.addr, 'ping', now);
    // Their ping got through, so their NAT now lets our answer in, even if our earlier pings to
    // this address were dropped: ping back now. A source we never saw is a peer that roamed (or
    // a NAT that rebound): probe it even while the old path still looks trusted.
    if (
      c &&
      (!known || !this.trusted(now)) &&
      !recent(c.lastPingAt, now, PING_BACK_MIN_INTERVAL_MS)
    ) {
      this.sendPing({ type: 'direct', addr: c.addr }, null, now);
    }
  }

  /**
   * A pong arrived over `from`. Returns true when it answered one of our pings (only then is a
   * direct source proven to be the peer's).
   */
  handlePong(from: PathRef, txId: Uint8Array): boolean {
    const id = keyToHex(txId);
    const sent = this.pings.get(id);
    if (!sent) return false;
    const now = this.clock.now();
    if (now - sent.sentAt > PING_TIMEOUT_MS) {
      this.pings.delete(id);
      return false;
    }
    // A direct ping must be answered from the address it went to; a relayed one by any relay.
    if (sent.to.type !== from.type) return false;
    if (
      sent.to.type === 'direct' &&
      from.type === 'direct' &&
      addrKey(sent.to.addr) !== addrKey(from.addr)
    ) {
      return false;
    }
    this.pings.delete(id);
    const latencyMs = Math.max(0, now - sent.sentAt);
    if (from.type === 'relay') {
      this.relayLatencyMs = latencyMs;
      this.relayHeardAt = now;
      this.finishProbe(sent.probe, { type: 'relay', region: from.region, latencyMs });
      return true;
    }
    const key = addrKey(from.addr);
    const c = this.candidates.get(key) ?? this.addCandidate(from.addr, 'ping', now);
    if (c) {
      c.lastPongAt = now;
      c.latencyMs = latencyMs;
    }
    this.considerBest(key, from.addr, latencyMs, now);
    this.finishProbe(sent.probe, { type: 'direct', addr: from.addr, latencyMs });
    return true;
  }

  /**
   * The peer asks us to ping these endpoints now (it is pinging ours): punch from both sides.
   * Returns how many pings the call-me-maybe budget held back; those endpoints stay candidates
   * and the next discovery round (rate limited on our side) pings them.
   */
  handleCallMeMaybe(endpoints: readonly IpPort[]): number {
    const now = this.clock.now();
    this.markActive(now);
    this.refillCallMeMaybeBudget(now);
    let held = 0;
    for (const ep of endpoints) {
      const c = this.addCandidate(ep, 'call-me-maybe', now);
      if (!c) continue;
      if (this.cmmBudget < 1) {
        held++;
        continue;
      }
      // Even if we pinged it a moment ago: that ping may have reached the peer's NAT before the
      // peer's own pings opened it, which is what the call-me-maybe announces.
      this.cmmBudget--;
      this.sendPing({ type: 'direct', addr: c.addr }, null, now);
    }
    return held;
  }

  /**
   * Starts discovery at once: the peer just appeared (or came back with a new disco key). The
   * first probes must not wait for any timer: that is what makes the first packet fast.
   */
  discoverNow(reason: string): void {
    const now = this.clock.now();
    this.markActive(now);
    this.discover(now, reason);
  }

  /**
   * A ping for the CLI: on the trusted direct path if there is one; otherwise through the relay
   * and to every candidate at once (which is also a round of discovery). Resolves with the first
   * answer, or null after `timeoutMs`.
   */
  probe(timeoutMs: number): Promise<ProbeResult | null> {
    if (this.closed) return Promise.resolve(null);
    const now = this.clock.now();
    this.markActive(now);
    return new Promise((resolve) => {
      const probe: Probe = { done: false, resolve, timer: null };
      probe.timer = this.clock.setTimeout(() => this.finishProbe(probe, null), timeoutMs);
      const best = this.usableBest(now);
      if (best && this.trusted(now)) {
        this.sendPing({ type: 'direct', addr: best.addr }, probe, now);
        return;
      }
      this.sendRelayPing(probe, now);
      for (const c of this.candidates.values()) {
        this.sendPing({ type: 'direct', addr: c.addr }, probe, now);
      }
      this.sendCallMeMaybe();
    });
  }

  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
    for (const p of this.pings.values()) this.finishProbe(p.probe, null);
    this.pings.clear();
  }

  // -- internals -------------------------------------------------------------------------------

  private markActive(now: number): void {
    this.lastActiveAt = now;
    if (this.heartbeatTimer === null && !this.closed) {
      this.heartbeatTimer = this.clock.setTimeout(() => this.heartbeat(), HEARTBEAT_INTERVAL_MS);
    }
  }

  private refillCallMeMaybeBudget(now: number): void {
    if (this.cmmBudgetAt !== null) {
      const gained = Math.max(0, now - this.cmmBudgetAt) * CALL_ME_MAYBE_PINGS_PER_MS;
      this.cmmBudget = Math.min(CALL_ME_MAYBE_PING_BURST, this.cmmBudget + gained);
    }
    this.cmmBudgetAt = now;
  }

  private heartbeat(): void {
    this.heartbeatTimer = null;
    if (this.closed) return;
    const now = this.clock.now();
    this.prunePings(now);
    if (this.lastActiveAt === null || now - this.lastActiveAt > SESSION_ACTIVE_TIMEOUT_MS) {
      return; // idle: the next WireGuard packet starts the heartbeat again
    }
    const best = this.usableBest(now);
    if (best && this.trusted(now)) {
      this.sendPing({ type: 'direct', addr: best.addr }, null, now);
      if (this.lastFullProbeAt === null || now - this.lastFullProbeAt >= UPGRADE_INTERVAL_MS) {
        this.discover(now, 'upgrade probe');
      }
    } else {
      this.maybeDiscover(now, best ? 'direct path stale' : 'no direct path');
    }
    this.heartbeatTimer = this.clock.setTimeout(() => this.heartbeat(), HEARTBEAT_INTERVAL_MS);
  }

  private maybeDiscover(now: number, reason: string): void {
    if (this.lastDiscoveryAt !== null && now - this.lastDiscoveryAt < DISCOVERY_INTERVAL_MS) return;
    this.discover(now, reason);
  }

  /** Pings every candidate and the relay, and asks the peer (via relay) to ping us back. */
  private discover(now: number, reason: string): void {
    if (this.closed) return;
    this.lastDiscoveryAt = now;
    this.lastFullProbeAt = now;
    this.delegate.debug({ reason, candidates: this.candidates.size }, 'disco: probing paths');
    for (const c of this.candidates.values()) {
      if (recent(c.lastPingAt, now, CANDIDATE_PING_MIN_INTERVAL_MS)) continue;
      this.sendPing({ type: 'direct', addr: c.addr }, null, now);
    }
    this.sendRelayPing(null, now);
    this.sendCallMeMaybe();
  }

  private sendCallMeMaybe(): void {
    const endpoints = this.delegate.ownEndpoints();
    if (endpoints.length > 0) this.delegate.sendRelay({ type: 'call-me-maybe', endpoints });
  }

  private sendRelayPing(probe: Probe | null, now: number): void {
    const nodeKey = this.delegate.ownNodeKey();
    if (!nodeKey) return;
    const txId = newTxId();
    const region = this.delegate.sendRelay({ type: 'ping', txId, nodeKey });
    if (region !== null) this.track(txId, { to: { type: 'relay', region }, sentAt: now, probe });
  }

  private sendPing(to: PathRef & { type: 'direct' }, probe: Probe | null, now: number): void {
    const nodeKey = this.delegate.ownNodeKey();
    if (!nodeKey) return;
    const txId = newTxId();
    const c = this.candidates.get(addrKey(to.addr));
    if (c) c.lastPingAt = now;
    if (this.delegate.sendDirect(to.addr, { type: 'ping', txId, nodeKey })) {
      this.track(txId, { to, sentAt: now, probe });
    }
  }

  private track(txId: Uint8Array, p: PingInFlight): void {
    if (this.pings.size >= MAX_PINGS_IN_FLIGHT) {
      const oldest = this.pings.keys().next();
      if (!oldest.done) this.pings.delete(oldest.value);
    }
    this.pings.set(keyToHex(txId), p);
  }

  private prunePings(now: number): void {
    for (const [id, p] of this.pings) {
      if (now - p.sentAt > PING_TIMEOUT_MS) this.pings.delete(id);
    }
  }

  private finishProbe(probe: Probe | null, r: ProbeResult | null): void {
    if (!probe || probe.done) return;
    probe.done = true;
    this.clock.clearTimeout(probe.timer);
    probe.resolve(r);
  }

  private addCandidate(addr: IpPort, source: CandidateSource, now: number): Candidate | null {
    const key = addrKey(addr);
    const have = this.candidates.get(key);
    if (have) {
      if (source === 'netmap') have.source = 'netmap';
      return have;
    }
    if (this.candidates.size >= MAX_CANDIDATES && !this.evictLearned()) return null;
    const c: Candidate = {
      addr,
      source,
      lastPingAt: null,
      lastPongAt: null,
      latencyMs: null,
      learnedAt: now,
    };
    this.candidates.set(key, c);
    return c;
  }

  /** Drops the oldest candidate that did not come from the netmap (and is not the best path). */
  private evictLearned(): boolean {
    let victim: [string, Candidate] | null = null;
    for (const e of this.candidates) {
      if (e[1].source === 'netmap' || e[0] === this.best?.key) continue;
      if (!victim || e[1].learnedAt < victim[1].learnedAt) victim = e;
    }
    if (!victim) return false;
    this.candidates.delete(victim[0]);
    return true;
  }

  private trusted(now: number): boolean {
    const best = this.usableBest(now);
    const trusted = best !== null && now - best.lastPongAt <= TRUST_DIRECT_PATH_MS;
    if (this.wasTrusted && !trusted) {
      this.delegate.debug({ endpoint: best?.key }, 'disco: direct path stopped answering');
      this.delegate.directPathLost();
    }
    this.wasTrusted = trusted;
    return trusted;
  }

  private usableBest(now: number): BestPath | null {
    if (this.best && now - this.best.lastPongAt > FORGET_DIRECT_PATH_MS) {
      this.delegate.debug({ endpoint: this.best.key }, 'disco: direct path lost');
      this.best = null;
    }
    return this.best;
  }

  private considerBest(key: string, addr: IpPort, latencyMs: number, now: number): void {
    const best = this.usableBest(now);
    if (best && best.key === key) {
      best.latencyMs = latencyMs;
      best.lastPongAt = now;
      return;
    }
    const stale = !best || now - best.lastPongAt > TRUST_DIRECT_PATH_MS;
    if (stale || isClearlyBetter(latencyMs, best.latencyMs)) {
      this.delegate.debug(
        { endpoint: key, latencyMs, previous: best?.key ?? null },
        'disco: using direct path',
      );
      this.best = { key, addr, latencyMs, lastPongAt: now };
    }
  }
}

/** Lower latency wins only with a clear margin (see BETTER_PATH_RATIO). */
export function isClearlyBetter(candidateMs: number, currentMs: number): boolean {
  return (
    candidateMs < currentMs * BETTER_PATH_RATIO &&
    currentMs - candidateMs >= BETTER_PATH_MIN_GAIN_MS
  );
}

/**
 * The "observed source" of a ping that came through a relay, which has no UDP address: a
 * loopback address that names the region (the idea of Tailscale's DERP magic IP). Receivers
 * never use it as an endpoint.
 */
export const RELAY_MAGIC_IP = '127.3.3.40';
export function relayMagicAddr(region: number): IpPort {
  return { ip: RELAY_MAGIC_IP, family: 'ipv4', port: region };
}

const recent = (at: number | null, now: number, ms: number): boolean =>
  at !== null && now - at < ms;

function newTxId(): Uint8Array {
  return new Uint8Array(randomBytes(TX_ID_LENGTH));
}
