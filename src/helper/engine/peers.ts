/** The peers this device builds tunnels to, in the order later steps assign prefixes. */
import type { Netmap, Peer } from '../../shared/schema/control/netmap.js';

/**
 * Peers worth a tunnel: not ourselves (a netmap bug must not make us our own peer) and not past
 * key expiry (the peer's WireGuard would refuse us anyway, and its key may be reused by nobody).
 */
export function tunnelPeers(netmap: Netmap, now: Date): Peer[] {
  const t = now.getTime();
  return netmap.peers.filter(
    (p) =>
      p.nodeKey !== netmap.self.nodeKey && (p.keyExpiry === null || Date.parse(p.keyExpiry) > t),
  );
}
