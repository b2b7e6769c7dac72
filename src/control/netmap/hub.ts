/**
 * The netmap hub: per network, the in-memory mesh state and the live map streams, and the delta
 * engine between them. One device's change costs work proportional to the devices that see it
 * (a pending delta per viewer, coalesced within one event-loop turn), never a rebuild of every
 * netmap — Headscale's quadratic failure mode. Wire JSON for peers is cached per device, and an
 * identical delta going to many viewers is serialized once.
 */
import crypto from 'node:crypto';
import type { MapHello, MapServerMessage } from '../../shared/schema/control/map-stream.js';
import type {
  DnsConfig,
  Netmap,
  NetmapPatch,
  Peer,
  PeerPatch,
  PostureQueries,
  RelayMap,
  RelayToken,
} from '../../shared/schema/control/netmap.js';
import type { NetworkSummary } from '../../shared/schema/control/auth.js';
import { ChangeLog } from './changelog.js';
import { isKeyExpired, type LivePatch, type MeshDevice } from './device.js';
import { toPeer, toSelf } from './peer-view.js';
import { PrimaryRoutes, type RouterState } from './primary-routes.js';
import {
  allowAllPolicy,
  type PeerPolicy,
  type PeerSetChange,
  type PolicyNetworkChange,
} from './policy.js';

/** Changes remembered per network for resumption: about a minute of heavy churn at 10k devices. */
const DEFAULT_CHANGELOG_CAPACITY = 16_384;
/** How long a dropped stream's resume state is kept: covers a laptop's Wi-Fi roam or a control restart behind a load balancer. */
const DEFAULT_RESUME_TTL_MS = 10 * 60_000;
/** Stream-seq → network-seq pairs kept per stream; a client lags the server by a few messages at most. */
const RESUME_PAIRS = 64;
/** Refresh a stream's relay token once less than this fraction of its lifetime remains. */
const RELAY_TOKEN_REFRESH_FRACTION = 1 / 3;

/**
 * Presence (online/offline) changes are batched over this window. After a control restart or a
 * network outage thousands of devices reconnect within seconds; sending each one's "online" to
 * every other device separately is N² messages. Batched, each viewer gets one delta per window
 * naming everyone who came or went, and a quarter second of presence lag is invisible to people.
 */
export const PRESENCE_BATCH_MS = 250;

export type CloseReason =
  | { type: 'replaced' }
  | { type: 'shutdown' }
  | {
      type: 'reauth';
      reason: 'key-expired' | 'device-deleted' | 'credential-revoked' | 'logged-out';
    };

/** Where a stream's messages go: the WebSocket adapter, or a test's collector. */
export interface MapSink {
  /** One serialized MapServerMessage. */
  sendText(json: string): void;
  /** The hub is done with this stream; `final` (if any) is the last message to send before closing. */
  close(reason: CloseReason, final?: string): void;
}

export interface HubNetwork {
  readonly summary: NetworkSummary;
  readonly dns: DnsConfig;
}

export interface HubOptions {
  readonly relayMap: () => RelayMap;
  readonly issueRelayToken: (device: MeshDevice) => Promise<RelayToken | null>;
  readonly policy?: PeerPolicy;
  readonly postureQueries?: (networkId: string) => PostureQueries;
  readonly clock?: () => number;
  readonly changelogCapacity?: number;
  readonly resumeTtlMs?: number;
  /** Runs the coalesced flush; setImmediate by default (after the current burst of events). */
  readonly schedule?: (fn: () => void) => void;
  /** Runs the presence batch after PRESENCE_BATCH_MS; null applies presence at once (tests). */
  readonly schedulePresence?: ((fn: () => void) => void) | null;
}

export type SubscribeError = {
  code: 'unknown_device' | 'key_expired' | 'not_approved' | 'unknown_network';
};

interface Pending {
  added: Set<string>;
  removed: Set<string>;
  patched: Map<string, PeerPatch>;
  /** Patches shared by reference with other viewers; copied before a merge mutates one. */
  shared: Set<string>;
  self: boolean;
  network: boolean;
  dns: boolean;
  relayMap: boolean;
  packetFilter: boolean;
  relayToken: RelayToken | null | undefined;
}

