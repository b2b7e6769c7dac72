/**
 * Port mapping on a lab site router: miniupnpd (Debian's miniupnpd-nftables) answering NAT-PMP
 * and PCP on the router's LAN address, adding its DNAT rules to a table of its own.
 *
 * How its rules meet the lab's NAT (nat.ts): miniupnpd puts a `dnat to <lan ip>:<port>` per
 * mapping into the chain `prerouting_miniupnpd`, which our base chain jumps to at priority
 * `dstnat - 1`, so it runs before the lab's own prerouting (the easy NAT's address-dependent
 * map). The lab's forward filter already accepts what was DNATed (`ct status dnat`). For a UDP
 * MAP it adds no outbound rule: a packet a device starts from the mapped port towards a new
 * destination is SNATed by the site's own NAT as before (a random port on a 'hard' router).
 * What makes the mapping usable anyway is conntrack: a peer's first packet to the mapped
 * public port creates a DNATed flow, and our replies on that flow leave from the mapped port.
 * That is how Tailscale uses mappings too: the peer sends to the advertised mapped endpoint and
 * our side answers whoever reached us (the disco pong goes to the observed source).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROUTER_LAN_IF, ROUTER_WAN_IF } from './nat.js';

/** The miniupnpd binary and the Debian package that ships it (nftables backend). */
export const MINIUPNPD = 'miniupnpd';
export const MINIUPNPD_PACKAGE = 'miniupnpd-nftables';
/** miniupnpd's own nftables table in the router namespace. */
export const PORTMAP_TABLE = 'lab_upnp';
/** The chain miniupnpd adds one DNAT rule per mapping to. */
export const PORTMAP_DNAT_CHAIN = 'prerouting_miniupnpd';

/** The chains miniupnpd expects to exist (it adds rules, never chains). */
export function portMapRuleset(): string {
  return [
    `table inet ${PORTMAP_TABLE} {`,
    // Filter rules for the mappings: inert (no base chain jumps here), since the lab's forward
    // chain already accepts DNATed flows.
    `  chain miniupnpd {`,
    `  }`,
    `  chain ${PORTMAP_DNAT_CHAIN} {`,
    `  }`,
    `  chain postrouting_miniupnpd {`,
    `  }`,
    `  chain prerouting {`,
    `    type nat hook prerouting priority dstnat - 1; policy accept;`,
    `    iifname "${ROUTER_WAN_IF}" jump ${PORTMAP_DNAT_CHAIN}`,
    `  }`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat - 1; policy accept;`,
    `    oifname "${ROUTER_WAN_IF}" jump postrouting_miniupnpd`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/** miniupnpd.conf for a router whose LAN is `lanCidr`. */
export function miniupnpdConfig(options: { lanCidr: string; leaseFile: string }): string {
  return [
    `ext_ifname=${ROUTER_WAN_IF}`,
    `listening_ip=${ROUTER_LAN_IF}`,
    // NAT-PMP and PCP share port 5351; UPnP IGD (SSDP + HTTP) is not used by the lab.
    'enable_natpmp=yes',
    'enable_upnp=no',
    // Devices may map only their own address.
    'secure_mode=yes',
    `upnp_table_name=${PORTMAP_TABLE}`,
    `upnp_nat_table_name=${PORTMAP_TABLE}`,
    'upnp_forward_chain=miniupnpd',
    `upnp_nat_chain=${PORTMAP_DNAT_CHAIN}`,
    'upnp_nat_postrouting_chain=postrouting_miniupnpd',
    `lease_file=${options.leaseFile}`,
    // Expired mappings are removed within this many seconds.
    'clean_ruleset_interval=60',
    `allow 1024-65535 ${options.lanCidr} 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    '',
  ].join('\n');
}

/** Writes the config for a router (in the lab's work directory) and returns its path. */
export async function writeMiniupnpdConfig(
  workDir: string,
  router: string,
  lanCidr: string,
): Promise<string> {
  const path = join(workDir, `miniupnpd-${router}.conf`);
  const leaseFile = join(workDir, `miniupnpd-${router}.leases`);
  await writeFile(path, miniupnpdConfig({ lanCidr, leaseFile }));
  return path;
}

/** One mapping miniupnpd installed: public port → device address and port. */
export interface LabPortMapping {
  readonly externalPort: number;
  readonly internalAddress: string;
  readonly internalPort: number;
}

type Exec = (ns: string, cmd: string, args: readonly string[]) => Promise<{ stdout: string }>;

/** miniupnpd's DNAT chain on a router, as `nft list chain` prints it (for failure messages). */
export async function portMapRules(lab: { exec: Exec }, routerNs: string): Promise<string> {
  const { stdout } = await lab.exec(routerNs, 'nft', [
    'list',
    'chain',
    'inet',
    PORTMAP_TABLE,
    PORTMAP_DNAT_CHAIN,
  ]);
  return stdout;
}

/** The UDP mappings miniupnpd has in force on a router (its DNAT rules). */
export async function portMappings(
  lab: { exec: Exec },
  routerNs: string,
): Promise<LabPortMapping[]> {
  const out: LabPortMapping[] = [];
  // miniupnpd writes e.g. `iif "wan" @nh,72,8 0x11 th dport 41641 dnat ip to 10.1.0.10:41641`
  // (0x11: the IPv4 protocol byte for UDP).
  const rules = await portMapRules(lab, routerNs);
  for (const m of rules.matchAll(/(?:udp|th) dport (\d+).*?dnat ip to ([\d.]+):(\d+)/g)) {
    out.push({ externalPort: Number(m[1]), internalAddress: m[2]!, internalPort: Number(m[3]) });
  }
  return out;
}
