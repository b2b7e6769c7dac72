/** MeshDevice → the wire `Peer` and `SelfNode` of the netmap schema. */
import type { Peer, SelfNode } from '../../shared/schema/control/netmap.js';
import type { MeshDevice } from './device.js';

export function toPeer(d: MeshDevice): Peer {
  return {
    id: d.id,
    name: d.name,
    fqdn: d.fqdn,
    nodeKey: d.nodeKey,
    discoKey: d.discoKey,
    addresses: { ipv4: d.addresses.ipv4, ipv6: d.addresses.ipv6 },
    allowedIPs: [`${d.addresses.ipv4}/32`, `${d.addresses.ipv6}/128`, ...d.routes.approved],
    endpoints: [...d.endpoints],
    homeRelayRegion: d.homeRelayRegion,
    online: d.online,
    lastSeen: d.lastSeen,
    os: d.os,
    owner: d.owner,
    exitNodeOffered: d.isExitNode,
    routesOffered: [...d.routes.approved],
    keyExpiry: d.keyExpiry,
    created: d.created,
  };
}

export function toSelf(d: MeshDevice): SelfNode {
  return {
    id: d.id,
    name: d.name,
    fqdn: d.fqdn,
    nodeKey: d.nodeKey,
    addresses: { ipv4: d.addresses.ipv4, ipv6: d.addresses.ipv6 },
    keyExpiry: d.keyExpiry,
    approved: d.approved,
    owner: d.owner,
    posture: [...d.posture],
    routes: { advertised: [...d.routes.advertised], approved: [...d.routes.approved] },
    isExitNode: d.isExitNode,
    ephemeral: d.ephemeral,
  };
}