const emptyPending = (): Pending => ({
  added: new Set(),
  removed: new Set(),
  patched: new Map(),
  shared: new Set(),
  self: false,
  network: false,
  dns: false,
  relayMap: false,
  packetFilter: false,
  relayToken: undefined,
});

interface ResumeRecord {
  readonly token: string;
  readonly pairs: Array<[streamSeq: number, netSeq: number]>;
  readonly expiresAt: number;
}

export class Subscription {
  seq = 0;
  closed = false;
  pending: Pending | null = null;
  relayTokenExpiresAt = 0;
  /** Digest of the packet filter this stream last received: an equal one is not sent again. */
  filterDigest = '';
  readonly pairs: Array<[number, number]> = [];
  constructor(
    readonly deviceId: string,
    readonly network: NetworkState,
    readonly sink: MapSink,
    /** Names this stream for resumption; a resumed stream keeps the token it resumed. */
    public resumeToken: string,
  ) {}

  recordSent(netSeq: number): void {
    this.pairs.push([this.seq, netSeq]);
    if (this.pairs.length > RESUME_PAIRS) this.pairs.shift();
  }
}

class NetworkState {
  readonly devices = new Map<string, MeshDevice>();
  readonly subs = new Map<string, Subscription>();
  readonly resume = new Map<string, ResumeRecord>();
  readonly peerJson = new Map<string, { peer: Peer; json: string }>();
  /** One primary router per subnet prefix (see primary-routes.ts). */
  readonly primaries = new PrimaryRoutes();
  /** When each online device came online: the election prefers the longest online router. */
  readonly onlineSince = new Map<string, number>();
  constructor(
    public info: HubNetwork,
    readonly log: ChangeLog,
  ) {}
}

export interface HubStats {
  networks: number;
  devices: number;
  streams: number;
  messagesSent: number;
  bytesSent: number;
  fullMapsSent: number;
  resumes: number;
}

export class NetmapHub {
  private readonly networks = new Map<string, NetworkState>();
  private readonly deviceNetwork = new Map<string, string>();
  private readonly dirty = new Set<Subscription>();
  private flushScheduled = false;
  private readonly policy: PeerPolicy;
  private readonly clock: () => number;
  private readonly schedule: (fn: () => void) => void;
  private readonly epoch = crypto.randomBytes(6).toString('base64url');
  /** One serialization of a patch body, reused for every viewer receiving exactly that patch. */
  private readonly bodyMemo = new WeakMap<object, string>();
  /** Bodies of multi-patch deltas within one flush, keyed by the patch objects' numbers. */
  private readonly flushMemo = new Map<string, string>();

  private flushMemoKey(patches: readonly PeerPatch[]): string {
    let key = '';
    for (const x of patches) {
      let n = this.patchIds.get(x);
      if (n === undefined) this.patchIds.set(x, (n = this.nextPatchId++));
      key += `${n},`;
    }
    return key;
  }
  /** Shared patch objects get a number, so a set of them has a cheap signature for the flush memo. */
  private readonly patchIds = new WeakMap<object, number>();
  private nextPatchId = 0;
  /** Presence changes waiting for the batch window. */
  private readonly presence = new Map<string, LivePatch>();
  private presenceScheduled = false;
  readonly stats: HubStats = {
    networks: 0,
    devices: 0,
    streams: 0,
    messagesSent: 0,
    bytesSent: 0,
    fullMapsSent: 0,
    resumes: 0,
  };

  constructor(private readonly opts: HubOptions) {
    this.policy = opts.policy ?? allowAllPolicy;
    this.clock = opts.clock ?? Date.now;
    this.schedule = opts.schedule ?? ((fn) => setImmediate(fn));
  }

  // -- network and device state ------------------------------------------------------------

  setNetwork(id: string, info: HubNetwork): void {
    const existing = this.networks.get(id);
    if (!existing) {
      this.networks.set(
        id,
        new NetworkState(
          info,
          new ChangeLog(this.opts.changelogCapacity ?? DEFAULT_CHANGELOG_CAPACITY),
        ),
      );
      this.stats.networks = this.networks.size;
      return;
    }
    const summaryChanged = JSON.stringify(existing.info.summary) !== JSON.stringify(info.summary);
    const dnsChanged = JSON.stringify(existing.info.dns) !== JSON.stringify(info.dns);
    existing.info = info;
    if (!summaryChanged && !dnsChanged) return;
    existing.log.record({ kind: 'resync' });
    for (const sub of existing.subs.values()) {
      const p = this.pendingOf(sub);
      p.network ||= summaryChanged;
      p.dns ||= dnsChanged;
    }
  }

