/**
 * What a new policy changes, device by device, without comparing every pair of devices.
 *
 * Visibility of a pair depends only on the two devices' rule memberships (and, for
 * autogroup:self, on whether one user owns both). Devices with the same memberships under the old
 * policy and the same under the new one form a *joint class*; networks have few of them (roughly
 * one per distinct combination of groups, tags and posture), and comparing old and new visibility
 * class against class costs word ANDs per pair of classes, not per pair of devices; classes that
 * are no rule's destination are compared only with those that are. Same-user pairs,
 * where autogroup:self may apply, are compared exactly per user (users own a handful of devices).
 * Filters are compared by fingerprint (compiled.ts) and postures by their results.
 */
import { bitsKey, intersects, isEmpty, sameBits } from './bitset.js';
import { Compiled, type DeviceEntry, type DeviceTable, type Membership } from './compiled.js';
import type { Prefix } from './prefix.js';

export interface PeerSetChange {
  /** Peers the viewer now sees. */
  readonly added: readonly string[];
  /** Peers the viewer no longer sees. */
  readonly removed: readonly string[];
  /** Peers it still sees whose routes or exit node it may now use differently. */
  readonly reshaped: readonly string[];
}

export interface PolicyDiff {
  readonly views: readonly string[];
  readonly filters: readonly string[];
  readonly postures: readonly string[];
}

interface JointClass {
  readonly old: Membership;
  readonly next: Membership;
  readonly members: DeviceEntry[];
  /** Members per owning user (tagged devices are not counted). */
  readonly perUser: Map<string, number>;
}

/** Classes merged on the part of their memberships one side of a comparison reads. */
interface Aggregate {
  readonly old: Membership;
  readonly next: Membership;
  count: number;
  readonly perUser: Map<string, number>;
}

function aggregate(list: readonly JointClass[], key: (m: Membership) => string): Aggregate[] {
  const out = new Map<string, Aggregate>();
  for (const c of list) {
    const k = `${key(c.old)}|${key(c.next)}`;
    let agg = out.get(k);
    if (!agg) out.set(k, (agg = { old: c.old, next: c.next, count: 0, perUser: new Map() }));
    agg.count += c.members.length;
    for (const [u, n] of c.perUser) agg.perUser.set(u, (agg.perUser.get(u) ?? 0) + n);
  }
  return [...out.values()];
}

const plainVisible = (a: Membership, b: Membership): boolean =>
  intersects(a.src, b.dst) || intersects(b.src, a.dst);

const classKey = (m: Membership): string =>
  `${bitsKey(m.src)}/${bitsKey(m.dst)}/${bitsKey(m.self)}`;

