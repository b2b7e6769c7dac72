/**
 * OS network configuration the helper owns, behind one interface so the logic is tested
 * in-process and the real implementation (Linux: `ip`, `nft`, sysctls, resolv.conf) in
 * namespaces. Applied as a diff; `teardown` leaves the machine's networking as it was found.
 */
import type { PacketFilter } from '../../shared/schema/control/netmap.js';

export interface OsNetworkConfig {
  /** The WireGuard interface the config belongs to. */
  readonly interfaceName: string;
  /** Mesh addresses of this device, as CIDRs (e.g. "100.64.0.5/32", "fd7a:…:5/128"). */
  readonly addresses: readonly string[];
  /**
   * Addresses this host answers on but never sends from (host scope): the MagicDNS resolver's
   * 100.100.100.100, which no peer would accept as a source.
   */
  readonly localAddresses?: readonly string[];
  readonly mtu: number;
  /** Prefixes routed into the interface (peers' addresses, accepted subnet routes). */
  readonly routes: readonly string[];
  /**
   * The inbound packet filter on the interface. Absent: no filter at all (plain tunnels for
   * tools and tests); the daemon always sets it.
   */
  readonly filter?: InboundFilter;
  /** Exit-node client routing; absent or null: the machine's own default route stays in use. */
  readonly exitRouting?: ExitRouting | null;
  /** Forward and masquerade peers' traffic out of the uplinks (exit node, subnet router). */
  readonly forwarding?: boolean;
  /** Point system DNS at the MagicDNS resolver; absent or null: leave system DNS alone. */
  readonly dns?: SystemDnsConfig | null;
}

export interface InboundFilter {
  /** Allow rules (the netmap's compiled policy plus implicit ones); everything else is dropped. */
  readonly rules: PacketFilter;
  /** Drop every new inbound connection to this device, whatever the rules allow. */
  readonly blockIncoming: boolean;
}

export interface ExitRouting {
  /**
   * Hosts whose traffic keeps the machine's own routes: control, relays, STUN servers and peer
   * endpoints. IP addresses, or host names the configurator resolves.
   */
  readonly bypass: readonly string[];
  /** Keep the networks of the machine's own interfaces off the tunnel. */
  readonly allowLan: boolean;
}

export interface SystemDnsConfig {
  /** The resolvers system DNS is pointed at (the MagicDNS address). */
  readonly nameservers: readonly string[];
  readonly searchDomains: readonly string[];
  /**
   * Domains to send to `nameservers` where the system resolver can split by domain
   * (systemd-resolved); resolv.conf has one resolver list, so there everything goes to them.
   */
  readonly matchDomains: readonly string[];
  /** Whether all other names go to `nameservers` too (systemd-resolved's default route). */
  readonly defaultRoute: boolean;
}

export type OsErrorCode = 'command_failed' | 'not_permitted' | 'not_found' | 'bad_config';

export class OsConfigError extends Error {
  constructor(
    readonly code: OsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OsConfigError';
  }
}

export interface OsConfigurator {
  apply(config: OsNetworkConfig): Promise<void>;
  /** Removes every address, route, rule, table and setting this configurator added. Idempotent. */
  teardown(): Promise<void>;
  /**
   * What the last apply could not do without failing it: system DNS, which must never take the
   * tunnels down with it. Shown as health warnings; tried again on the next apply.
   */
  warnings?(): readonly string[];
}

/**
 * What `down` leaves: the interface without addresses, routes, exit routing, forwarding or DNS
 * (the filter stays: with no peers nothing reaches it anyway).
 */
export function downOsConfig(config: OsNetworkConfig): OsNetworkConfig {
  return {
    ...config,
    addresses: [],
    localAddresses: [],
    routes: [],
    exitRouting: null,
    forwarding: false,
    dns: null,
  };
}