  /** The relay map changed (configuration reload): every stream of every network gets it. */
  relayMapChanged(): void {
    for (const net of this.networks.values()) {
      net.log.record({ kind: 'resync' });
      for (const sub of net.subs.values()) this.pendingOf(sub).relayMap = true;
    }
  }

  /** Policy changed in a network: each stream's peer set is recomputed and diffed. */
  policyChanged(networkId: string): void {
    const net = this.networks.get(networkId);
    if (!net) return;
    net.log.record({ kind: 'resync' });
    for (const sub of net.subs.values()) this.sendFull(sub, undefined);
  }

  getDevice(id: string): MeshDevice | undefined {
    const netId = this.deviceNetwork.get(id);
    return netId === undefined ? undefined : this.networks.get(netId)?.devices.get(id);
  }

  devices(networkId: string): IterableIterator<MeshDevice> {
    return (this.networks.get(networkId)?.devices ?? new Map<string, MeshDevice>()).values();
  }

  isOnline(id: string): boolean {
    const netId = this.deviceNetwork.get(id);
    return netId !== undefined && (this.networks.get(netId)?.subs.has(id) ?? false);
  }

  /** Adds a device or replaces its structural fields (rename, key rotation, approval, tags...). */
  upsertDevice(device: MeshDevice): void {
    const net = this.networks.get(device.networkId);
    if (!net) throw new Error(`netmap hub: unknown network ${device.networkId}`);
    const old = net.devices.get(device.id);
    // Live fields belong to the stream, not the database row the caller loaded.
    let next: MeshDevice =
      old && net.subs.has(device.id)
        ? {
            ...device,
            online: old.online,
            endpoints: old.endpoints,
            homeRelayRegion: old.homeRelayRegion,
            discoKey: old.discoKey,
            lastSeen: old.lastSeen,
          }
        : device;
    // A stateful policy learns of the change first; its posture verdict becomes part of the device.
    const change = this.policy.deviceChanged?.(next) ?? null;
    if (change) next = { ...next, posture: change.posture };
    net.devices.set(device.id, next);
    net.peerJson.delete(device.id);
    this.deviceNetwork.set(device.id, device.networkId);
    this.stats.devices = this.deviceNetwork.size;
    net.log.record({ kind: 'device', id: device.id });
    const lost = change ? new Set(change.lostBy) : null;
    // Viewers get this device whole below; other routers whose primaries moved, separately.
    const routers = this.reelect(net, device.id, old, next);
    routers.delete(device.id);

    for (const sub of net.subs.values()) {
      if (sub.deviceId === device.id) continue;
      const viewer = net.devices.get(sub.deviceId);
      if (!viewer) continue;
      const is = this.policy.visible(viewer, next);
      const was = lost ? lost.has(sub.deviceId) : old ? this.policy.visible(viewer, old) : false;
      if (is) this.markAdded(sub, device.id);
      else if (was) this.markRemoved(sub, device.id);
      if (!change && old && this.filterMayDepend(old, next))
        this.pendingOf(sub).packetFilter = true;
    }
    if (change) this.markFilters(net, change.filters);
    this.reshapeRouters(net, routers);

    const own = net.subs.get(device.id);
    if (own) {
      if (old && old.nodeKey !== next.nodeKey) {
        // A rotated key needs a new credential-bound stream: the client reconnects.
        this.closeSub(own, { type: 'reauth', reason: 'credential-revoked' });
      } else if (
        old &&
        (change
          ? change.self === null
          : old.approved !== next.approved || !sameJson(old.owner, next.owner))
      ) {
        // What this device may see changed and nobody computed how: resend its whole map.
        this.sendFull(own, undefined);
      } else {
        if (change?.self) this.markPeerSetChange(own, change.self);
        this.pendingOf(own).self = true;
      }
    }
  }

