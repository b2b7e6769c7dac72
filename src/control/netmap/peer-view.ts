/** MeshDevice → the wire `Peer` and `SelfNode` of the netmap schema. */
import type { Peer, SelfNode } from '../../shared/schema/control/netmap.js';
import type { MeshDevice } from './device.js';

/**
 * `primaryRoutes`: the prefixes `d` is the primary router for (primary-routes.ts). Only those
 * enter allowed IPs; the other approved routes are offered for failover but carry no traffic.
 */
export function toPeer(d: MeshDevice, primaryRoutes: readonly string[]): Peer {
  return {
    id: d.id,
    name: d.name,
    fqdn: d.fqdn,
    nodeKey: d.nodeKey,
    discoKey: d.discoKey,
    addresses: { ipv4: d.addresses.ipv4, ipv6: d.addresses.ipv6 },
    allowedIPs: [`${d.addresses.ipv4}/32`, `${d.addresses.ipv6}/128`, ...primaryRoutes],
    endpoints: [...d.endpoints],
    homeRelayRegion: d.homeRelayRegion,
    online: d.online,
    lastSeen: d.lastSeen,
    os: d.os,
    owner: d.owner,
    exitNodeOffered: d.isExitNode,
    routesOffered: [...d.routes.approved],
    primaryRoutes: [...primaryRoutes],
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
