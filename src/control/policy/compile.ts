/**
 * The policy engine of one network: the current policy compiled against the current devices,
 * kept up to date one change at a time, answering the netmap hub's questions.
 *
 *   visible(viewer, target)     may they reach each other (in either direction)?
 *   peerFor(viewer, basePeer)   the peer as the viewer sees it: only routes and the exit node
 *                               policy lets the viewer use stay in its allowed IPs;
 *   packetFilter(device)        its inbound filter (it is the destination);
 *   posture(device)             its posture results, evaluated here because they depend on policy.
 *
 * Every mutation returns what it changed, so the hub sends deltas to exactly those devices:
 *   upsertDevice / removeDevice / upsertUser → DeviceDelta: which viewers gained or lost the
 *     device, whose filters changed, how the device's own peer list changed, whether its posture
 *     results changed. Cost: the rules whose membership the device changed, times their members
 *     (the devices whose view or filter really changes), plus O(devices · rules/32) word ANDs only
 *     when the device's own rule memberships changed. Never a recompile of the network.
 *   setPolicy → PolicyChange: which devices' views, filters and postures changed, and a per-viewer
 *     peer diff. Cost: one compile (devices × rules) plus a comparison over classes of devices
 *     with identical memberships (see policy-diff.ts).
 */
import type { PacketFilter, Peer } from '../../shared/schema/control/netmap.js';
import { forEachBit, hasBit, orBits, sameBits, xorBits } from './bitset.js';
import {
  Compiled,
  type DeviceEntry,
  type DeviceTable,
  type Membership,
  type PolicyDevice,
} from './compiled.js';
import type { Policy } from './document.js';
import type { GeoLookup } from './geo.js';
import type { PolicyUser } from './match.js';
import { diffPolicies, peerSetChange, type PeerSetChange } from './policy-diff.js';
import type { PostureEvaluation } from './posture.js';
import { hostPrefix, parseAddr, parsePrefixText, type Addr, type Prefix } from './prefix.js';

export type { PolicyDevice } from './compiled.js';
export type { PeerSetChange } from './policy-diff.js';

export interface DeviceDelta {
  readonly id: string;
  /** Other devices that now have `id` in their netmap and did not before. */
  readonly gainedBy: readonly string[];
  /** Other devices that had `id` in their netmap and no longer do. */
  readonly lostBy: readonly string[];
  /** Devices whose packet filter changed (may include `id`). */
  readonly filters: readonly string[];
  /**
   * How `id`'s own peer list changed. Empty when its memberships did not change, and for a
   * device the engine did not know before (it gets a full netmap).
   */
  readonly self: PeerSetChange;
  /** `id`'s posture results changed (its self node). */
  readonly postureChanged: boolean;
}

export interface PolicyChange {
  /** Devices whose peer list or use of peers' routes changed. */
  readonly views: readonly string[];
  readonly filters: readonly string[];
  readonly postures: readonly string[];
  /**
   * The exact peer diff for one viewer (O(devices)). Valid until the engine's next mutation;
   * calling it later is a programming error and throws.
   */
  peerChanges(viewerId: string): PeerSetChange;
}

export interface EngineOptions {
  /** The operator's country database; null: geolocation checks fail (see posture.ts). */
  readonly geo?: GeoLookup | null;
}

const noChange: PeerSetChange = { added: [], removed: [], reshaped: [] };

export class PolicyEngine implements DeviceTable {
  private readonly byId = new Map<string, DeviceEntry>();
  private readonly bySlot: Array<DeviceEntry | undefined> = [];
  private readonly freeSlots: number[] = [];
  private readonly byUser = new Map<string, Set<number>>();
  private compiled: Compiled;
  private geo: GeoLookup | null;
  /** Bumped by every mutation; stale PolicyChange objects check it. */
  private version = 0;

  constructor(policy: Policy, opts: EngineOptions = {}) {
    this.geo = opts.geo ?? null;
    this.compiled = new Compiled(policy, this, this.geo);
  }

  get policy(): Policy {
    return this.compiled.policy;
  }

  get size(): number {
    return this.byId.size;
  }

  // -- DeviceTable -------------------------------------------------------------------------

  entry(slot: number): DeviceEntry | undefined {
    return this.bySlot[slot];
  }
  slotsOfUser(userId: string): ReadonlySet<number> | undefined {
    return this.byUser.get(userId);
  }
  entries(): Iterable<DeviceEntry> {
    return this.byId.values();
  }

  // -- queries -----------------------------------------------------------------------------

  has(id: string): boolean {
    return this.byId.has(id);
  }