  /** A new policy for a network, as a stateful policy computed it: deltas to whoever it affects. */
  applyPolicyChange(networkId: string, change: PolicyNetworkChange): void {
    const net = this.networks.get(networkId);
    if (!net) return;
    net.log.record({ kind: 'resync' });
    for (const id of change.postures) {
      const d = net.devices.get(id);
      if (!d) continue;
      net.devices.set(id, { ...d, posture: change.posture(id) });
      const sub = net.subs.get(id);
      if (sub) this.pendingOf(sub).self = true;
    }
    for (const id of change.views) {
      const sub = net.subs.get(id);
      if (sub) this.markPeerSetChange(sub, change.peerChanges(id));
    }
    this.markFilters(net, change.filters);
  }

  private markPeerSetChange(sub: Subscription, c: PeerSetChange): void {
    for (const id of c.removed) this.markRemoved(sub, id);
    for (const id of c.added) this.markAdded(sub, id);
    for (const id of c.reshaped) this.markAdded(sub, id);
  }

  private markFilters(net: NetworkState, ids: readonly string[]): void {
    for (const id of ids) {
      const sub = net.subs.get(id);
      if (sub) this.pendingOf(sub).packetFilter = true;
    }
  }

  /** High-frequency changes (endpoints, presence): a partial peer patch to each viewer. */
  patchLive(id: string, patch: LivePatch): void {
    const netId = this.deviceNetwork.get(id);
    const net = netId === undefined ? undefined : this.networks.get(netId);
    const old = net?.devices.get(id);
    if (!net || !old) return;
    const next: MeshDevice = { ...old, ...patch };
    net.devices.set(id, next);
    if (patch.online === undefined && this.policy.liveFactsChanged?.(old, next)) {
      // Policy sees a different device (its public address moved countries): recompute views,
      // filters and posture as for any structural change.
      this.upsertDevice(next);
      return;
    }
    net.peerJson.delete(id);
    net.log.record({ kind: 'device', id });
    const shared: PeerPatch = { id, ...patch } as PeerPatch;
    for (const sub of net.subs.values()) {
      if (sub.deviceId === id) continue;
      const viewer = net.devices.get(sub.deviceId);
      if (!viewer || !this.policy.visible(viewer, next)) continue;
      this.markPatched(sub, id, shared);
    }
    // A router going offline hands its prefixes over (failover); one coming online may take
    // prefixes nobody online served.
    if (patch.online !== undefined && patch.online !== old.online)
      this.reshapeRouters(net, this.reelect(net, id, old, next));
  }

  removeDevice(id: string, reason: 'device-deleted' | 'logged-out' = 'device-deleted'): void {
    const netId = this.deviceNetwork.get(id);
    const net = netId === undefined ? undefined : this.networks.get(netId);
    const old = net?.devices.get(id);
    if (!net || !old) return;
    const own = net.subs.get(id);
    if (own) this.closeSub(own, { type: 'reauth', reason });
    const change = this.policy.deviceRemoved?.(old) ?? null;
    net.devices.delete(id);
    net.peerJson.delete(id);
    net.resume.delete(id);
    this.deviceNetwork.delete(id);
    this.stats.devices = this.deviceNetwork.size;
    net.log.record({ kind: 'device', id });
    const lost = change ? new Set(change.lostBy) : null;
    for (const sub of net.subs.values()) {
      const viewer = net.devices.get(sub.deviceId);
      if (viewer && (lost ? lost.has(sub.deviceId) : this.policy.visible(viewer, old)))
        this.markRemoved(sub, id);
    }
    if (change) this.markFilters(net, change.filters);
    const routers = this.reelect(net, id, old, undefined);
    routers.delete(id);
    this.reshapeRouters(net, routers);
  }

  /** The prefixes a device is primary router for (tests, admin views). */
  primaryRoutesOf(id: string): string[] {
    const netId = this.deviceNetwork.get(id);
    return (netId !== undefined && this.networks.get(netId)?.primaries.primariesOf(id)) || [];
  }

