/**
 * The relay clients magicsock uses: always one to the home region, plus one to each other region
 * a peer lives in, opened on demand (relays deliver by node key within one region, so a packet
 * for a peer homed elsewhere must go through the peer's region) and closed when idle.
 *
 * Failover: when the home region's relay fails, the home moves to the best other region at once
 * and the new home is announced (control tells the peers). Sending to a peer tries, in order, the
 * region its packets last came from, its home region, then our own home: both sides keep a
 * connection to their home, so relayed traffic keeps flowing while the netmap catches up.
 */
import { EventEmitter } from 'node:events';
import type { RelayMap } from '../../shared/schema/control/netmap.js';
import { systemClock, type Clock } from '../control-client/clock.js';
import { RelayClient, type RelayClientOptions, type RelayClientState } from './client.js';
import { chooseHomeRegion } from './home.js';

/** A non-home region nobody sent to or heard from for this long is disconnected. */
export const RELAY_IDLE_CLOSE_MS = 60_000;
/** A relay that failed is avoided as home for this long (unless it is the only one). */
export const FAILED_REGION_PENALTY_MS = 60_000;
/**
 * Packets queued per region while its connection is being opened: enough for a handshake and
 * the disco burst that starts hole punching, so the first packets to a new peer aren't lost.
 */
export const MAX_QUEUED_PER_REGION = 64;
/** Queued packets older than this are dropped instead of sent late. */
export const QUEUED_PACKET_MAX_AGE_MS = 5_000;
/** How often idle connections and stale failure marks are swept. */
const SWEEP_INTERVAL_MS = 10_000;

/** The part of RelayClient the manager uses (tests may pass another implementation). */
export type RelayConnection = Pick<RelayClient, 'state' | 'start' | 'send' | 'close' | 'on'>;

export interface RelayManagerEvents {
  receive: [region: number, src: Uint8Array, payload: Uint8Array];
  /** Our home region changed (null: no relay map). */
  home: [region: number | null];
  /** A region's connection state changed. */
  state: [region: number, state: RelayClientState];
}

export interface RelayManagerOptions {
  readonly nodeKey: Uint8Array;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Makes the connection for one region; default a RelayClient. */
  readonly connect?: (opts: RelayClientOptions) => RelayConnection;
}

export interface RelayManagerCounters {
  /** Packets handed to a connected relay. */
  sent: number;
  /** Packets queued while a region connected. */
  queued: number;
  /** Packets dropped: no region usable, queue full, or queued too long. */
  dropped: number;
  received: number;
  homeChanges: number;
}

interface Region {
  readonly id: number;
  readonly url: string;
  conn: RelayConnection | null;
  lastUsed: number;
  readonly queue: { dst: Uint8Array; payload: Uint8Array; at: number }[];
}

export interface RegionStatus {
  readonly id: number;
  readonly home: boolean;
  readonly state: RelayClientState['state'] | 'not-connected';
}

export class RelayManager extends EventEmitter<RelayManagerEvents> {
  readonly counters: RelayManagerCounters = {
    sent: 0,
    queued: 0,
    dropped: 0,
    received: 0,
    homeChanges: 0,
  };
  private regions = new Map<number, Region>();
  private order: number[] = [];
  private token: string | null = null;
  private homeId: number | null = null;
  private preferred: number | null = null;
  private latencies = new Map<number, number>();
  private readonly failedAt = new Map<number, number>();
  private readonly clock: Clock;
  private sweepTimer: unknown = null;
  private closed = false;

  constructor(private readonly opts: RelayManagerOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
  }

  get home(): number | null {
    return this.homeId;
  }

  /** The relay map and token from the netmap; regions that left are disconnected. */
  setRelayMap(map: RelayMap, token: string | null): void {
    if (this.closed) return;
    this.token = token;
    const next = new Map<number, Region>();
    for (const r of map.regions) {
      const url = r.relays[0]?.url;
      if (!url) continue;
      const old = this.regions.get(r.id);
      if (old && old.url === url) next.set(r.id, old);
      else {
        if (old) this.disconnect(old);
        next.set(r.id, { id: r.id, url, conn: null, lastUsed: 0, queue: [] });
      }
    }
    for (const [id, old] of this.regions) if (!next.has(id)) this.disconnect(old);
    this.regions = next;
    this.order = [...next.keys()];
    this.rechoose();
    this.ensureSweep();
  }

  /** Region latencies (from netcheck). */
  setRegionLatencies(latencies: ReadonlyMap<number, number>): void {
    this.latencies = new Map(latencies);
    this.rechoose();
  }

  /** The region netcheck prefers; null lets latency (or map order) decide. */
  setPreferredRegion(id: number | null): void {
    this.preferred = id;
    this.rechoose();
  }

