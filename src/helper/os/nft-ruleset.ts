/**
 * The helper's nftables table, `inet trellis`, compiled from the inbound filter and the
 * forwarding setting into one `nft -f` script (a pure function, unit-tested as text).
 *
 * The script replaces the whole table in one transaction (`add table` + `delete table` + the new
 * definition): nft applies a file atomically, so no packet ever sees a half-updated filter.
 *
 *   input / forward (iifname = tunnel):
 *     ct state established,related accept      replies to what this device or its LAN started
 *     jump mesh_allow                          the netmap's allow rules (input: not with
 *                                              blockIncoming)
 *     counter name "filter_dropped" drop       everything else, counted
 *   postrouting (nat, only while forwarding):
 *     iifname tunnel oifname != tunnel masquerade
 *
 * Filter semantics (the netmap's FilterRule): a packet is allowed when its source is in `srcs`,
 * its destination in one of `dsts` and, for TCP and UDP, its destination port in that
 * destination's range. "icmp" covers ICMPv6; "any" is every protocol, with ports applying to TCP
 * and UDP only (a rule narrowed to ports does not allow ICMP).
 *
 * The table's comment records the sysctl values the helper found before changing them, so a
 * successor (after a crash) restores them from the table itself (see sysctl.ts).
 */
import type { FilterProto, FilterRule, PortRange } from '../../shared/schema/control/netmap.js';
import { mergePrefixes } from './prefixes.js';

export const NFT_FAMILY = 'inet';
export const NFT_TABLE = 'trellis';
/** Counts inbound packets the filter dropped (input and forward); see `nft list counter`. */
export const NFT_DROP_COUNTER = 'filter_dropped';
/** nftables keeps at most this many bytes of a table comment (NFTNL_UDATA_COMMENT_MAXLEN). */
export const MAX_NFT_COMMENT_LENGTH = 128;

const ALL_PORTS = (r: PortRange): boolean => r.first === 0 && r.last === 65535;

export interface RulesetInput {
  readonly interfaceName: string;
  /** The inbound filter; null: no filter chains (everything inbound allowed). */
  readonly filter: {
    readonly rules: readonly FilterRule[];
    readonly blockIncoming: boolean;
  } | null;
  readonly forwarding: boolean;
  /** The table comment (a sysctl record), at most MAX_NFT_COMMENT_LENGTH characters of [\w .=:-]. */
  readonly comment: string | null;
}

