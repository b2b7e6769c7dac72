/**
 * The direct fast path's nftables rules (Linux): for peers with a trusted direct path, WireGuard
 * talks to the peer's real ip:port from its own port L, and these stateless rules make that
 * traffic look like magicsock's, on magicsock's public port P (the one the NAT mapping and the
 * peer know):
 *
 *   out: UDP from sport L to a listed peer ip:port leaves with sport P;
 *   in:  UDP to P from a listed peer ip:port whose payload starts like a WireGuard message (type
 *        1–4, then three zero bytes) goes to L; disco and STUN on P still reach magicsock.
 *
 * Outbound runs at raw priority, before conntrack, and marks the packets untracked: conntrack
 * would otherwise open a flow for L → peer whose packets then leave as P → peer, the 5-tuple of
 * magicsock's own flow, and the two would be mixed up (or NATed apart). Inbound is rewritten
 * after conntrack (mangle priority) and stays tracked: it arrives as P's flow, the one
 * magicsock's disco opened, so a stateful host firewall ("established, related accept; drop")
 * lets it in as it lets in the disco replies; untracked, such a firewall would drop it.
 * The rules live in a table of their own, since the OS
 * configurator replaces `inet trellis` as a whole on every change; every change replaces this
 * table in one `nft -f` transaction as well, so no packet sees half a rule set.
 */
import { ipPortToString, type IpFamily, type IpPort } from '../../shared/ip.js';

export const FAST_PATH_FAMILY = 'inet';
export const FAST_PATH_TABLE = 'trellis_fastpath';
/** Named counters of the packets the rules rewrote, per direction (lab tests read them). */
export const FAST_PATH_COUNTER_OUT = 'fastpath_out';
export const FAST_PATH_COUNTER_IN = 'fastpath_in';

/** One peer endpoint and which directions of it take the fast path. */
export interface FastPathRuleEntry {
  readonly addr: IpPort;
  /** WireGuard's packets to it leave from magicsock's port. */
  readonly outbound: boolean;
  /** Its WireGuard packets to magicsock's port go to WireGuard's. */
  readonly inbound: boolean;
}

export interface FastPathRules {
  /** magicsock's port P: peers send here, and the fast path's packets leave from here. */
  readonly magicsockPort: number;
  /** WireGuard's own port L. */
  readonly wireGuardPort: number;
  readonly entries: readonly FastPathRuleEntry[];
}

export class FastPathRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FastPathRuleError';
  }
}

const isPort = (p: number): boolean => Number.isInteger(p) && p >= 1 && p <= 65535;

const ADDR_TYPE: Record<IpFamily, string> = { ipv4: 'ipv4_addr', ipv6: 'ipv6_addr' };
const MATCH: Record<IpFamily, string> = { ipv4: 'ip', ipv6: 'ip6' };
const SUFFIX: Record<IpFamily, string> = { ipv4: '4', ipv6: '6' };

/** `1.2.3.4 . 41641`: an element of a set of type `<addr> . inet_service`. */
function element(a: IpPort): string {
  // The address went through parseIpPort (IpPort) upstream; re-check what reaches nft anyway.
  if (!/^[0-9a-fA-F:.]+$/.test(a.ip) || !isPort(a.port)) {
    throw new FastPathRuleError(`not an endpoint: ${ipPortToString(a.ip, a.port)}`);
  }
  return `${a.ip} . ${a.port}`;
}

function setDecl(name: string, family: IpFamily, addrs: readonly IpPort[]): string {
  const unique = [...new Set(addrs.map(element))].sort();
  const elements = unique.length > 0 ? ` elements = { ${unique.join(', ')} };` : '';
  return `\tset ${name} { type ${ADDR_TYPE[family]} . inet_service;${elements} }`;
}

/** Removes the table if it is there (the add makes the delete valid either way). */
export function fastPathRemoveScript(): string {
  return (
    `add table ${FAST_PATH_FAMILY} ${FAST_PATH_TABLE}\n` +
    `delete table ${FAST_PATH_FAMILY} ${FAST_PATH_TABLE}\n`
  );
}

/** The whole table for `rules`, replacing any earlier one: one transaction. */
export function fastPathScript(rules: FastPathRules): string {
  const { magicsockPort: p, wireGuardPort: l } = rules;
  if (!isPort(p) || !isPort(l)) throw new FastPathRuleError(`bad ports: ${p}, ${l}`);
  if (p === l) throw new FastPathRuleError('magicsock and WireGuard must not share a port');
  const lines = [
    fastPathRemoveScript().trimEnd(),
    `table ${FAST_PATH_FAMILY} ${FAST_PATH_TABLE} {`,
    `\tcomment "trellisd magicsock fast path: WireGuard port ${l} on magicsock port ${p}"`,
    `\tcounter ${FAST_PATH_COUNTER_OUT} { }`,
    `\tcounter ${FAST_PATH_COUNTER_IN} { }`,
  ];
  const families: IpFamily[] = ['ipv4', 'ipv6'];
  for (const f of families) {
    const of = rules.entries.filter((e) => e.addr.family === f);
    lines.push(
      setDecl(
        `out${SUFFIX[f]}`,
        f,
        of.filter((e) => e.outbound).map((e) => e.addr),
      ),
    );
    lines.push(
      setDecl(
        `in${SUFFIX[f]}`,
        f,
        of.filter((e) => e.inbound).map((e) => e.addr),
      ),
    );
  }
  lines.push(
    '\tchain output {',
    '\t\ttype filter hook output priority raw; policy accept;',
    ...families.map(
      (f) =>
        `\t\tudp sport ${l} ${MATCH[f]} daddr . udp dport @out${SUFFIX[f]} ` +
        `counter name "${FAST_PATH_COUNTER_OUT}" udp sport set ${p} notrack`,
    ),
    '\t}',
    '\tchain prerouting {',
    '\t\ttype filter hook prerouting priority mangle; policy accept;',
    // A WireGuard message: byte 0 is its type (1–4), bytes 1–3 are zero. Disco starts with its
    // magic and STUN with a zero byte or 0x0101 (a response), so neither can match.
    ...families.map(
      (f) =>
        `\t\tudp dport ${p} ${MATCH[f]} saddr . udp sport @in${SUFFIX[f]} ` +
        `@th,72,24 0 @th,64,8 1-4 counter name "${FAST_PATH_COUNTER_IN}" udp dport set ${l}`,
    ),
    '\t}',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/**
 * A throwaway copy of the table, created and deleted in one transaction: nft and the kernel
 * check every expression (hooks and priorities, notrack, payload rewrites) without leaving
 * anything behind. Fails where the fast path cannot work.
 */
export function fastPathProbeScript(): string {
  return (
    fastPathScript({
      magicsockPort: 2,
      wireGuardPort: 1,
      entries: [
        { addr: { ip: '192.0.2.1', family: 'ipv4', port: 1 }, outbound: true, inbound: true },
        { addr: { ip: '2001:db8::1', family: 'ipv6', port: 1 }, outbound: true, inbound: true },
      ],
    }) + `delete table ${FAST_PATH_FAMILY} ${FAST_PATH_TABLE}\n`
  );
}