export function diffPolicies(old: Compiled, next: Compiled, table: DeviceTable): PolicyDiff {
  const views = new Set<string>();
  const filters: string[] = [];
  const postures: string[] = [];
  const classes = new Map<string, JointClass>();
  const users = new Map<string, DeviceEntry[]>();
  const routes = new Map<string, Prefix>();
  let anyExit = false;
  const interned = new Map<string, number>();
  const intern = (k: string): number => {
    let id = interned.get(k);
    if (id === undefined) interned.set(k, (id = interned.size));
    return id;
  };
  const idsOf = (c: Compiled) => {
    const keys = c.ruleFilterKeys();
    return { plain: keys.plain.map(intern), self: keys.self.map(intern) };
  };
  const oldIds = idsOf(old);
  const nextIds = idsOf(next);

  for (const e of table.entries()) {
    const mo = old.membership(e.slot);
    const mn = next.membership(e.slot);
    if (!mo || !mn) continue;
    const id = e.device.id;
    if (JSON.stringify(mo.posture.results) !== JSON.stringify(mn.posture.results))
      postures.push(id);
    if (old.filterFingerprint(e.slot, oldIds) !== next.filterFingerprint(e.slot, nextIds)) {
      filters.push(id);
    }
    const key = `${classKey(mo)}|${classKey(mn)}`;
    let jc = classes.get(key);
    if (!jc) classes.set(key, (jc = { old: mo, next: mn, members: [], perUser: new Map() }));
    jc.members.push(e);
    if (e.userId !== null) {
      jc.perUser.set(e.userId, (jc.perUser.get(e.userId) ?? 0) + 1);
      let list = users.get(e.userId);
      if (!list) users.set(e.userId, (list = []));
      list.push(e);
    }
    if (e.device.approved) {
      for (const r of e.routes) routes.set(r.text, r);
      anyExit ||= e.device.exitNode;
    }
  }

  // Route and exit-node use depends on the viewer's sources alone.
  for (const a of classes.values()) {
    if (usesChanged(old, next, a.old, a.next, routes.values(), anyExit)) {
      for (const e of a.members) views.add(e.device.id);
    }
  }

  // A pair is visible when one side is a source of a rule the other is a destination of. Most
  // devices (user laptops) are destinations of no rule: two of them never see each other, and
  // one of them sees another device by its own sources and the other's destinations alone.
  // Splitting on that keeps the comparison near O(classes × destination classes).
  const list = [...classes.values()];
  const isDst = (c: JointClass): boolean => !isEmpty(c.old.dst) || !isEmpty(c.next.dst);
  const dsts = list.filter(isDst);
  const nonDsts = list.filter((c) => !isDst(c));
  const dstsByDst = aggregate(dsts, (m) => bitsKey(m.dst));
  const nonDstsBySrc = aggregate(nonDsts, (m) => bitsKey(m.src));
  const mark = (a: JointClass, b: Aggregate, includesA: boolean): void => {
    for (const e of a.members) {
      // Pairs of one user's devices are settled exactly below; count the others in b.
      const same = e.userId !== null ? (b.perUser.get(e.userId) ?? 0) : includesA ? 1 : 0;
      if (b.count - same > 0) views.add(e.device.id);
    }
  };
  for (const a of nonDsts) {
    for (const b of dstsByDst) {
      if (intersects(a.old.src, b.old.dst) !== intersects(a.next.src, b.next.dst))
        mark(a, b, false);
    }
  }
  for (const a of dsts) {
    for (const b of nonDstsBySrc) {
      if (intersects(b.old.src, a.old.dst) !== intersects(b.next.src, a.next.dst))
        mark(a, b, false);
    }
    for (const b of dsts) {
      if (plainVisible(a.old, b.old) !== plainVisible(a.next, b.next)) {
        mark(a, { old: b.old, next: b.next, count: b.members.length, perUser: b.perUser }, a === b);
      }
    }
  }

  for (const devices of users.values()) {
    if (devices.length < 2) continue;
    for (const x of devices) {
      for (const y of devices) {
        if (x === y || views.has(x.device.id)) continue;
        const was = pairVisible(old, x, y);
        if (was !== pairVisible(next, x, y)) views.add(x.device.id);
      }
    }
  }

  return { views: [...views], filters, postures };
}

function pairVisible(c: Compiled, x: DeviceEntry, y: DeviceEntry): boolean {
  const mx = c.membership(x.slot);
  const my = c.membership(y.slot);
  return !!mx && !!my && Compiled.visibleWith(mx, x, my, y);
}

function usesChanged(
  old: Compiled,
  next: Compiled,
  mo: Membership,
  mn: Membership,
  routes: Iterable<Prefix>,
  anyExit: boolean,
): boolean {
  if (sameBits(mo.src, mn.src) && old.policy === next.policy) return false;
  if (anyExit && old.exitUsableBy(mo.src) !== next.exitUsableBy(mn.src)) return true;
  for (const r of routes)
    if (old.routeUsableBy(mo.src, r) !== next.routeUsableBy(mn.src, r)) return true;
  return false;
}

/** The exact peer diff of one viewer between two compiled policies: O(devices). */
export function peerSetChange(
  old: Compiled,
  next: Compiled,
  table: DeviceTable,
  viewer: DeviceEntry,
): PeerSetChange {
  const added: string[] = [];
  const removed: string[] = [];
  const reshaped: string[] = [];
  const vo = old.membership(viewer.slot);
  const vn = next.membership(viewer.slot);
  if (!vo || !vn) return { added, removed, reshaped };
  for (const t of table.entries()) {
    if (t.slot === viewer.slot) continue;
    const was = pairVisible(old, viewer, t);
    const is = pairVisible(next, viewer, t);
    if (is && !was) added.push(t.device.id);
    else if (was && !is) removed.push(t.device.id);
    else if (is) {
      const exit = t.device.exitNode && old.exitUsableBy(vo.src) !== next.exitUsableBy(vn.src);
      if (
        exit ||
        t.routes.some((r) => old.routeUsableBy(vo.src, r) !== next.routeUsableBy(vn.src, r))
      ) {
        reshaped.push(t.device.id);
      }
    }
  }
  return { added, removed, reshaped };
}