  /**
   * Re-elects primary routers after device `id` changed from `old` to `next` (undefined: removed):
   * its offered routes, approval or presence. Returns the routers whose primary prefixes moved.
   */
  private reelect(
    net: NetworkState,
    id: string,
    old: MeshDevice | undefined,
    next: MeshDevice | undefined,
  ): Set<string> {
    if (next?.online && !old?.online) net.onlineSince.set(id, this.clock());
    else if (!next?.online) net.onlineSince.delete(id);
    const state = (x: string): RouterState | undefined => {
      const d = net.devices.get(x);
      return (
        d && { online: d.online, onlineSince: net.onlineSince.get(x) ?? null, created: d.created }
      );
    };
    // Unapproved devices are in nobody's netmap, so they route nothing.
    const changed = net.primaries.setOffered(id, next?.approved ? next.routes.approved : [], state);
    if (next && old && next.online !== old.online)
      for (const x of net.primaries.presenceChanged(id, state)) changed.add(x);
    return changed;
  }

  /** Routers whose primary prefixes moved: every viewer that sees one gets it anew. */
  private reshapeRouters(net: NetworkState, routers: ReadonlySet<string>): void {
    for (const id of routers) {
      const d = net.devices.get(id);
      if (!d) continue;
      net.peerJson.delete(id);
      net.log.record({ kind: 'device', id });
      for (const sub of net.subs.values()) {
        if (sub.deviceId === id) continue;
        const viewer = net.devices.get(sub.deviceId);
        if (viewer && this.policy.visible(viewer, d)) this.markAdded(sub, id);
      }
    }
  }

  // -- streams -----------------------------------------------------------------------------

  /**
   * Starts a map stream for an authenticated device. Sends a full netmap, or — when the hello
   * carries a resume token this hub issued and still remembers — one delta with what changed.
   */
  async subscribe(
    deviceId: string,
    sink: MapSink,
    hello: MapHello,
  ): Promise<Subscription | SubscribeError> {
    const device = this.getDevice(deviceId);
    if (!device) return { code: 'unknown_device' };
    if (isKeyExpired(device, this.clock())) return { code: 'key_expired' };
    const token = await this.opts.issueRelayToken(device);
    // Everything below runs in one turn: no change can slip between the snapshot and the stream.
    const net = this.networks.get(device.networkId);
    const current = net?.devices.get(deviceId);
    if (!net || !current) return { code: 'unknown_device' };
    const previous = net.subs.get(deviceId);
    if (previous) this.closeSub(previous, { type: 'replaced' });

    const sub = new Subscription(
      deviceId,
      net,
      sink,
      `${this.epoch}.${crypto.randomBytes(9).toString('base64url')}`,
    );
    net.subs.set(deviceId, sub);
    this.stats.streams += 1;
    this.noteRelayToken(sub, token);

    const resumed = this.tryResume(sub, net, hello, token);
    if (!resumed) {
      // A failed resume starts over with a full map, still numbered after what the client had.
      if (hello.resume) sub.seq = hello.resume.seq;
      this.sendFull(sub, token);
    }
    net.resume.delete(deviceId);

    const live: LivePatch =
      current.discoKey !== hello.discoKey
        ? { online: true, discoKey: hello.discoKey }
        : { online: true };
    this.queuePresence(deviceId, live);
    return sub;
  }

  /** The stream ended (socket closed, idle, error). Remembers resume state; marks the device offline. */
  unsubscribe(sub: Subscription): void {
    if (sub.closed) return;
    sub.closed = true;
    this.detach(sub);
    this.queuePresence(sub.deviceId, {
      online: false,
      lastSeen: new Date(this.clock()).toISOString(),
    });
  }

  /** Applies batched presence changes now (tests; the presence timer calls it otherwise). */
  flushPresence(): void {
    this.presenceScheduled = false;
    const batch = [...this.presence];
    this.presence.clear();
    for (const [id, patch] of batch) this.patchLive(id, patch);
  }

  private queuePresence(id: string, patch: LivePatch): void {
    const schedule =
      this.opts.schedulePresence === undefined
        ? (fn: () => void) => setTimeout(fn, PRESENCE_BATCH_MS).unref()
        : this.opts.schedulePresence;
    if (schedule === null) {
      this.patchLive(id, patch);
      return;
    }
    this.presence.set(id, { ...this.presence.get(id), ...patch });
    if (!this.presenceScheduled) {
      this.presenceScheduled = true;
      schedule(() => this.flushPresence());
    }
  }

