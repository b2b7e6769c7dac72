/** Netmap + prefs + own key → the WireGuard device config (a pure function; the device diffs it). */
import type { Netmap, Peer } from '../../shared/schema/control/netmap.js';
import type { Prefs } from '../../shared/schema/localapi.js';
import { TRELLIS_FWMARK } from '../os/exit-routing.js';
import type { WgInterfaceConfig, WgPeerConfig } from '../wg/types.js';
import { chooseEndpoint } from './endpoint.js';
import type { ExitNodeChoice } from './exit-node.js';
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
  /**
   * WireGuard's endpoint for a peer. With magicsock it is the peer's loopback proxy; without, the
   * peer's advertised endpoint (chooseEndpoint).
   */
  readonly endpointFor?: (peer: Peer) => string | null;
  /**
   * Only one side of each pair sends persistent keepalives: the one whose node key sorts first.
   * One side's keepalives keep both NATs' mappings alive, and two devices configured at the same
   * moment would otherwise both start a handshake at once (the keepalive needs a session); over a
   * relay's latency the initiations cross, and WireGuard drops both responses and retries 5 s
   * later. Set with magicsock, whose disco heartbeats keep the paths alive anyway.
   */
  readonly keepaliveFromFirstKeyOnly?: boolean;
  /**
   * The exit node decision: the chosen peer also gets the default routes, and while exit routing
   * is on WireGuard marks its packets so policy routing keeps them off the tunnel.
   */
  readonly exitNode?: ExitNodeChoice;
}

const EXIT_ROUTES = ['0.0.0.0/0', '::/0'];

export function wgConfigFromNetmap(input: WgConfigInput): WgInterfaceConfig {
  const claimed = new Set<string>();
  const peers: WgPeerConfig[] = [];
  for (const peer of tunnelPeers(input.netmap, input.now)) {
    // WireGuard gives a prefix to the last peer that lists it; keep the first claim instead, so
    // a duplicate in the netmap cannot make traffic flip between peers on every apply.
    const exit = input.exitNode?.type === 'using' && input.exitNode.peer.id === peer.id;
    const routed = routedPrefixes(peer, input.prefs);
    const allowedIps = (exit ? [...routed, ...EXIT_ROUTES] : routed).filter((c) => !claimed.has(c));
    for (const c of allowedIps) claimed.add(c);
    peers.push({
      publicKey: peer.nodeKey,
      endpoint: (input.endpointFor ?? chooseEndpoint)(peer),
      allowedIps,
      persistentKeepalive:
        input.keepaliveFromFirstKeyOnly && input.netmap.self.nodeKey > peer.nodeKey
          ? 0
          : PERSISTENT_KEEPALIVE_SECONDS,
    });
  }
  const fwmark = input.exitNode && input.exitNode.type !== 'none' ? TRELLIS_FWMARK : 0;
  return { privateKey: input.privateKey, listenPort: input.listenPort, fwmark, peers };
}

/** A device that is down: same key and port, no peers (sessions end, the interface stays). */
export function emptyWgConfig(privateKey: string, listenPort: number): WgInterfaceConfig {
  return { privateKey, listenPort, fwmark: 0, peers: [] };
}
