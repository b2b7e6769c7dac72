/**
 * Which of a peer's allowed IPs this device routes to it. The netmap lists everything control
 * allows; the device narrows it by its own prefs: exit-node default routes are left to the exit
 * node logic (wg-config.ts gives them to the chosen exit node only, and os/exit-routing.ts
 * routes them), and subnet routes are taken only with acceptRoutes — and, when control names the
 * router currently serving each prefix (`primaryRoutes`), only from that router, so failover
 * follows the netmap.
 */
import { parseCidr } from '../../shared/ip.js';
import type { Peer } from '../../shared/schema/control/netmap.js';
import type { Prefs } from '../../shared/schema/localapi.js';

const DEFAULT_ROUTES = new Set(['0.0.0.0/0', '::/0']);

export const isDefaultRoute = (cidr: string): boolean => DEFAULT_ROUTES.has(cidr);

/** The peer's own mesh addresses as host prefixes ("100.64.0.2/32", "fd…::2/128"). */
export function peerHostPrefixes(peer: Pick<Peer, 'addresses'>): string[] {
  return [`${peer.addresses.ipv4}/32`, `${peer.addresses.ipv6}/128`];
}

/**
 * The prefixes routed to `peer`, in netmap order: its own addresses always, subnet routes when
 * `acceptRoutes` (only its primary ones when the netmap says which), default routes never. Used
 * for both WireGuard's allowed IPs and the OS routes, so the kernel never routes a prefix into
 * the tunnel that WireGuard would drop, and WireGuard never claims a prefix this device chose
 * not to use.
 */
export function routedPrefixes(peer: Peer, prefs: Pick<Prefs, 'acceptRoutes'>): string[] {
  const own = new Set(peerHostPrefixes(peer));
  const primary = peer.primaryRoutes ? new Set(peer.primaryRoutes) : null;
  const out: string[] = [];
  for (const cidr of peer.allowedIPs) {
    if (isDefaultRoute(cidr)) continue;
    if (!own.has(cidr) && (!prefs.acceptRoutes || (primary !== null && !primary.has(cidr))))
      continue;
    if (!parseCidr(cidr).ok) continue;
    out.push(cidr);
  }
  return out;
}