  /** Refreshes relay tokens that are due and closes streams whose node key expired. Call every ~minute. */
  async sweep(): Promise<void> {
    const now = this.clock();
    for (const net of this.networks.values()) {
      for (const [id, rec] of net.resume) if (rec.expiresAt <= now) net.resume.delete(id);
      for (const sub of [...net.subs.values()]) {
        const d = net.devices.get(sub.deviceId);
        if (!d) continue;
        if (isKeyExpired(d, now)) {
          this.closeSub(sub, { type: 'reauth', reason: 'key-expired' });
          continue;
        }
        if (
          sub.relayTokenExpiresAt === 0 ||
          sub.relayTokenExpiresAt > now + this.refreshMargin(sub)
        )
          continue;
        const token = await this.opts.issueRelayToken(d);
        if (sub.closed) continue;
        this.noteRelayToken(sub, token);
        this.pendingOf(sub).relayToken = token;
      }
    }
  }

  /** Closes every stream (server shutdown). */
  shutdown(): void {
    for (const net of this.networks.values())
      for (const sub of [...net.subs.values()]) this.closeSub(sub, { type: 'shutdown' });
  }

  /** Applies coalesced deltas now (tests; the scheduler calls it otherwise). */
  flush(): void {
    this.flushScheduled = false;
    const subs = [...this.dirty];
    this.dirty.clear();
    this.flushMemo.clear();
    for (const sub of subs) {
      const p = sub.pending;
      sub.pending = null;
      if (!p || sub.closed) continue;
      const body = this.patchBody(sub, p);
      if (body === null) continue;
      sub.seq += 1;
      sub.recordSent(sub.network.log.lastSeq);
      this.emit(sub, `{"type":"delta","seq":${sub.seq},"patch":${body}}`);
    }
    this.flushMemo.clear();
  }

  // -- internals ---------------------------------------------------------------------------

  private refreshMargin(sub: Subscription): number {
    const ttl = this.lastTokenTtl.get(sub) ?? 0;
    return ttl * RELAY_TOKEN_REFRESH_FRACTION;
  }
  private readonly lastTokenTtl = new WeakMap<Subscription, number>();

  private noteRelayToken(sub: Subscription, token: RelayToken | null): void {
    if (!token) {
      sub.relayTokenExpiresAt = 0;
      return;
    }
    const exp = Date.parse(token.expiresAt);
    sub.relayTokenExpiresAt = exp;
    this.lastTokenTtl.set(sub, Math.max(0, exp - this.clock()));
  }

  private filterMayDepend(old: MeshDevice, next: MeshDevice): boolean {
    return (
      old.approved !== next.approved ||
      old.addresses.ipv4 !== next.addresses.ipv4 ||
      old.addresses.ipv6 !== next.addresses.ipv6 ||
      !sameJson(old.owner, next.owner) ||
      !sameJson(old.posture, next.posture)
    );
  }

  private tryResume(
    sub: Subscription,
    net: NetworkState,
    hello: MapHello,
    token: RelayToken | null,
  ): boolean {
    if (!hello.resume) return false;
    const rec = net.resume.get(sub.deviceId);
    if (!rec || rec.token !== hello.resume.token || rec.expiresAt <= this.clock()) return false;
    const pair = rec.pairs.find(([s]) => s === hello.resume?.seq);
    if (!pair) return false;
    const catchUp = net.log.since(pair[1]);
    if (catchUp.type === 'full') return false;
    const viewer = net.devices.get(sub.deviceId);
    if (!viewer) return false;
    const added: Peer[] = [];
    const removed: string[] = [];
    for (const id of catchUp.ids) {
      if (id === sub.deviceId) continue;
      const target = net.devices.get(id);
      if (target && this.policy.visible(viewer, target))
        added.push(this.peerFor(net, viewer, target));
      else removed.push(id);
    }
    const packetFilter = this.policy.packetFilter(viewer, net.devices);
    sub.filterDigest = digest(JSON.stringify(packetFilter));
    const patch: NetmapPatch = { self: toSelf(viewer), relayToken: token, packetFilter };
    if (added.length) patch.peersAdded = added;
    if (removed.length) patch.peersRemoved = removed;
    // The resumed stream continues the old one: same token, numbering after the client's seq.
    sub.resumeToken = rec.token;
    sub.seq = hello.resume.seq + 1;
    sub.recordSent(net.log.lastSeq);
    this.stats.resumes += 1;
    this.emit(
      sub,
      JSON.stringify({ type: 'delta', seq: sub.seq, patch } satisfies MapServerMessage),
    );
    return true;
  }

