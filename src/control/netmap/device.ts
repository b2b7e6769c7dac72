/**
 * MeshDevice: what the netmap hub holds in memory for each device. Built from the store's device
 * rows plus live stream state (endpoints, online), and turned into the wire `Peer` / `SelfNode`
 * by peer-view.ts.
 */
import type {
  DeviceOwner,
  Endpoint,
  PostureResult,
  RouteState,
} from '../../shared/schema/control/netmap.js';
import type { HostInfo } from '../../shared/schema/control/hostinfo.js';
import type { OsKind } from '../../shared/schema/common.js';

export interface MeshDevice {
  readonly id: string;
  readonly networkId: string;
  readonly name: string;
  readonly fqdn: string;
  readonly nodeKey: string;
  readonly discoKey: string | null;
  readonly addresses: { readonly ipv4: string; readonly ipv6: string };
  readonly owner: DeviceOwner;
  /** The owning user's role and IdP groups (policy sources); null/empty for tagged devices. */
  readonly ownerRole: 'owner' | 'admin' | 'member' | null;
  readonly ownerGroups: readonly string[];
  readonly os: OsKind;
  readonly hostInfo: HostInfo | null;
  /** ISO time, or null when expiry is disabled for this device. */
  readonly keyExpiry: string | null;
  readonly approved: boolean;
  readonly ephemeral: boolean;
  readonly created: string;
  readonly endpoints: readonly Endpoint[];
  readonly homeRelayRegion: number | null;
  readonly online: boolean;
  readonly lastSeen: string | null;
  readonly routes: RouteState;
  /** Advertises an exit node and it is approved. */
  readonly isExitNode: boolean;
  readonly posture: readonly PostureResult[];
}

/** The fields that change with stream presence and client updates: cheap, high-frequency patches. */
export type LivePatch = Partial<
  Pick<MeshDevice, 'endpoints' | 'homeRelayRegion' | 'online' | 'lastSeen' | 'discoKey'>
>;

export const isKeyExpired = (d: MeshDevice, nowMs: number): boolean =>
  d.keyExpiry !== null && Date.parse(d.keyExpiry) <= nowMs;
