/**
 * The WireGuard device as the helper sees it, whatever implements it: wireguard-go through its
 * UAPI socket (Linux/macOS userspace; the lab default), Linux kernel WireGuard, wireguard-nt on
 * Windows, or an in-memory fake for unit tests. Configuration is always applied as a diff against
 * what the device has: a netmap change never tears the device down or drops live sessions.
 */

export interface WgPeerConfig {
  /** WireGuard base64 public key. */
  readonly publicKey: string;
  /** Where to send this peer's packets ("ip:port", IPv6 as "[addr]:port"); null lets WireGuard learn it. */
  readonly endpoint: string | null;
  /** CIDRs routed to this peer (its mesh addresses, plus routes it serves). */
  readonly allowedIps: readonly string[];
  /** Seconds; 0 disables. */
  readonly persistentKeepalive: number;
}

export interface WgInterfaceConfig {
  /** WireGuard base64 private key. */
  readonly privateKey: string;
  /** UDP port WireGuard listens on; 0 lets the device pick one. */
  readonly listenPort: number;
  /** Firewall mark on WireGuard's own packets (policy routing keeps them off the tunnel); 0 = none. */
  readonly fwmark: number;
  readonly peers: readonly WgPeerConfig[];
}

export interface WgPeerStats {
  readonly publicKey: string;
  readonly endpoint: string | null;
  /** null until the first handshake. */
  readonly lastHandshake: Date | null;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface WgDeviceStats {
  readonly listenPort: number;
  readonly peers: readonly WgPeerStats[];
}

export type WgErrorCode =
  | 'create_failed'
  | 'uapi_error'
  | 'uapi_unreachable'
  | 'bad_config'
  | 'closed'
  /** The userspace implementation's process died; the device is gone with it. */
  | 'process_exited'
  /** A configuration command (`wg`, `ip`) failed (kernel backend). */
  | 'command_failed';

export class WgError extends Error {
  constructor(
    readonly code: WgErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WgError';
  }
}

export interface WireGuardDevice {
  /** The OS interface name (e.g. "trellis0"). */
  readonly name: string;
  /** Brings the device to `config`, changing only what differs from the last applied config. */
  apply(config: WgInterfaceConfig): Promise<void>;
  stats(): Promise<WgDeviceStats>;
  /** Removes the interface and everything it owned. Idempotent. */
  close(): Promise<void>;
}

export interface WireGuardBackend {
  readonly kind: 'wireguard-go' | 'kernel' | 'wireguard-nt' | 'fake';
  /** Creates the interface (or adopts a leftover one of the same name after a crash). */
  create(name: string, options: { readonly mtu: number }): Promise<WireGuardDevice>;
}