  private sendFull(sub: Subscription, token: RelayToken | null | undefined): void {
    const net = sub.network;
    const viewer = net.devices.get(sub.deviceId);
    if (!viewer) return;
    // A full map supersedes whatever was pending for this stream.
    sub.pending = null;
    this.dirty.delete(sub);
    const peerTexts: string[] = [];
    for (const target of net.devices.values()) {
      if (!this.policy.visible(viewer, target)) continue;
      const cached = this.cachedPeer(net, target);
      const adjusted = this.policy.peerFor(viewer, target, cached.peer);
      peerTexts.push(adjusted === cached.peer ? cached.json : JSON.stringify(adjusted));
    }
    const packetFilter = this.policy.packetFilter(viewer, net.devices);
    sub.filterDigest = digest(JSON.stringify(packetFilter));
    const rest: Omit<Netmap, 'peers'> = {
      network: net.info.summary,
      self: toSelf(viewer),
      packetFilter,
      dns: net.info.dns,
      relayMap: this.opts.relayMap(),
      relayToken: token === undefined ? (this.currentToken.get(sub) ?? null) : token,
      postureQueries: this.policy.postureQueries?.(net.info.summary.id) ??
        this.opts.postureQueries?.(net.info.summary.id) ?? { processPaths: [] },
      collectedAt: new Date(this.clock()).toISOString(),
    };
    if (token !== undefined) this.currentToken.set(sub, token);
    const restJson = JSON.stringify(rest);
    sub.seq += 1;
    sub.recordSent(net.log.lastSeq);
    this.stats.fullMapsSent += 1;
    this.emit(
      sub,
      `{"type":"full","seq":${sub.seq},"resumeToken":${JSON.stringify(sub.resumeToken)},"netmap":{"peers":[${peerTexts.join(',')}],${restJson.slice(1)}}`,
    );
  }
  private readonly currentToken = new WeakMap<Subscription, RelayToken | null>();

  private patchBody(sub: Subscription, p: Pending): string | null {
    const net = sub.network;
    const viewer = net.devices.get(sub.deviceId);
    if (!viewer) return null;
    const onlyShared =
      p.added.size === 0 &&
      p.removed.size === 0 &&
      p.patched.size > 0 &&
      p.shared.size === p.patched.size &&
      !p.self &&
      !p.network &&
      !p.dns &&
      !p.relayMap &&
      !p.packetFilter &&
      p.relayToken === undefined;
    if (onlyShared) {
      // Every viewer that got exactly these shared patches gets the same bytes: serialize once.
      const patches = [...p.patched.values()];
      const key = patches.length === 1 ? patches[0]! : this.flushMemoKey(patches);
      let memo = typeof key === 'string' ? this.flushMemo.get(key) : this.bodyMemo.get(key);
      if (memo === undefined) {
        memo = `{"peersPatched":[${patches.map((x) => JSON.stringify(x)).join(',')}]}`;
        if (typeof key === 'string') this.flushMemo.set(key, memo);
        else this.bodyMemo.set(key, memo);
      }
      return memo;
    }
    const patch: NetmapPatch = {};
    if (p.removed.size) patch.peersRemoved = [...p.removed];
    if (p.added.size) {
      const added: Peer[] = [];
      for (const id of p.added) {
        const target = net.devices.get(id);
        if (target && this.policy.visible(viewer, target))
          added.push(this.peerFor(net, viewer, target));
      }
      if (added.length) patch.peersAdded = added;
    }
    if (p.patched.size) patch.peersPatched = [...p.patched.values()];
    if (p.self) patch.self = toSelf(viewer);
    if (p.network) patch.network = net.info.summary;
    if (p.dns) patch.dns = net.info.dns;
    if (p.relayMap) patch.relayMap = this.opts.relayMap();
    if (p.packetFilter) {
      // Policy diffs may flag a filter that came out the same (they are conservative): the
      // stream already has it, so it is not sent again.
      const filter = this.policy.packetFilter(viewer, net.devices);
      const d = digest(JSON.stringify(filter));
      if (d !== sub.filterDigest) {
        patch.packetFilter = filter;
        sub.filterDigest = d;
      }
    }
    if (p.relayToken !== undefined) {
      patch.relayToken = p.relayToken;
      this.currentToken.set(sub, p.relayToken);
    }
    if (Object.keys(patch).length === 0) return null;
    return JSON.stringify(patch);
  }

