/**
 * The device's local endpoint candidates: the addresses of its own interfaces with the port peers
 * should send to (magicsock's, or WireGuard's while there is no magicsock). The endpoint updater
 * adds the STUN-reflexive ones.
 */
import { ipPortToString, parseIp } from '../../shared/ip.js';
import { MAX_ENDPOINTS } from '../../shared/schema/common.js';
import type { Endpoint } from '../../shared/schema/control/netmap.js';
import type { InterfaceAddress } from '../control-client/hostinfo.js';

/**
 * Left out: loopback (useless to peers), IPv6 link-local (needs a zone id no peer can use) and
 * the mesh interface itself (a peer reaching us through the tunnel to build the tunnel is a loop).
 */
export function localEndpoints(
  addrs: readonly InterfaceAddress[],
  listenPort: number,
  meshInterface: string,
): Endpoint[] {
  if (listenPort < 1 || listenPort > 65535) return [];
  const out: Endpoint[] = [];
  const seen = new Set<string>();
  for (const a of addrs) {
    if (a.internal || a.interfaceName === meshInterface) continue;
    const ip = parseIp(a.address);
    if (!ip.ok) continue;
    const range = ip.value.range();
    if (range === 'loopback' || range === 'linkLocal' || range === 'unspecified') continue;
    const addr = ipPortToString(ip.value, listenPort);
    if (seen.has(addr)) continue;
    seen.add(addr);
    out.push({ addr, type: 'local' });
    if (out.length >= MAX_ENDPOINTS) break;
  }
  return out;
}
