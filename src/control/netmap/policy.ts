/**
 * The hub's view of access policy. The hub asks only these questions, so the policy engine can
 * change without touching delta computation. `allowAllPolicy` is the default: every approved
 * device of a network sees every other.
 */
import type { PacketFilter, Peer } from '../../shared/schema/control/netmap.js';
import type { MeshDevice } from './device.js';

export interface PeerPolicy {
  /** May `viewer` have `target` in its netmap (either may initiate to the other)? */
  visible(viewer: MeshDevice, target: MeshDevice): boolean;
  /** The peer entry as `viewer` sees it (e.g. routes only when policy lets viewer use them). */
  peerFor(viewer: MeshDevice, target: MeshDevice, base: Peer): Peer;
  /** The compiled inbound filter where `device` is the destination. */
  packetFilter(device: MeshDevice, all: ReadonlyMap<string, MeshDevice>): PacketFilter;
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
