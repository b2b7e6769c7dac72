/**
 * Exit-node client routing with Linux policy routing, as wg-quick and Tailscale do it: a routing
 * table of our own holds the default routes into the tunnel, and `ip rule`s send everything
 * there except what must keep the machine's own routes.
 *
 *   5300  fwmark TRELLIS_FWMARK/MASK  lookup main   WireGuard's own UDP packets (the device
 *                                                   carries the mark; see wg-config.ts)
 *   5310  to <host>                   lookup main   control, relays, STUN, peer endpoints:
 *                                                   Node's sockets cannot set SO_MARK
 *   5320  to <prefix>                 lookup main   link-local, multicast, broadcast; and the
 *                                                   machine's LANs with allowLan
 *   5350                              lookup 84     the rest: into the tunnel
 *
 * Table 84 holds `default dev <tunnel>` and, below it, `unreachable default`: if the tunnel
 * interface vanishes (wireguard-go restarting), traffic fails closed instead of leaking out of
 * the uplink. Rules and routes carry protocol 84, so a successor finds a crashed run's leftovers.
 * Both families get the same treatment; a kernel without IPv6 skips the IPv6 half.
 */
import type { IpRule } from './iproute.js';
import { mergePrefixes } from './prefixes.js';

/** Our routing table. Tailscale uses 52; 84 ('T') matches our route protocol and avoids it. */
export const EXIT_ROUTE_TABLE = 84;
/**
 * The fwmark WireGuard puts on its packets while exit routing is on; the mask leaves the other
 * bits to whatever else marks packets on the machine (Tailscale uses 0x80000 under 0xff0000).
 */
export const TRELLIS_FWMARK = 0x540000;
export const TRELLIS_FWMARK_MASK = 0xff0000;

export const RULE_PRIORITY = { fwmark: 5300, bypass: 5310, local: 5320, exit: 5350 } as const;
/** Below every real route: the fail-closed fallback in our table. */
export const UNREACHABLE_METRIC = 0xffff;

/** Never through an exit node: these scopes end at the local link. */
export const LINK_SCOPE_PREFIXES = [
  '169.254.0.0/16',
  '224.0.0.0/4',
  '255.255.255.255/32',
  'fe80::/10',
  'ff00::/8',
];

export interface IpRuleSpec {
  readonly family: 4 | 6;
  readonly priority: number;
  /** Canonical destination prefix, or null for every destination. */
  readonly to: string | null;
  readonly fwmark: boolean;
  readonly table: 'main' | typeof EXIT_ROUTE_TABLE;
}

export interface ExitRoutingPlan {
  /** Host addresses (IPs) that keep the main table. */
  readonly bypass: readonly string[];
  /** Prefixes that keep the main table: link scopes, and the LANs with allowLan. */
  readonly local: readonly string[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** The rules for a plan, in priority order. Pure. */
export function planExitRules(plan: ExitRoutingPlan): IpRuleSpec[] {
  const out: IpRuleSpec[] = [];
  const bypass = mergePrefixes(plan.bypass);
  const local = mergePrefixes(plan.local);
  for (const family of [4, 6] as const) {
    const pick = (p: { v4: string[]; v6: string[] }) => (family === 4 ? p.v4 : p.v6);
    out.push({ family, priority: RULE_PRIORITY.fwmark, to: null, fwmark: true, table: 'main' });
    for (const to of pick(bypass))
      out.push({ family, priority: RULE_PRIORITY.bypass, to, fwmark: false, table: 'main' });
    for (const to of pick(local))
      out.push({ family, priority: RULE_PRIORITY.local, to, fwmark: false, table: 'main' });
    out.push({
      family,
      priority: RULE_PRIORITY.exit,
      to: null,
      fwmark: false,
      table: EXIT_ROUTE_TABLE,
    });
  }
  return out;
}

/** A rule's identity, for diffing what the kernel has against the plan. */
export function ruleKey(r: IpRuleSpec): string {
  return `${r.family} ${r.priority} ${r.to ?? 'all'} ${r.fwmark ? 'mark' : '-'} ${r.table}`;
}

/** `ip -N rule add|del …` arguments. */
export function ruleArgs(verb: 'add' | 'del', r: IpRuleSpec, proto: string): string[] {
  return [
    `-${r.family}`,
    'rule',
    verb,
    'priority',
    String(r.priority),
    ...(r.to !== null ? ['to', r.to] : []),
    ...(r.fwmark ? ['fwmark', `${hex(TRELLIS_FWMARK)}/${hex(TRELLIS_FWMARK_MASK)}`] : []),
    'lookup',
    String(r.table),
    'proto',
    proto,
  ];
}

/**
 * Our rules among `ip -json rule show` entries (protocol `proto`), as specs; anything carrying
 * our protocol that does not fit a spec comes back as null, so teardown deletes it by priority.
 */
export function ownRules(
  family: 4 | 6,
  rules: readonly IpRule[],
  proto: string,
): Array<{ spec: IpRuleSpec | null; raw: IpRule }> {
  const out: Array<{ spec: IpRuleSpec | null; raw: IpRule }> = [];
  for (const raw of rules) {
    if (String(raw.protocol ?? '') !== proto) continue;
    let to: string | null = null;
    if (raw.dst !== undefined && raw.dst !== 'all') {
      const len = raw.dstlen ?? (family === 4 ? 32 : 128);
      const p = mergePrefixes([`${raw.dst}/${len}`]);
      to = (family === 4 ? p.v4[0] : p.v6[0]) ?? null;
      if (to === null) {
        out.push({ spec: null, raw });
        continue;
      }
    }
    const fwmark =
      raw.fwmark !== undefined &&
      Number(raw.fwmark) === TRELLIS_FWMARK &&
      Number(raw.fwmask ?? '0xffffffff') === TRELLIS_FWMARK_MASK;
    const table =
      raw.table === 'main'
        ? 'main'
        : raw.table === String(EXIT_ROUTE_TABLE)
          ? EXIT_ROUTE_TABLE
          : null;
    if (table === null || (raw.fwmark !== undefined && !fwmark)) {
      out.push({ spec: null, raw });
      continue;
    }
    out.push({ spec: { family, priority: raw.priority, to, fwmark, table }, raw });
  }
  return out;
}

/** Rule deletion by its raw fields (for leftovers that fit no spec). */
export function rawRuleDeleteArgs(family: 4 | 6, r: IpRule, proto: string): string[] {
  return [
    `-${family}`,
    'rule',
    'del',
    'priority',
    String(r.priority),
    ...(r.dst !== undefined && r.dst !== 'all'
      ? ['to', `${r.dst}/${r.dstlen ?? ''}`.replace(/\/$/, '')]
      : []),
    ...(r.fwmark !== undefined ? ['fwmark', r.fwmask ? `${r.fwmark}/${r.fwmask}` : r.fwmark] : []),
    ...(r.table !== undefined ? ['lookup', r.table] : []),
    'proto',
    proto,
  ];
}

/** The routes of our table: into the tunnel, and the fail-closed fallback under it. */
export function exitTableRoutes(family: 4 | 6, interfaceName: string, proto: string): string[][] {
  const dst = family === 4 ? '0.0.0.0/0' : '::/0';
  const common = ['table', String(EXIT_ROUTE_TABLE), 'proto', proto];
  return [
    [`-${family}`, 'route', 'add', dst, 'dev', interfaceName, ...common],
    [
      `-${family}`,
      'route',
      'add',
      'unreachable',
      dst,
      'metric',
      String(UNREACHABLE_METRIC),
      ...common,
    ],
  ];
}