  private peerFor(net: NetworkState, viewer: MeshDevice, target: MeshDevice): Peer {
    const base = this.cachedPeer(net, target).peer;
    return this.policy.peerFor(viewer, target, base);
  }

  private cachedPeer(net: NetworkState, d: MeshDevice): { peer: Peer; json: string } {
    let c = net.peerJson.get(d.id);
    if (!c) {
      const peer = toPeer(d, net.primaries.primariesOf(d.id));
      c = { peer, json: JSON.stringify(peer) };
      net.peerJson.set(d.id, c);
    }
    return c;
  }

  private pendingOf(sub: Subscription): Pending {
    if (!sub.pending) sub.pending = emptyPending();
    this.dirty.add(sub);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.schedule(() => this.flush());
    }
    return sub.pending;
  }

  private markAdded(sub: Subscription, id: string): void {
    const p = this.pendingOf(sub);
    p.removed.delete(id);
    p.patched.delete(id);
    p.shared.delete(id);
    p.added.add(id);
  }

  private markRemoved(sub: Subscription, id: string): void {
    const p = this.pendingOf(sub);
    p.added.delete(id);
    p.patched.delete(id);
    p.shared.delete(id);
    p.removed.add(id);
  }

  private markPatched(sub: Subscription, id: string, patch: PeerPatch): void {
    const p = this.pendingOf(sub);
    if (p.added.has(id)) return; // the full peer is built at flush time, with this change in it
    const prev = p.patched.get(id);
    if (!prev) {
      p.patched.set(id, patch);
      p.shared.add(id);
      return;
    }
    p.patched.set(id, { ...prev, ...patch });
    p.shared.delete(id);
  }

  private emit(sub: Subscription, text: string): void {
    this.stats.messagesSent += 1;
    this.stats.bytesSent += text.length;
    sub.sink.sendText(text);
  }

  private detach(sub: Subscription): void {
    const net = sub.network;
    if (net.subs.get(sub.deviceId) === sub) net.subs.delete(sub.deviceId);
    this.dirty.delete(sub);
    sub.pending = null;
    this.stats.streams = Math.max(0, this.stats.streams - 1);
    net.resume.set(sub.deviceId, {
      token: sub.resumeToken,
      pairs: sub.pairs,
      expiresAt: this.clock() + (this.opts.resumeTtlMs ?? DEFAULT_RESUME_TTL_MS),
    });
  }

  private closeSub(sub: Subscription, reason: CloseReason): void {
    if (sub.closed) return;
    sub.closed = true;
    this.detach(sub);
    let final: string | undefined;
    if (reason.type === 'reauth') {
      const msg: MapServerMessage = {
        type: 'reauth-required',
        reason: reason.reason,
        message: reauthMessage[reason.reason],
      };
      final = JSON.stringify(msg);
      this.stats.messagesSent += 1;
    }
    sub.sink.close(reason, final);
    if (reason.type !== 'replaced' && this.getDevice(sub.deviceId)) {
      this.queuePresence(sub.deviceId, {
        online: false,
        lastSeen: new Date(this.clock()).toISOString(),
      });
    }
  }
}

/** A short fingerprint of a serialized value (what a stream last received). */
const digest = (json: string): string => crypto.createHash('sha256').update(json).digest('base64');

/** Structural equality for the small JSON-shaped values devices carry (owner, posture). */
const sameJson = (a: unknown, b: unknown): boolean =>
  a === b || JSON.stringify(a) === JSON.stringify(b);

const reauthMessage = {
  'key-expired': 'This device’s key has expired: sign in again to reconnect it.',
  'device-deleted': 'This device was removed from the network: sign in to add it again.',
  'credential-revoked': 'This device’s credentials changed: sign in again.',
  'logged-out': 'This device was logged out.',
} as const;