  visible(viewerId: string, targetId: string): boolean {
    const a = this.byId.get(viewerId);
    const b = this.byId.get(targetId);
    return !!a && !!b && this.compiled.visible(a.slot, b.slot);
  }

  /** Ids of every device `viewerId` sees (O(devices)). */
  peersOf(viewerId: string): string[] {
    const v = this.byId.get(viewerId);
    if (!v) return [];
    const out: string[] = [];
    for (const e of this.byId.values())
      if (this.compiled.visible(v.slot, e.slot)) out.push(e.device.id);
    return out;
  }

  /**
   * The device's inbound filter, cached until a delta names it. Source arrays are shared between
   * devices (one per rule): serialize them, never mutate them.
   */
  packetFilter(id: string): PacketFilter {
    const e = this.byId.get(id);
    return e ? this.compiled.packetFilter(e.slot) : [];
  }

  posture(id: string): PostureEvaluation | null {
    const e = this.byId.get(id);
    return (e && this.compiled.membership(e.slot)?.posture) ?? null;
  }

  /** May `viewerId` send traffic through route `cidr` (of whichever router serves it)? */
  routeUsable(viewerId: string, cidr: string): boolean {
    const m = this.membershipOf(viewerId);
    const p = parsePrefixText(cidr);
    return !!m && p.ok && this.compiled.routeUsableBy(m.src, p.value);
  }

  /** May `viewerId` use exit nodes? */
  exitUsable(viewerId: string): boolean {
    const m = this.membershipOf(viewerId);
    return !!m && this.compiled.exitUsableBy(m.src);
  }

  /**
   * The peer as `viewerId` sees it: routes it may not use leave routesOffered, primaryRoutes and
   * allowedIPs; exitNodeOffered only when it may use exit nodes. Returns `base` itself when
   * nothing changes, so the hub's cached JSON for the peer is reused.
   */
  peerFor(viewerId: string, base: Peer): Peer {
    const m = this.membershipOf(viewerId);
    if (!m) return base;
    const usable = new Set<string>();
    for (const r of base.routesOffered) {
      const p = parsePrefixText(r);
      if (p.ok && this.compiled.routeUsableBy(m.src, p.value)) usable.add(r);
    }
    const exit = base.exitNodeOffered && this.compiled.exitUsableBy(m.src);
    if (usable.size === base.routesOffered.length && exit === base.exitNodeOffered) return base;
    const offered = new Set(base.routesOffered);
    const keep = (c: string): boolean => !offered.has(c) || usable.has(c);
    const peer: Peer = {
      ...base,
      allowedIPs: base.allowedIPs.filter(keep),
      routesOffered: base.routesOffered.filter((r) => usable.has(r)),
      exitNodeOffered: exit,
    };
    if (base.primaryRoutes) peer.primaryRoutes = base.primaryRoutes.filter(keep);
    return peer;
  }

  // -- mutations ---------------------------------------------------------------------------

  /** Adds a device or replaces it (approval, owner, tags, routes, exit node, host info...). */
  upsertDevice(device: PolicyDevice): DeviceDelta {
    this.version++;
    const prev = this.byId.get(device.id);
    const slot = prev?.slot ?? this.freeSlots.pop() ?? this.bySlot.length;
    const entry = makeEntry(slot, device);
    this.place(prev, entry);
    const c = this.compiled;
    const oldM = c.membership(slot);
    const newM = c.evaluate(entry);
    const addrsChanged = !prev || !sameList(prev.addrTexts, entry.addrTexts);
    c.apply(slot, newM, addrsChanged);
    return this.delta(prev, entry, oldM, newM, addrsChanged, true);
  }

  /**
   * Adds many devices without computing deltas: the start-up load, before any stream exists.
   * Devices already known are replaced.
   */
  load(devices: Iterable<PolicyDevice>): void {
    this.version++;
    const c = this.compiled;
    for (const device of devices) {
      const prev = this.byId.get(device.id);
      const slot = prev?.slot ?? this.freeSlots.pop() ?? this.bySlot.length;
      const entry = makeEntry(slot, device);
      this.place(prev, entry);
      c.apply(slot, c.evaluate(entry), true);
    }
    // Source lists and filters may name any device now; they rebuild lazily.
    for (const e of this.byId.values()) c.invalidateFilter(e.slot);
  }

