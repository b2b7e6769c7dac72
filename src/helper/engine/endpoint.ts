/**
 * Where to send a peer's WireGuard packets. Until disco and hole punching arrive, devices reach
 * each other only where an advertised endpoint is directly reachable: prefer the peer's own
 * interface address (same LAN, no NAT in between), then its STUN-reflexive one (works through an
 * endpoint-independent NAT once the peer has sent to us), else let WireGuard learn it.
 */
import type { Peer } from '../../shared/schema/control/netmap.js';

export function chooseEndpoint(peer: Pick<Peer, 'endpoints'>): string | null {
  return (
    peer.endpoints.find((e) => e.type === 'local')?.addr ??
    peer.endpoints.find((e) => e.type === 'stun')?.addr ??
    null
  );
}