  /**
   * Sends one packet to `dst` through the first usable region of `prefer` (duplicates and
   * unknown regions are skipped), falling back to our home. Returns the region used, or null.
   * While a region connects, the packet waits in its queue and also goes through the next
   * connected region, if any: duplicates are harmless to WireGuard and disco.
   */
  send(dst: Uint8Array, payload: Uint8Array, prefer: readonly (number | null)[]): number | null {
    if (this.closed) return null;
    const now = this.clock.now();
    let queuedIn: number | null = null;
    const tried = new Set<number>();
    for (const id of [...prefer, this.homeId]) {
      if (id === null || tried.has(id)) continue;
      tried.add(id);
      const region = this.regions.get(id);
      if (!region) continue;
      region.lastUsed = now;
      const conn = this.ensureConnected(region);
      if (conn.state.state === 'connected') {
        if (conn.send(dst, payload)) {
          this.counters.sent++;
          return id;
        }
        continue;
      }
      if (queuedIn === null && this.enqueue(region, dst, payload, now)) queuedIn = id;
    }
    if (queuedIn === null) this.counters.dropped++;
    return queuedIn;
  }

  /** The region `send` would use right now (connected ones only), or null. */
  route(prefer: readonly (number | null)[]): number | null {
    for (const id of [...prefer, this.homeId]) {
      if (id !== null && this.isConnected(id)) return id;
    }
    return null;
  }

  /** Per-region connection states, home first. */
  status(): RegionStatus[] {
    return this.order
      .map((id) => {
        const r = this.regions.get(id);
        return {
          id,
          home: id === this.homeId,
          state: r?.conn ? r.conn.state.state : ('not-connected' as const),
        };
      })
      .sort((a, b) => Number(b.home) - Number(a.home));
  }

  isConnected(region: number): boolean {
    return this.regions.get(region)?.conn?.state.state === 'connected';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.sweepTimer);
    const regions = [...this.regions.values()];
    this.regions.clear();
    await Promise.all(regions.map((r) => this.disconnect(r)));
  }

  // -- internals -------------------------------------------------------------------------------

  private ensureConnected(region: Region): RelayConnection {
    if (region.conn) return region.conn;
    const connect = this.opts.connect ?? ((o: RelayClientOptions) => new RelayClient(o));
    const conn = connect({
      url: region.url,
      nodeKey: this.opts.nodeKey,
      token: () => {
        if (this.token === null) throw new Error('the netmap has no relay token');
        return this.token;
      },
      clock: this.clock,
      ...(this.opts.random ? { random: this.opts.random } : {}),
    });
    region.conn = conn;
    conn.on('receive', (src, payload) => {
      if (region.conn !== conn) return;
      region.lastUsed = this.clock.now();
      this.counters.received++;
      this.emit('receive', region.id, src, payload);
    });
    conn.on('state', (s) => {
      if (region.conn !== conn) return;
      this.onState(region, s);
    });
    conn.start();
    return conn;
  }

  private onState(region: Region, s: RelayClientState): void {
    if (s.state === 'connected') {
      this.failedAt.delete(region.id);
      this.flush(region);
      if (region.id !== this.homeId) this.rechoose();
    } else if (s.state === 'backoff') {
      this.failedAt.set(region.id, this.clock.now());
      region.queue.length = 0;
      if (region.id === this.homeId) this.rechoose();
    }
    this.emit('state', region.id, s);
  }

  private enqueue(region: Region, dst: Uint8Array, payload: Uint8Array, now: number): boolean {
    if (region.queue.length >= MAX_QUEUED_PER_REGION) return false;
    region.queue.push({ dst, payload, at: now });
    this.counters.queued++;
    return true;
  }

  private flush(region: Region): void {
    const conn = region.conn;
    const now = this.clock.now();
    for (const q of region.queue.splice(0)) {
      if (!conn || now - q.at > QUEUED_PACKET_MAX_AGE_MS || !conn.send(q.dst, q.payload)) {
        this.counters.dropped++;
      } else {
        this.counters.sent++;
      }
    }
  }

  private rechoose(): void {
    if (this.closed) return;
    const now = this.clock.now();
    for (const [id, at] of this.failedAt) {
      if (now - at > FAILED_REGION_PENALTY_MS) this.failedAt.delete(id);
    }
    const next = chooseHomeRegion({
      regions: this.order,
      current: this.homeId,
      preferred: this.preferred,
      latencies: this.latencies,
      failed: new Set(this.failedAt.keys()),
    });
    const region = next === null ? undefined : this.regions.get(next);
    if (region) {
      region.lastUsed = now;
      this.ensureConnected(region);
    }
    if (next === this.homeId) return;
    // Leave a working home only for a region that is up already (its 'connected' state calls
    // back here): a better-looking region that is actually down never takes over.
    if (region && this.homeId !== null && this.isConnected(this.homeId)) {
      if (!this.isConnected(region.id)) return;
    }
    this.homeId = next;
    this.counters.homeChanges++;
    this.emit('home', next);
  }

  private ensureSweep(): void {
    if (this.sweepTimer !== null || this.closed) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = null;
      this.sweep();
      if (this.regions.size > 0) this.ensureSweep();
    }, SWEEP_INTERVAL_MS);
  }

  /** Closes idle non-home connections; re-evaluates the home once failure marks expire. */
  private sweep(): void {
    const now = this.clock.now();
    for (const r of this.regions.values()) {
      if (r.id !== this.homeId && r.conn && now - r.lastUsed > RELAY_IDLE_CLOSE_MS) {
        void this.disconnect(r);
      }
    }
    this.rechoose();
  }

  private disconnect(region: Region): Promise<void> {
    const conn = region.conn;
    region.conn = null;
    region.queue.length = 0;
    return conn ? conn.close().catch(() => undefined) : Promise.resolve();
  }
}
