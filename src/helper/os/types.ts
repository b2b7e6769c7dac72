/**
 * OS network configuration the helper owns, behind one interface so the logic is tested
 * in-process and the real implementation (Linux: `ip`, later `nft`) in namespaces. Applied as a
 * diff; `teardown` leaves the machine's networking as it was found.
 */

export interface OsNetworkConfig {
  /** The WireGuard interface the config belongs to. */
  readonly interfaceName: string;
  /** Mesh addresses of this device, as CIDRs (e.g. "100.64.0.5/32", "fd7a:…:5/128"). */
  readonly addresses: readonly string[];
  readonly mtu: number;
  /** Prefixes routed into the interface (peers' addresses, accepted subnet routes). */
  readonly routes: readonly string[];
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
  /** Removes every address, route and rule this configurator added. Idempotent. */
  teardown(): Promise<void>;
}
