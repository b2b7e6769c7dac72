/**
 * Port mapping on a lab site router: miniupnpd (Debian's miniupnpd-nftables) answering NAT-PMP
 * and PCP on the router's LAN address (or, after useUpnpOnly(), UPnP IGD alone: SSDP on the LAN
 * link and its HTTP/SOAP server), adding its DNAT rules to a table of its own.
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
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROUTER_LAN_IF, ROUTER_WAN_IF } from './nat.js';
import type { MeshDevice } from './mesh.js';
import type { NatLab, Site } from './topology.js';

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

/** Which protocols miniupnpd speaks: NAT-PMP and PCP (the default), or UPnP IGD alone. */
export type PortMapProtocols = 'natpmp-pcp' | 'upnp';

/** miniupnpd.conf for a router whose LAN is `lanCidr`. */
export function miniupnpdConfig(options: {
  lanCidr: string;
  leaseFile: string;
  protocols?: PortMapProtocols;
}): string {
  const upnp = options.protocols === 'upnp';
  return [
    `ext_ifname=${ROUTER_WAN_IF}`,
    // UPnP: SSDP joins 239.255.255.250 on this interface, HTTP listens on its address.
    `listening_ip=${ROUTER_LAN_IF}`,
    // NAT-PMP and PCP share port 5351; UPnP IGD is SSDP on 1900 plus HTTP on a random port.
    `enable_natpmp=${upnp ? 'no' : 'yes'}`,
    `enable_upnp=${upnp ? 'yes' : 'no'}`,
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
  protocols: PortMapProtocols = 'natpmp-pcp',
): Promise<string> {
  const suffix = protocols === 'upnp' ? '-upnp' : '';
  const path = join(workDir, `miniupnpd-${router}${suffix}.conf`);
  const leaseFile = join(workDir, `miniupnpd-${router}${suffix}.leases`);
  await writeFile(path, miniupnpdConfig({ lanCidr, leaseFile, protocols }));
  return path;
}

/** How long miniupnpd may take to start (or stop) on a loaded machine. */
const MINIUPNPD_START_MS = 15_000;

/**
 * Turns a `portMapping: true` site's router into a UPnP-only gateway, as many home routers are:
 * stops the NAT-PMP/PCP miniupnpd the lab started (by the pid it wrote), resets its nftables
 * table, and starts one with UPnP IGD on and NAT-PMP/PCP off (a tracked lab process). Call it
 * before the site's devices start mapping.
 */
export async function useUpnpOnly(lab: NatLab, site: Site): Promise<void> {
  if (!site.portMapping) throw new Error(`site ${site.name} runs no miniupnpd`);
  const ns = site.router.ns;
  const pidFile = `${join(lab.workDir(), `miniupnpd-${site.name}.conf`)}.pid`;
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`bad miniupnpd pid file ${pidFile}`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + MINIUPNPD_START_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`miniupnpd (${pid}) did not stop`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // A fresh table: what the first instance left (or removed) does not matter.
  await lab.exec(ns, 'nft', ['delete', 'table', 'inet', PORTMAP_TABLE]).catch(() => undefined);
  await lab.exec(ns, 'nft', ['-f', '-'], { input: portMapRuleset() });
  const config = await writeMiniupnpdConfig(lab.workDir(), site.name, site.router.lanCidr, 'upnp');
  const proc = await lab.spawn(ns, MINIUPNPD, ['-f', config, '-d', '-P', `${config}.pid`], {
    label: `miniupnpd UPnP (${site.name})`,
  });
  while (!/HTTP listening on port/.test(proc.output())) {
    if (proc.hasExited() || Date.now() > deadline) {
      throw new Error(`miniupnpd (UPnP) did not start on ${site.name}'s router:\n${proc.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
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

/**
 * Waits until the router of `device`'s site holds a mapping (miniupnpd's rules), returning the
 * first; on timeout throws with the router's rules and the device's recent log.
 */
export async function waitForPortMapping(
  lab: { exec: Exec },
  device: MeshDevice,
  ms: number,
): Promise<LabPortMapping> {
  const routerNs = device.site.router.ns;
  const deadline = Date.now() + ms;
  for (;;) {
    const [m] = await portMappings(lab, routerNs);
    if (m) return m;
    if (Date.now() > deadline) {
      throw new Error(
        `no mapping on ${device.name}'s router after ${ms} ms; its rules:\n` +
          `${await portMapRules(lab, routerNs)}\n` +
          `recent log of ${device.name}:\n${device.daemon.output().split('\n').slice(-20).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
