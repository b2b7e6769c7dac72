/**
 * The hub's view of access policy. The hub asks only these questions, so the policy engine can
 * change without touching delta computation. `allowAllPolicy` is the default: every approved
 * device of a network sees every other.
 */
import type {
  PacketFilter,
  Peer,
  PostureQueries,
  PostureResult,
} from '../../shared/schema/control/netmap.js';
import type { MeshDevice } from './device.js';

/** How a peer set changed for one viewer (the engine computes it exactly). */
export interface PeerSetChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Still visible, but shaped differently for this viewer (routes, exit node). */
  readonly reshaped: readonly string[];
}

/** What a stateful policy reports after learning of one device's change. */
export interface PolicyDeviceChange {
  /** Viewers that no longer see the device. */
  readonly lostBy: readonly string[];
  /** Devices whose inbound packet filter changed. */
  readonly filters: readonly string[];
  /** The device's own peer set change; null when the hub should resend its full map. */
  readonly self: PeerSetChange | null;
  /** The device's posture results as policy evaluates them now. */
  readonly posture: readonly PostureResult[];
}

/** A policy change across a network: who must hear what. */
export interface PolicyNetworkChange {
  readonly views: readonly string[];
  readonly filters: readonly string[];
  readonly postures: readonly string[];
  peerChanges(viewerId: string): PeerSetChange;
  posture(id: string): readonly PostureResult[];
}

export interface PeerPolicy {
  /** May `viewer` have `target` in its netmap (either may initiate to the other)? */
  visible(viewer: MeshDevice, target: MeshDevice): boolean;
  /** The peer entry as `viewer` sees it (e.g. routes only when policy lets viewer use them). */
  peerFor(viewer: MeshDevice, target: MeshDevice, base: Peer): Peer;
  /** The compiled inbound filter where `device` is the destination. */
  packetFilter(device: MeshDevice, all: ReadonlyMap<string, MeshDevice>): PacketFilter;
  /**
   * Stateful policies (the policy engine) learn of each change here, before the hub computes who
   * must hear about it. Stateless policies leave these out and the hub compares old and new.
   */
  deviceChanged?(device: MeshDevice): PolicyDeviceChange;
  deviceRemoved?(device: MeshDevice): Pick<PolicyDeviceChange, 'lostBy' | 'filters'>;
  /** What devices of a network must report for posture checks. */
  postureQueries?(networkId: string): PostureQueries;
  /**
   * A live update (new endpoints) changed a fact policy evaluates (the public address that
   * geolocation checks look up): the hub then treats it as a structural change.
   */
  liveFactsChanged?(old: MeshDevice, next: MeshDevice): boolean;
}

/** Every approved device sees every other; inbound filter accepts everything from the mesh. */
export const allowAllPolicy: PeerPolicy = {
  visible: (viewer, target) => viewer.id !== target.id && viewer.approved && target.approved,
  peerFor: (_viewer, _target, base) => base,
  packetFilter: () => [
    {
      srcs: ['100.64.0.0/10', 'fc00::/7'],
      dsts: [
        { cidr: '0.0.0.0/0', ports: { first: 0, last: 65535 } },
        { cidr: '::/0', ports: { first: 0, last: 65535 } },
      ],
      protos: ['any'],
    },
  ],
};
