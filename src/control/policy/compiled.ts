/**
 * One policy compiled against the device table: the two indexes everything else reads.
 *
 *   per device (slot):  the rules it is a source of, a destination of, and an autogroup:self
 *                       destination of — bitsets over rules (`Membership`);
 *   per rule:           the devices in each of those roles — bitsets over slots — plus the
 *                       rule's compiled source prefix list, cached until a member changes.
 *
 * Visibility of a pair is an AND over ⌈rules/32⌉ words; a device's packet filter walks only the
 * rules it is a destination of; one device's change touches only the rules whose membership it
 * changed (compile.ts computes who is affected). Nothing here is quadratic in devices.
 */
import {
  MAX_FILTER_DESTINATIONS,
  MAX_FILTER_RULES,
  MAX_FILTER_SOURCES,
  type FilterRule,
  type PacketFilter,
  type PortRange,
} from '../../shared/schema/control/netmap.js';
import {
  forEachBit,
  hasBit,
  intersects,
  ruleBits,
  setBit,
  SlotSet,
  xorBits,
  type RuleBits,
} from './bitset.js';
import type { AclRule, Policy } from './document.js';
import type { GeoLookup } from './geo.js';
import {
  dstMatches,
  dstPrefixes,
  entryCoversInternet,
  entryCoversRoute,
  ownPrefixes,
  subjectOf,
  type PolicyOwner,
  type Subject,
} from './match.js';
import { evaluatePostures, type PostureEvaluation } from './posture.js';
import { ALL_V4, ALL_V6, type Addr, type Prefix } from './prefix.js';
import { SelectorSet } from './selector-set.js';
import { selectorText, type DstEntry, type Selector } from './selector.js';
import type { HostInfo } from '../../shared/schema/control/hostinfo.js';

/** What the engine needs to know about a device. */
export interface PolicyDevice {
  readonly id: string;
  readonly addresses: { readonly ipv4: string; readonly ipv6: string };
  readonly owner: PolicyOwner;
  /** Unapproved devices are in no rule: they see nobody and nobody sees them. */
  readonly approved: boolean;
  /** Approved subnet routes it serves (canonical CIDRs). */
  readonly routes: readonly string[];
  /** An approved exit node. */
  readonly exitNode: boolean;
  /** Posture facts; null until the device has reported host info. */
  readonly hostInfo: HostInfo | null;
  /** The address control saw it connect from, for geolocation checks. */
  readonly publicIp: string | null;
}

/** A device as the engine holds it, independent of policy. */
export interface DeviceEntry {
  readonly slot: number;
  readonly device: PolicyDevice;
  readonly addrs: readonly Addr[];
  /** Its addresses as filter sources ("100.64.0.7/32", "fd7a:…/128"). */
  readonly addrTexts: readonly string[];
  readonly routes: readonly Prefix[];
  readonly userId: string | null;
}

export interface DeviceTable {
  entry(slot: number): DeviceEntry | undefined;
  slotsOfUser(userId: string): ReadonlySet<number> | undefined;
  entries(): Iterable<DeviceEntry>;
}

export interface Membership {
  readonly subject: Subject;
  readonly posture: PostureEvaluation;
  /** Rules whose sources admit it (its netmap view). */
  readonly src: RuleBits;
  /** Rules whose filter source list carries its addresses. */
  readonly srcAddr: RuleBits;
  /** Rules with a (non-self) destination entry naming it. */
  readonly dst: RuleBits;
  /** Rules with an autogroup:self destination that applies to it (user-owned devices). */
  readonly self: RuleBits;
}

interface RuleMembers {
  readonly src: SlotSet;
  readonly srcAddr: SlotSet;
  readonly dst: SlotSet;
  readonly self: SlotSet;
}