  /** Removes a device; null when it was not there. */
  removeDevice(id: string): DeviceDelta | null {
    const prev = this.byId.get(id);
    if (!prev) return null;
    this.version++;
    const c = this.compiled;
    const gone: DeviceEntry = { ...prev, device: { ...prev.device, approved: false } };
    const oldM = c.membership(prev.slot);
    const newM = c.evaluate(gone);
    c.apply(prev.slot, newM, false);
    const d = this.delta(prev, gone, oldM, newM, false, false);
    c.apply(prev.slot, undefined, false);
    this.place(prev, undefined);
    return { ...d, filters: d.filters.filter((f) => f !== id) };
  }

  /** A user's role, email or IdP groups changed: re-evaluates each of their devices. */
  upsertUser(user: PolicyUser): DeviceDelta[] {
    const slots = [...(this.byUser.get(user.id) ?? [])];
    const out: DeviceDelta[] = [];
    for (const s of slots) {
      const e = this.bySlot[s];
      if (e) out.push(this.upsertDevice({ ...e.device, owner: { type: 'user', user } }));
    }
    return out;
  }

  /** Compiles a new policy against every device and reports what changed. */
  setPolicy(policy: Policy): PolicyChange {
    return this.recompile(policy);
  }

  /** A new country database: posture results (and through them, views) may change. */
  setGeo(geo: GeoLookup | null): PolicyChange {
    this.geo = geo;
    return this.recompile(this.compiled.policy);
  }

  // -- internals ---------------------------------------------------------------------------

  private recompile(policy: Policy): PolicyChange {
    this.version++;
    const version = this.version;
    const old = this.compiled;
    const next = new Compiled(policy, this, this.geo);
    for (const e of this.byId.values()) next.apply(e.slot, next.evaluate(e), true);
    this.compiled = next;
    const diff = diffPolicies(old, next, this);
    return {
      ...diff,
      peerChanges: (viewerId) => {
        if (this.version !== version) {
          throw new Error('PolicyChange.peerChanges called after a later engine mutation');
        }
        const v = this.byId.get(viewerId);
        return v ? peerSetChange(old, next, this, v) : noChange;
      },
    };
  }

  private membershipOf(id: string): Membership | undefined {
    const e = this.byId.get(id);
    return e && this.compiled.membership(e.slot);
  }

  /** Moves a device between the id, slot and user indexes (`next` undefined: removes it). */
  private place(prev: DeviceEntry | undefined, next: DeviceEntry | undefined): void {
    if (prev && prev.userId !== null && prev.userId !== next?.userId) {
      const set = this.byUser.get(prev.userId);
      set?.delete(prev.slot);
      if (set?.size === 0) this.byUser.delete(prev.userId);
    }
    if (!next) {
      if (prev) {
        this.byId.delete(prev.device.id);
        this.bySlot[prev.slot] = undefined;
        this.freeSlots.push(prev.slot);
      }
      return;
    }
    this.byId.set(next.device.id, next);
    this.bySlot[next.slot] = next;
    if (next.userId !== null) {
      let set = this.byUser.get(next.userId);
      if (!set) this.byUser.set(next.userId, (set = new Set()));
      set.add(next.slot);
    }
  }