function portsText(ranges: readonly PortRange[]): string {
  const parts = ranges.map((r) => (r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`));
  return parts.length === 1 ? (parts[0] as string) : `{ ${parts.join(', ')} }`;
}

/** Sorted, merged port ranges (adjacent and overlapping ranges joined). */
function mergePorts(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first || a.last - b.last);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.first <= last.last + 1) {
      out[out.length - 1] = { first: last.first, last: Math.max(last.last, r.last) };
    } else out.push({ ...r });
  }
  return out;
}

function setBody(elements: readonly string[]): string {
  return elements.length === 1 ? (elements[0] as string) : `{ ${elements.join(', ')} }`;
}

/** Protocols of one rule, with "any" absorbing the rest. */
function protosOf(rule: FilterRule): FilterProto[] {
  const set = new Set(rule.protos);
  if (set.has('any')) return ['any'];
  return (['tcp', 'udp', 'icmp'] as const).filter((p) => set.has(p));
}

/** The protocol (and port) match of one nft rule, or null when it cannot match this family. */
function protoMatch(proto: FilterProto, v6: boolean, ports: readonly PortRange[]): string | null {
  const all = ports.some(ALL_PORTS);
  switch (proto) {
    case 'tcp':
    case 'udp':
      return all ? `meta l4proto ${proto}` : `${proto} dport ${portsText(ports)}`;
    case 'icmp':
      return `meta l4proto ${v6 ? 'ipv6-icmp' : 'icmp'}`;
    case 'any':
      return all ? '' : `meta l4proto { tcp, udp } th dport ${portsText(ports)}`;
  }
}

interface CompiledRules {
  readonly sets: string[];
  readonly rules: string[];
}

/** The allow rules: a named source set per rule and family, one nft rule per destination group. */
export function compileFilterRules(rules: readonly FilterRule[]): CompiledRules {
  const sets: string[] = [];
  const out: string[] = [];
  rules.forEach((rule, i) => {
    const srcs = mergePrefixes(rule.srcs);
    // Destinations with the same ports share one rule: cidr → its port ranges → grouped.
    const portsByCidr = new Map<string, PortRange[]>();
    for (const d of rule.dsts) {
      const fam = mergePrefixes([d.cidr]);
      const cidr = fam.v4[0] ?? fam.v6[0];
      if (cidr === undefined) continue;
      const list = portsByCidr.get(cidr) ?? [];
      list.push(d.ports);
      portsByCidr.set(cidr, list);
    }
    const groups = new Map<string, { ports: PortRange[]; cidrs: string[] }>();
    for (const [cidr, ranges] of portsByCidr) {
      const ports = mergePorts(ranges);
      const key = JSON.stringify(ports);
      const g = groups.get(key) ?? { ports, cidrs: [] };
      g.cidrs.push(cidr);
      groups.set(key, g);
    }
    for (const v6 of [false, true]) {
      const famSrcs = v6 ? srcs.v6 : srcs.v4;
      if (famSrcs.length === 0) continue;
      const ip = v6 ? 'ip6' : 'ip';
      const anySrc = famSrcs[0] === (v6 ? '::/0' : '0.0.0.0/0');
      const setName = `r${i}_src${v6 ? 6 : 4}`;
      let srcMatch = `meta nfproto ${v6 ? 'ipv6' : 'ipv4'}`;
      if (!anySrc) {
        sets.push(
          [
            `\tset ${setName} {`,
            `\t\ttype ${v6 ? 'ipv6_addr' : 'ipv4_addr'}`,
            '\t\tflags interval',
            `\t\telements = { ${famSrcs.join(', ')} }`,
            '\t}',
          ].join('\n'),
        );
        srcMatch = `${ip} saddr @${setName}`;
      }
      for (const g of groups.values()) {
        const dsts = mergePrefixes(g.cidrs);
        const famDsts = v6 ? dsts.v6 : dsts.v4;
        if (famDsts.length === 0) continue;
        const anyDst = famDsts[0] === (v6 ? '::/0' : '0.0.0.0/0');
        for (const proto of protosOf(rule)) {
          const pm = protoMatch(proto, v6, g.ports);
          if (pm === null) continue;
          // The source match also fixes the family (a saddr set, or nfproto for any source).
          const parts = [srcMatch];
          if (!anyDst) parts.push(`${ip} daddr ${setBody(famDsts)}`);
          if (pm) parts.push(pm);
          parts.push('accept');
          out.push(`\t\t${parts.join(' ')}`);
        }
      }
    }
  });
  return { sets, rules: out };
}

/** Characters allowed in the table comment (it is written inside double quotes). */
const COMMENT_RE = /^[\w .=:-]*$/;

/**
 * The `nft -f` script that replaces the table, or only deletes it when there is nothing to
 * install (no filter, no forwarding and no sysctl record).
 */
export function compileRuleset(input: RulesetInput): string {
  const head = `add table ${NFT_FAMILY} ${NFT_TABLE}\ndelete table ${NFT_FAMILY} ${NFT_TABLE}\n`;
  // The comment alone keeps the table: it is the record of sysctls to restore.
  if (input.filter === null && !input.forwarding && input.comment === null) return head;
  const dev = JSON.stringify(input.interfaceName);
  const lines: string[] = [`table ${NFT_FAMILY} ${NFT_TABLE} {`];
  if (input.comment !== null) {
    if (input.comment.length > MAX_NFT_COMMENT_LENGTH || !COMMENT_RE.test(input.comment)) {
      throw new Error(`invalid nft table comment ${JSON.stringify(input.comment)}`);
    }
    lines.push(`\tcomment "${input.comment}"`);
  }
  if (input.filter !== null) {
    const compiled = compileFilterRules(input.filter.rules);
    lines.push(`\tcounter ${NFT_DROP_COUNTER} {`, '\t}');
    lines.push(...compiled.sets);
    lines.push('\tchain mesh_allow {', ...compiled.rules, '\t}');
    const hook = (name: 'input' | 'forward', allow: boolean): string[] => [
      `\tchain ${name} {`,
      `\t\ttype filter hook ${name} priority filter; policy accept;`,
      `\t\tiifname ${dev} ct state established,related accept`,
      ...(allow ? [`\t\tiifname ${dev} jump mesh_allow`] : []),
      `\t\tiifname ${dev} counter name "${NFT_DROP_COUNTER}" drop`,
      '\t}',
    ];
    // blockIncoming closes this device; what it forwards for peers stays under the policy.
    lines.push(...hook('input', !input.filter.blockIncoming), ...hook('forward', true));
  }
  if (input.forwarding) {
    lines.push(
      '\tchain postrouting {',
      '\t\ttype nat hook postrouting priority srcnat; policy accept;',
      `\t\tiifname ${dev} oifname != ${dev} masquerade`,
      '\t}',
    );
  }
  lines.push('}');
  return `${head}${lines.join('\n')}\n`;
}
