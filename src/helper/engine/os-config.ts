/**
 * Netmap + prefs → the OS network config for the WireGuard interface (a pure function): mesh
 * addresses and routes, the inbound packet filter, exit-node routing, forwarding for an exit
 * node or subnet router, and system DNS (from dns/plan.ts).
 */
import { parseIpPort } from '../../shared/ip.js';
import type { FilterRule, Netmap } from '../../shared/schema/control/netmap.js';
import type { Prefs } from '../../shared/schema/localapi.js';
import type { DnsPlan } from '../dns/plan.js';
import type { ExitRouting, OsNetworkConfig } from '../os/types.js';
import type { ExitNodeChoice } from './exit-node.js';
import { tunnelPeers } from './peers.js';
import { routedPrefixes } from './routes.js';

/**
 * Tailscale's choice: 1280 is the IPv6 minimum, so tunnelled packets fit every path that carries
 * IPv6 at all, with room for WireGuard's 80 bytes of overhead over a 1360+ byte underlay.
 */
export const DEFAULT_MTU = 1280;

type OsPrefs = Pick<Prefs, 'acceptRoutes'> &
  Partial<
    Pick<
      Prefs,
      'blockIncoming' | 'exitNodeAllowLAN' | 'advertiseRoutes' | 'advertiseExitNode' | 'controlUrl'
    >
  >;

export interface OsConfigInput {
  readonly netmap: Netmap;
  readonly prefs: OsPrefs;
  readonly interfaceName: string;
  readonly mtu: number;
  readonly now: Date;
  /** The exit node decision (engine/exit-node.ts); absent: none. */
  readonly exitNode?: ExitNodeChoice;
  /** The DNS plan (dns/plan.ts); absent: system DNS is left alone. */
  readonly dns?: DnsPlan;
}

/** A URL's host as an address or name ("[fd00::1]" → "fd00::1"); null when it has none. */
function urlHost(url: string): string | null {
  try {
    const host = new URL(url).hostname;
    return host === '' ? null : host.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return null;
  }
}

/**
 * What must not ride the exit node's tunnel: control, every relay and STUN server, and every
 * peer endpoint (magicsock's sockets carry no fwmark).
 */
export function exitBypassHosts(netmap: Netmap, controlUrl: string | undefined): string[] {
  const hosts = new Set<string>();
  const control = controlUrl ? urlHost(controlUrl) : null;
  if (control) hosts.add(control);
  for (const region of netmap.relayMap.regions) {
    for (const relay of region.relays) {
      const h = urlHost(relay.url);
      if (h) hosts.add(h);
      hosts.add(relay.stunHost);
    }
  }
  for (const peer of netmap.peers) {
    for (const e of peer.endpoints) {
      const ep = parseIpPort(e.addr);
      if (ep.ok) hosts.add(ep.value.ip);
    }
  }
  return [...hosts].sort();
}

/** The filter rule that lets exit-node users reach this device's resolver (dns/plan.ts). */
export function exitNodeDnsRule(netmap: Netmap): FilterRule {
  return {
    srcs: ['0.0.0.0/0', '::/0'],
    dsts: [{ cidr: `${netmap.self.addresses.ipv4}/32`, ports: { first: 53, last: 53 } }],
    protos: ['udp', 'tcp'],
  };
}

export function osConfigFromNetmap(input: OsConfigInput): OsNetworkConfig {
  const { netmap, prefs } = input;
  const { self } = netmap;
  const routes = new Set<string>();
  for (const peer of tunnelPeers(netmap, input.now)) {
    for (const cidr of routedPrefixes(peer, prefs)) routes.add(cidr);
  }
  const exitRouting: ExitRouting | null =
    input.exitNode && input.exitNode.type !== 'none'
      ? {
          bypass: exitBypassHosts(netmap, prefs.controlUrl),
          allowLan: prefs.exitNodeAllowLAN ?? false,
        }
      : null;
  return {
    interfaceName: input.interfaceName,
    addresses: [`${self.addresses.ipv4}/32`, `${self.addresses.ipv6}/128`],
    localAddresses: input.dns?.localAddresses ?? [],
    mtu: input.mtu,
    routes: [...routes].sort(),
    filter: {
      rules: input.dns?.servesExitNodeDns
        ? [...netmap.packetFilter, exitNodeDnsRule(netmap)]
        : netmap.packetFilter,
      blockIncoming: prefs.blockIncoming ?? false,
    },
    exitRouting,
    forwarding: (prefs.advertiseExitNode ?? false) || (prefs.advertiseRoutes ?? []).length > 0,
    dns: input.dns?.system ?? null,
  };
}

/** Nothing on the interface: what `down` and logout apply. */
export function emptyOsConfig(interfaceName: string, mtu: number): OsNetworkConfig {
  return { interfaceName, addresses: [], mtu, routes: [] };
}