export interface RuleState {
  readonly rule: AclRule;
  readonly src: SelectorSet;
  readonly dst: SelectorSet;
  /** Destination entries other than autogroup:self. */
  readonly plain: readonly DstEntry[];
  readonly self: readonly DstEntry[];
  /**
   * With srcPosture every source is a device (posture is a device property), so "*" and CIDRs
   * select the devices in them and the filter lists device addresses; without it, "*" and CIDRs
   * are written into the filter as they are (traffic from behind subnet routers included).
   */
  readonly postureMode: boolean;
  readonly rawSrcs: readonly string[];
  readonly members: RuleMembers;
  /** What the filter's destinations and protocol depend on besides the device (policy diffs). */
  readonly dstKey: string;
  readonly selfKey: string;
  srcs: string[] | null;
  srcKey: string | null;
}

/** Rules to test a device against: those naming one of its identities, plus those that must be scanned. */
interface RuleIndex {
  readonly byName: Map<string, number[]>;
  readonly scan: number[];
}

function indexRules(sets: ReadonlyArray<SelectorSet | null>): RuleIndex {
  const byName = new Map<string, number[]>();
  const scan: number[] = [];
  const add = (k: string, i: number): void => {
    const list = byName.get(k);
    if (list) list.push(i);
    else byName.set(k, [i]);
  };
  sets.forEach((set, i) => {
    if (!set) return;
    if (
      set.all ||
      set.member ||
      set.admin ||
      set.tagged ||
      set.internet ||
      set.prefixes.length > 0
    ) {
      scan.push(i);
    }
    for (const e of set.emails) add(`e:${e}`, i);
    for (const g of set.groups) add(`g:${g}`, i);
    for (const t of set.tags) add(`t:${t}`, i);
  });
  return { byName, scan };
}

/** Candidate rule indexes for a subject, each once, ascending not guaranteed. */
function candidates(index: RuleIndex, subject: Subject, ruleCount: number): number[] {
  const seen = ruleBits(ruleCount);
  const out: number[] = [];
  const take = (list: readonly number[] | undefined): void => {
    for (const i of list ?? []) {
      if (!hasBit(seen, i)) {
        setBit(seen, i);
        out.push(i);
      }
    }
  };
  take(index.scan);
  if (subject.user) take(index.byName.get(`e:${subject.user.email}`));
  for (const g of subject.groups) take(index.byName.get(`g:${g}`));
  for (const t of subject.tags) take(index.byName.get(`t:${t}`));
  return out;
}

const filterKey = (cidr: string, r: PortRange): string => `${cidr} ${r.first}-${r.last}`;

export class Compiled {
  readonly rules: readonly RuleState[];
  /** Rules whose destinations let their sources use an exit node. */
  readonly internetRules: RuleBits;
  private readonly routeRuleCache = new Map<string, RuleBits>();
  private readonly srcIndex: RuleIndex;
  private readonly dstIndex: RuleIndex;
  private readonly selfRules: number[] = [];
  private readonly members: Array<Membership | undefined> = [];
  private readonly filters = new Map<number, PacketFilter>();

  constructor(
    readonly policy: Policy,
    private readonly table: DeviceTable,
    private readonly geo: GeoLookup | null,
  ) {
    this.rules = policy.acls.map((rule) => {
      const plain = rule.dst.filter((e) => !isSelf(e));
      const postureMode = rule.srcPosture.length > 0;
      const src = new SelectorSet(rule.src);
      const raw = new Set<string>();
      if (!postureMode) {
        if (src.all) raw.add(ALL_V4.text).add(ALL_V6.text);
        for (const p of src.prefixes) raw.add(p.text);
      }
      const self = rule.dst.filter(isSelf);
      return {
        rule,
        src,
        dst: new SelectorSet(plain.map((e) => e.selector)),
        plain,
        self,
        dstKey: JSON.stringify([rule.proto, plain.map((e) => [selectorKey(e.selector), e.ports])]),
        selfKey: JSON.stringify([rule.proto, self.map((e) => e.ports)]),
        postureMode,
        rawSrcs: [...raw],
        members: {
          src: new SlotSet(),
          srcAddr: new SlotSet(),
          dst: new SlotSet(),
          self: new SlotSet(),
        },
        srcs: null,
        srcKey: null,
      };
    });
    this.internetRules = ruleBits(this.rules.length);
    this.rules.forEach((rs, i) => {
      if (rs.plain.some(entryCoversInternet)) setBit(this.internetRules, i);
      if (rs.self.length > 0) this.selfRules.push(i);
    });
    this.srcIndex = indexRules(this.rules.map((rs) => rs.src));
    this.dstIndex = indexRules(this.rules.map((rs) => (rs.plain.length > 0 ? rs.dst : null)));
  }

