/**
 * The NAT kinds a lab site can have, and the nftables ruleset each site router gets.
 *
 * Linux conntrack alone gives address-and-port-dependent filtering: a packet from the internet
 * reaches a LAN device only as the reply to a flow the device started (same remote ip:port).
 *
 * - 'easy'  `snat to <wan>`: nf_nat keeps the device's source port whenever the resulting tuple
 *           is unique, and the tuple includes the destination, so one local ip:port maps to the
 *           same public ip:port towards every destination: endpoint-independent mapping
 *           (RFC 4787 §4.1), what Tailscale calls an easy NAT. Its filtering is
 *           address-dependent (RFC 4787 §5, the common home-router setting): once a device has
 *           sent to a remote IP from a port, UDP from that IP, from any of its ports, to the
 *           public port reaches the device. A dynamic nftables map keyed by (remote IP, port)
 *           remembers who sent where (refreshed by every outgoing packet, forgotten 2 minutes
 *           after the last one, like the mapping itself). This is what lets an easy side meet a
 *           hard side directly: the hard side's packets come from a port nobody could predict,
 *           but from the address the easy side already sent to.
 * - 'hard'  `snat to <wan> fully-random`: every new flow (every destination) gets a random port
 *           from the kernel's PRNG: endpoint-dependent ("symmetric") mapping.
 * - 'blocked' easy NAT whose forward chain lets only TCP out: UDP (so STUN and direct
 *           WireGuard) and ICMP (so ping) are dropped silently, as by a strict corporate firewall.
 *           Devices there can reach relays and control over TCP only.
 * - 'double' two 'easy' routers in a row (a home router behind a carrier-grade NAT); the result
 *           is still endpoint-independent, mapped to the outer router's WAN address.
 * - 'none'  no NAT and no filter: the router only routes a public /28 to its devices.
 *
 * A single SNAT address can preserve a port only while no other LAN device uses the same source
 * port towards the same destination; the second one gets another port (still endpoint-
 * independent for it). Tests that rely on port preservation use distinct or ephemeral ports.
 *
 * Every NAT router also drops what arrives unsolicited on its WAN side for the router itself, as
 * a home router's firewall does. Without that, conntrack records such a datagram (say a peer's
 * first hole-punching packet to our public ip:port) as a flow to the router, and our own
 * outgoing packet to that peer, which nf_nat would map to the same public port, collides with it
 * and gets a different port: an easy NAT would turn symmetric exactly when two peers punch.
 */

export const NAT_KINDS = ['none', 'easy', 'hard', 'double', 'blocked'] as const;
export type NatKind = (typeof NAT_KINDS)[number];

/** Interface names inside every router namespace (local to the namespace, so not prefixed). */
export const ROUTER_WAN_IF = 'wan';
export const ROUTER_LAN_IF = 'lan';

/** How one NAT router maps and filters; a site has one (two for 'double'). */
export interface NatRouterSpec {
  /** 'preserve': endpoint-independent, port-preserving; 'random': a random port per flow. */
  readonly mapping: 'preserve' | 'random';
  /**
   * Which unsolicited UDP from the WAN side reaches a LAN device: 'address' (from any port of an
   * IP the device sent to from that port) or 'address-port' (only replies: conntrack alone).
   */
  readonly filtering: 'address' | 'address-port';
  /** What LAN devices may start towards the WAN side. */
  readonly outbound: 'all' | 'tcp-only';
  /** The LAN prefix whose sources are translated. */
  readonly lanCidr: string;
  /** The address they are translated to. */
  readonly wanAddress: string;
}

/** The router spec(s) of a NAT kind, innermost first; [] for 'none'. */
export function natRouters(
  kind: NatKind,
  inner: { lanCidr: string; wanAddress: string },
  outer?: { lanCidr: string; wanAddress: string },
): NatRouterSpec[] {
  switch (kind) {
    case 'none':
      return [];
    case 'easy':
      return [{ mapping: 'preserve', filtering: 'address', outbound: 'all', ...inner }];
    case 'hard':
      return [{ mapping: 'random', filtering: 'address-port', outbound: 'all', ...inner }];
    case 'blocked':
      return [{ mapping: 'preserve', filtering: 'address-port', outbound: 'tcp-only', ...inner }];
    case 'double':
      if (!outer) throw new Error("a 'double' site needs an outer router");
      return [
        { mapping: 'preserve', filtering: 'address', outbound: 'all', ...inner },
        { mapping: 'preserve', filtering: 'address', outbound: 'all', ...outer },
      ];
  }
}

/** nftables table names the lab installs in a router namespace. */
export const NAT_TABLE = 'lab_nat';
export const FILTER_TABLE = 'lab_filter';
const ADF_MAP = 'adf';
/** How long an easy NAT keeps letting a remote IP in after the device last sent to it. */
const ADF_TIMEOUT = '2m';

/** The whole ruleset (for `nft -f -`) of one NAT router. */
export function natRuleset(spec: NatRouterSpec): string {
  const flags = spec.mapping === 'random' ? ' fully-random' : '';
  const outbound =
    spec.outbound === 'tcp-only'
      ? `iifname "${ROUTER_LAN_IF}" oifname "${ROUTER_WAN_IF}" meta l4proto tcp accept`
      : `iifname "${ROUTER_LAN_IF}" oifname "${ROUTER_WAN_IF}" accept`;
  // Address-dependent filtering (port-preserving mappings only: the map keys on the LAN port,
  // which is the public port). The update sits in a forward chain, so every outgoing packet
  // (still carrying its LAN source) refreshes the entry; the DNAT happens for new inbound flows.
  const adf =
    spec.filtering === 'address' && spec.mapping === 'preserve'
      ? [
          `  map ${ADF_MAP} {`,
          `    type ipv4_addr . inet_service : ipv4_addr`,
          `    flags dynamic,timeout`,
          `    timeout ${ADF_TIMEOUT}`,
          `  }`,
          `  chain adf_learn {`,
          `    type filter hook forward priority filter - 10; policy accept;`,
          `    iifname "${ROUTER_LAN_IF}" oifname "${ROUTER_WAN_IF}" ip saddr ${spec.lanCidr} update @${ADF_MAP} { ip daddr . udp sport : ip saddr }`,
          `  }`,
          `  chain prerouting {`,
          `    type nat hook prerouting priority dstnat; policy accept;`,
          `    iifname "${ROUTER_WAN_IF}" ip daddr ${spec.wanAddress} meta l4proto udp dnat ip to ip saddr . udp dport map @${ADF_MAP}`,
          `  }`,
        ]
      : [];
  return [
    `table ip ${NAT_TABLE} {`,
    ...adf,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat; policy accept;`,
    `    oifname "${ROUTER_WAN_IF}" ip saddr ${spec.lanCidr} snat ip to ${spec.wanAddress}${flags}`,
    `  }`,
    `}`,
    `table inet ${FILTER_TABLE} {`,
    `  chain input {`,
    `    type filter hook input priority filter; policy accept;`,
    `    iifname "${ROUTER_WAN_IF}" ct state established,related accept`,
    `    iifname "${ROUTER_WAN_IF}" drop`,
    `  }`,
    `  chain forward {`,
    // A stateful home router: replies to what the LAN started come in; nothing else does.
    `    type filter hook forward priority filter; policy drop;`,
    `    ct state established,related accept`,
    // What address-dependent filtering let in (DNATed by the map above).
    `    iifname "${ROUTER_WAN_IF}" oifname "${ROUTER_LAN_IF}" ct status dnat accept`,
    `    ${outbound}`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}
