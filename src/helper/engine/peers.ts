/** The peers this device builds tunnels to, in the order later steps assign prefixes. */
import { canonicalIp } from '../../shared/ip.js';
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

/** A peer by id, name, FQDN (any case, trailing dot allowed) or mesh address. */
export function findPeer(netmap: Pick<Netmap, 'peers'>, query: string): Peer | null {
  const q = query.trim().toLowerCase().replace(/\.$/, '');
  const ip = canonicalIp(q);
  for (const p of netmap.peers) {
    if (p.id === query || p.name === q || p.fqdn === q) return p;
    if (ip.ok && (p.addresses.ipv4 === ip.value || p.addresses.ipv6 === ip.value)) return p;
  }
  return null;
}