  get ruleCount(): number {
    return this.rules.length;
  }

  membership(slot: number): Membership | undefined {
    return this.members[slot];
  }

  /** The device's memberships under this policy (pure: does not record them). */
  evaluate(entry: DeviceEntry): Membership {
    const d = entry.device;
    const subject = subjectOf(this.policy, d.owner, entry.addrs, entry.routes, d.exitNode);
    const posture = evaluatePostures(
      this.policy,
      { hostInfo: d.hostInfo, publicIp: d.publicIp },
      this.geo,
    );
    const n = this.rules.length;
    const m: Membership = {
      subject,
      posture,
      src: ruleBits(n),
      srcAddr: ruleBits(n),
      dst: ruleBits(n),
      self: ruleBits(n),
    };
    if (!d.approved) return m;
    for (const i of candidates(this.srcIndex, subject, n)) {
      const rs = this.rules[i];
      if (!rs) continue;
      if (rs.src.srcMatches(subject) && rs.rule.srcPosture.every((p) => posture.passed.has(p))) {
        setBit(m.src, i);
        if (rs.postureMode || rs.src.identityMatches(subject)) setBit(m.srcAddr, i);
      }
    }
    for (const i of candidates(this.dstIndex, subject, n)) {
      if (this.rules[i]?.dst.dstMatches(subject)) setBit(m.dst, i);
    }
    if (subject.user !== null) for (const i of this.selfRules) setBit(m.self, i);
    return m;
  }

  /**
   * Records a device's memberships (undefined: the device is gone) and updates the rule indexes.
   * `addrsChanged`: its addresses differ from last time, so source lists naming it are stale.
   */
  apply(slot: number, next: Membership | undefined, addrsChanged: boolean): void {
    const prev = this.members[slot];
    const none = ruleBits(this.rules.length);
    const sync = (pick: (r: RuleMembers) => SlotSet, a: RuleBits, b: RuleBits): RuleBits => {
      const flips = xorBits(a, b);
      forEachBit(flips, (i) => {
        const rs = this.rules[i];
        if (!rs) return;
        if (hasBit(b, i)) pick(rs.members).add(slot);
        else pick(rs.members).delete(slot);
      });
      return flips;
    };
    sync((r) => r.src, prev?.src ?? none, next?.src ?? none);
    sync((r) => r.dst, prev?.dst ?? none, next?.dst ?? none);
    sync((r) => r.self, prev?.self ?? none, next?.self ?? none);
    const stale = sync((r) => r.srcAddr, prev?.srcAddr ?? none, next?.srcAddr ?? none);
    const invalidate = (i: number): void => {
      const rs = this.rules[i];
      if (rs) rs.srcs = rs.srcKey = null;
    };
    forEachBit(stale, invalidate);
    if (addrsChanged && next) forEachBit(next.srcAddr, invalidate);
    this.members[slot] = next;
    this.filters.delete(slot);
  }

  invalidateFilter(slot: number): void {
    this.filters.delete(slot);
  }

  /** May `a` and `b` reach each other in either direction? */
  static visibleWith(ma: Membership, ea: DeviceEntry, mb: Membership, eb: DeviceEntry): boolean {
    if (ea.slot === eb.slot) return false;
    if (intersects(ma.src, mb.dst) || intersects(mb.src, ma.dst)) return true;
    return (
      ea.userId !== null &&
      ea.userId === eb.userId &&
      (intersects(ma.src, mb.self) || intersects(mb.src, ma.self))
    );
  }