  private delta(
    prev: DeviceEntry | undefined,
    entry: DeviceEntry,
    oldM: Membership | undefined,
    newM: Membership,
    addrsChanged: boolean,
    withSelf: boolean,
  ): DeviceDelta {
    const c = this.compiled;
    const slot = entry.slot;
    const empty = new Uint32Array(newM.src.length);
    const o = oldM ?? { src: empty, srcAddr: empty, dst: empty, self: empty };
    const userChanged = prev !== undefined && prev.userId !== entry.userId;
    const users = [...new Set([prev?.userId ?? null, entry.userId])].filter(
      (u): u is string => u !== null,
    );
    const sameUserSlots = (fn: (s: number) => void): void => {
      for (const u of users) for (const s of this.byUser.get(u) ?? []) fn(s);
    };

    const candidates = new Set<number>();
    const filters = new Set<number>();
    const srcFlip = xorBits(o.src, newM.src);
    const dstFlip = xorBits(o.dst, newM.dst);
    const selfFlip = xorBits(o.self, newM.self);
    const addrFlip = xorBits(o.srcAddr, newM.srcAddr);

    forEachBit(srcFlip, (i) => {
      const rs = c.rules[i];
      if (!rs) return;
      rs.members.dst.forEach((s) => candidates.add(s));
      sameUserSlots((s) => {
        if (rs.members.self.has(s)) candidates.add(s);
      });
    });
    forEachBit(dstFlip, (i) => c.rules[i]?.members.src.forEach((s) => candidates.add(s)));
    forEachBit(selfFlip, (i) => {
      const rs = c.rules[i];
      sameUserSlots((s) => {
        if (rs?.members.src.has(s)) candidates.add(s);
      });
    });
    if (userChanged) sameUserSlots((s) => candidates.add(s));

    // Only rules the device is or was a source of can have changed source lists.
    const sourceOf = orBits(o.src, newM.src);
    forEachBit(sourceOf, (i) => {
      const rs = c.rules[i];
      if (!rs) return;
      const inAddr = hasBit(o.srcAddr, i) || hasBit(newM.srcAddr, i);
      if (hasBit(addrFlip, i) || (addrsChanged && inAddr)) {
        rs.members.dst.forEach((s) => filters.add(s));
      }
      if (rs.self.length > 0 && (hasBit(srcFlip, i) || addrsChanged || userChanged)) {
        sameUserSlots((s) => {
          if (rs.members.self.has(s)) filters.add(s);
        });
      }
    });

    const membershipChanged =
      !oldM ||
      !sameBits(o.src, newM.src) ||
      !sameBits(o.dst, newM.dst) ||
      !sameBits(o.self, newM.self) ||
      userChanged;
    if (
      membershipChanged ||
      addrsChanged ||
      (oldM !== undefined && c.dstEntriesDiffer(oldM, newM)) ||
      !sameList(prev?.device.routes ?? [], entry.device.routes) ||
      prev?.device.exitNode !== entry.device.exitNode
    ) {
      filters.add(slot);
    }

    const gainedBy: string[] = [];
    const lostBy: string[] = [];
    const oldEntry = prev ?? entry;
    for (const s of candidates) {
      if (s === slot) continue;
      const v = this.bySlot[s];
      const mv = c.membership(s);
      if (!v || !mv) continue;
      const was = oldM !== undefined && Compiled.visibleWith(mv, v, oldM, oldEntry);
      const is = Compiled.visibleWith(mv, v, newM, entry);
      if (is && !was) gainedBy.push(v.device.id);
      else if (was && !is) lostBy.push(v.device.id);
    }

    const ids: string[] = [];
    for (const s of filters) {
      c.invalidateFilter(s);
      const e = this.bySlot[s];
      if (e) ids.push(e.device.id);
    }

    // A new device gets a full netmap; its own diff matters only for a device already streaming.
    const self =
      withSelf && oldM && membershipChanged
        ? this.selfChange(oldM, oldEntry, newM, entry)
        : noChange;
    return {
      id: entry.device.id,
      gainedBy,
      lostBy,
      filters: ids,
      self,
      postureChanged:
        JSON.stringify(oldM?.posture.results ?? []) !== JSON.stringify(newM.posture.results),
    };
  }

  /** The device's own peer diff after its memberships changed: O(devices · rules/32). */
  private selfChange(
    oldM: Membership,
    oldEntry: DeviceEntry,
    newM: Membership,
    entry: DeviceEntry,
  ): PeerSetChange {
    const c = this.compiled;
    const added: string[] = [];
    const removed: string[] = [];
    const reshaped: string[] = [];
    for (const t of this.byId.values()) {
      if (t.slot === entry.slot) continue;
      const mt = c.membership(t.slot);
      if (!mt) continue;
      const was = Compiled.visibleWith(oldM, oldEntry, mt, t);
      const is = Compiled.visibleWith(newM, entry, mt, t);
      if (is && !was) added.push(t.device.id);
      else if (was && !is) removed.push(t.device.id);
      else if (is && usesDiffer(c, oldM, newM, t)) reshaped.push(t.device.id);
    }
    return { added, removed, reshaped };
  }
}

/** Whether two source memberships may use a different part of `t`'s routes or exit node. */
function usesDiffer(c: Compiled, a: Membership, b: Membership, t: DeviceEntry): boolean {
  if (t.device.exitNode && c.exitUsableBy(a.src) !== c.exitUsableBy(b.src)) return true;
  return t.routes.some((r) => c.routeUsableBy(a.src, r) !== c.routeUsableBy(b.src, r));
}

function makeEntry(slot: number, device: PolicyDevice): DeviceEntry {
  const addrs: Addr[] = [];
  for (const text of [device.addresses.ipv4, device.addresses.ipv6]) {
    const a = parseAddr(text);
    if (a.ok) addrs.push(a.value);
  }
  const routes: Prefix[] = [];
  for (const r of device.routes) {
    const p = parsePrefixText(r);
    if (p.ok) routes.push(p.value);
  }
  return {
    slot,
    device,
    addrs,
    addrTexts: addrs.map((a) => hostPrefix(a).text),
    routes,
    userId: device.owner.type === 'user' ? device.owner.user.id : null,
  };
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);
