/** Netmap + prefs + own key → the WireGuard device config (a pure function; the device diffs it). */
import type { Netmap } from '../../shared/schema/control/netmap.js';
import type { Prefs } from '../../shared/schema/localapi.js';
import type { WgInterfaceConfig, WgPeerConfig } from '../wg/types.js';
import { chooseEndpoint } from './endpoint.js';
import { tunnelPeers } from './peers.js';
import { routedPrefixes } from './routes.js';

/**
 * Tailscale's and wg-quick's usual value: under the ~30 s UDP idle timeout of most NATs and
 * stateful firewalls, so an idle tunnel keeps its mapping and the peer can still reach us.
 */
export const PERSISTENT_KEEPALIVE_SECONDS = 25;

export interface WgConfigInput {
  readonly netmap: Netmap;
  readonly prefs: Pick<Prefs, 'acceptRoutes'>;
  /** Base64 WireGuard private key. */
  readonly privateKey: string;
  readonly listenPort: number;
  readonly now: Date;
}

export function wgConfigFromNetmap(input: WgConfigInput): WgInterfaceConfig {
  const claimed = new Set<string>();
  const peers: WgPeerConfig[] = [];
  for (const peer of tunnelPeers(input.netmap, input.now)) {
    // WireGuard gives a prefix to the last peer that lists it; keep the first claim instead, so
    // a duplicate in the netmap cannot make traffic flip between peers on every apply.
    const allowedIps = routedPrefixes(peer, input.prefs).filter((c) => !claimed.has(c));
    for (const c of allowedIps) claimed.add(c);
    peers.push({
      publicKey: peer.nodeKey,
      endpoint: chooseEndpoint(peer),
      allowedIps,
      persistentKeepalive: PERSISTENT_KEEPALIVE_SECONDS,
    });
  }
  return { privateKey: input.privateKey, listenPort: input.listenPort, fwmark: 0, peers };
}

/** A device that is down: same key and port, no peers (sessions end, the interface stays). */
export function emptyWgConfig(privateKey: string, listenPort: number): WgInterfaceConfig {
  return { privateKey, listenPort, fwmark: 0, peers: [] };
}