  visible(a: number, b: number): boolean {
    const ma = this.members[a];
    const mb = this.members[b];
    const ea = this.table.entry(a);
    const eb = this.table.entry(b);
    return !!ma && !!mb && !!ea && !!eb && Compiled.visibleWith(ma, ea, mb, eb);
  }

  /** Rules whose destinations cover (part of) a route: their sources may route through it. */
  routeRules(route: Prefix): RuleBits {
    let bits = this.routeRuleCache.get(route.text);
    if (!bits) {
      bits = ruleBits(this.rules.length);
      this.rules.forEach((rs, i) => {
        if (rs.plain.some((e) => entryCoversRoute(e, route))) setBit(bits as RuleBits, i);
      });
      this.routeRuleCache.set(route.text, bits);
    }
    return bits;
  }

  routeUsableBy(src: RuleBits, route: Prefix): boolean {
    return intersects(src, this.routeRules(route));
  }

  exitUsableBy(src: RuleBits): boolean {
    return intersects(src, this.internetRules);
  }

  // -- packet filters ----------------------------------------------------------------------

  /** The inbound filter of the device in `slot`: every rule it is a destination of. */
  packetFilter(slot: number): PacketFilter {
    const cached = this.filters.get(slot);
    if (cached) return cached;
    const e = this.table.entry(slot);
    const m = this.members[slot];
    const out: FilterRule[] = [];
    if (e && m) {
      forEachBit(m.dst, (i) => {
        const rs = this.rules[i];
        if (rs) pushChunked(out, this.srcsOf(rs), this.dstsOf(rs, m.subject), rs.rule.proto);
      });
      forEachBit(m.self, (i) => {
        const rs = this.rules[i];
        if (rs && e.userId !== null) {
          pushChunked(out, this.selfSrcs(rs, e.userId), selfDsts(rs, m.subject), rs.rule.proto);
        }
      });
    }
    // Only reachable with absurd rules (tens of thousands of sources × a thousand destinations);
    // the wire bound wins, and what is cut is denied, never widened.
    const filter = out.length > MAX_FILTER_RULES ? out.slice(0, MAX_FILTER_RULES) : out;
    this.filters.set(slot, filter);
    return filter;
  }

  /**
   * Per rule, a key for what its filter entries depend on besides the destination device: its
   * protocol and destination entries, and its source prefixes (the raw ones plus the member
   * bitset standing for the addresses it expands to). Equal keys mean equal filter rules for the
   * same device, so policy diffs compare filters without building them.
   */
  ruleFilterKeys(): { plain: string[]; self: string[] } {
    return {
      plain: this.rules.map((rs) => {
        rs.srcKey ??= `${rs.rawSrcs.join(',')}#${rs.members.srcAddr.key()}`;
        return `${rs.dstKey}|${rs.srcKey}`;
      }),
      self: this.rules.map((rs) => rs.selfKey),
    };
  }

  /**
   * A summary equal whenever the device's filter is equal (and, rarely, different when it is
   * not: a conservative diff). `ids` are interned ruleFilterKeys, comparable across policies.
   */
  filterFingerprint(slot: number, ids: { plain: number[]; self: number[] }): string {
    const e = this.table.entry(slot);
    const m = this.members[slot];
    if (!e || !m) return '';
    const parts: string[] = [];
    forEachBit(m.dst, (i) => {
      const rs = this.rules[i];
      if (!rs) return;
      // Which entries match decides the destinations (the device itself is unchanged).
      let mask = '';
      if (rs.plain.length > 1) {
        rs.plain.forEach((entry, k) => {
          if (dstMatches(entry.selector, m.subject)) mask += `${k},`;
        });
      }
      parts.push(`${ids.plain[i]}.${mask}`);
    });
    forEachBit(m.self, (i) => {
      const rs = this.rules[i];
      if (!rs || e.userId === null) return;
      const same: number[] = [];
      for (const s of this.table.slotsOfUser(e.userId) ?? [])
        if (rs.members.src.has(s)) same.push(s);
      parts.push(`S${ids.self[i]}.${same.join(',')}`);
    });
    return parts.join(' ');
  }

