/** Netmap + prefs → the OS network config for the WireGuard interface (a pure function). */
import type { Netmap } from '../../shared/schema/control/netmap.js';
import type { Prefs } from '../../shared/schema/localapi.js';
import type { OsNetworkConfig } from '../os/types.js';
import { tunnelPeers } from './peers.js';
import { routedPrefixes } from './routes.js';

/**
 * Tailscale's choice: 1280 is the IPv6 minimum, so tunnelled packets fit every path that carries
 * IPv6 at all, with room for WireGuard's 80 bytes of overhead over a 1360+ byte underlay.
 */
export const DEFAULT_MTU = 1280;

export interface OsConfigInput {
  readonly netmap: Netmap;
  readonly prefs: Pick<Prefs, 'acceptRoutes'>;
  readonly interfaceName: string;
  readonly mtu: number;
  readonly now: Date;
}

export function osConfigFromNetmap(input: OsConfigInput): OsNetworkConfig {
  const { self } = input.netmap;
  const routes = new Set<string>();
  for (const peer of tunnelPeers(input.netmap, input.now)) {
    for (const cidr of routedPrefixes(peer, input.prefs)) routes.add(cidr);
  }
  return {
    interfaceName: input.interfaceName,
    addresses: [`${self.addresses.ipv4}/32`, `${self.addresses.ipv6}/128`],
    mtu: input.mtu,
    routes: [...routes].sort(),
  };
}

/** Nothing on the interface: what `down` and logout apply. */
export function emptyOsConfig(interfaceName: string, mtu: number): OsNetworkConfig {
  return { interfaceName, addresses: [], mtu, routes: [] };
}