  /**
   * Whether a device whose rule memberships stayed the same still matches a different set of a
   * rule's destination entries (its groups changed, and "group:eng:80" now names it beside
   * "*:*"): its filter's destinations then differ although no membership bit flipped.
   */
  dstEntriesDiffer(a: Membership, b: Membership): boolean {
    let differ = false;
    forEachBit(a.dst, (i) => {
      const rs = this.rules[i];
      if (differ || !rs || rs.plain.length < 2 || !hasBit(b.dst, i)) return;
      differ = rs.plain.some(
        (e) => dstMatches(e.selector, a.subject) !== dstMatches(e.selector, b.subject),
      );
    });
    return differ;
  }

  private srcsOf(rs: RuleState): string[] {
    if (rs.srcs) return rs.srcs;
    const out = new Set(rs.rawSrcs);
    rs.members.srcAddr.forEach((slot) => {
      for (const t of this.table.entry(slot)?.addrTexts ?? []) out.add(t);
    });
    rs.srcs = [...out];
    return rs.srcs;
  }

  private selfSrcs(rs: RuleState, userId: string): string[] {
    const out: string[] = [];
    for (const slot of this.table.slotsOfUser(userId) ?? []) {
      if (rs.members.src.has(slot)) out.push(...(this.table.entry(slot)?.addrTexts ?? []));
    }
    return out;
  }

  private dstsOf(rs: RuleState, subject: Subject): Array<{ cidr: string; ports: PortRange }> {
    const seen = new Set<string>();
    const out: Array<{ cidr: string; ports: PortRange }> = [];
    for (const entry of rs.plain) {
      for (const p of dstPrefixes(entry.selector, subject)) {
        for (const ports of entry.ports) {
          const k = filterKey(p.text, ports);
          if (seen.has(k)) continue;
          seen.add(k);
          out.push({ cidr: p.text, ports });
        }
      }
    }
    return out;
  }
}

/** Address selectors by their prefix (two aliases of one network compile alike). */
const selectorKey = (s: Selector): string =>
  s.kind === 'prefix' ? s.prefix.text : selectorText(s);

const isSelf = (e: DstEntry): boolean =>
  e.selector.kind === 'autogroup' && e.selector.autogroup === 'self';

function selfDsts(rs: RuleState, subject: Subject): Array<{ cidr: string; ports: PortRange }> {
  const seen = new Set<string>();
  const out: Array<{ cidr: string; ports: PortRange }> = [];
  for (const entry of rs.self) {
    for (const p of ownPrefixes(subject)) {
      for (const ports of entry.ports) {
        const k = filterKey(p.text, ports);
        if (!seen.has(k)) {
          seen.add(k);
          out.push({ cidr: p.text, ports });
        }
      }
    }
  }
  return out;
}

/** One filter rule, split where sources or destinations exceed the wire bounds. */
function pushChunked(
  out: FilterRule[],
  srcs: readonly string[],
  dsts: ReadonlyArray<{ cidr: string; ports: PortRange }>,
  proto: FilterRule['protos'][number],
): void {
  if (srcs.length === 0 || dsts.length === 0) return;
  for (let s = 0; s < srcs.length; s += MAX_FILTER_SOURCES) {
    const srcChunk =
      s === 0 && srcs.length <= MAX_FILTER_SOURCES
        ? (srcs as string[])
        : srcs.slice(s, s + MAX_FILTER_SOURCES);
    for (let d = 0; d < dsts.length; d += MAX_FILTER_DESTINATIONS) {
      out.push({
        srcs: srcChunk,
        dsts: dsts.slice(d, d + MAX_FILTER_DESTINATIONS),
        protos: [proto],
      });
    }
  }
}
