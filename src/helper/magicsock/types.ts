/** What magicsock reports: ping results and counters. (The STUN contract is netcheck/types.ts.) */
import type { RegionId } from '../../shared/schema/common.js';

/** The path a disco ping took and its round trip (LocalAPI ping). */
export interface PingPath {
  readonly path:
    | { readonly type: 'direct'; readonly endpoint: string }
    | { readonly type: 'relay'; readonly region: RegionId };
  readonly latencyMs: number;
}

export interface MagicsockCounters {
  /** STUN datagrams a sink claimed / that nobody was waiting for. */
  stunHandled: number;
  stunIgnored: number;
  /** Disco messages accepted. */
  discoReceived: number;
  /** Disco from a disco key that is not a peer's. */
  discoUnknownSender: number;
  /** Disco that failed authentication (bad seal, low-order key, oversized). */
  discoBadSeal: number;
  /** Authenticated disco whose message did not decode. */
  discoBadMessage: number;
  /** Disco whose claimed node key (ping, or relay sender) is not the peer's. */
  discoKeyMismatch: number;
  /** Pongs that answered nothing we sent (late, unknown, or from the wrong address). */
  discoUnmatchedPong: number;
  /**
   * Disco from, and peer endpoints in, prefixes routed into the tunnel (mesh addresses, subnet
   * routes): ignored, since a path there would carry WireGuard inside WireGuard.
   */
  viaTunnelIgnored: number;
  /** Call-me-maybe pings held back by the per-peer budget (a peer sending too many). */
  callMeMaybeHeld: number;
  /** WireGuard packets from an address no peer proved with disco. */
  wgUnknownSource: number;
  /** WireGuard packets in and out, by path. */
  wgDirectIn: number;
  wgRelayIn: number;
  wgDirectOut: number;
  wgRelayOut: number;
  /** Unanswered WireGuard handshake initiations sent again when the route to the peer changed. */
  wgHandshakeResent: number;
  /** A peer's handshake initiation that crossed ours, held back (magicsock.ts). */
  wgCrossingInitHeld: number;
  /** WireGuard packets for a peer that no path could take. */
  wgNoPath: number;
  /** Relay packets from a node key that is not a peer. */
  relayUnknownPeer: number;
  /** UDP datagrams that are neither WireGuard, disco nor STUN. */
  unknownPacket: number;
  /** Datagrams the socket could not send. */
  sendFailed: number;
  /** Datagrams a test filter dropped. */
  directFiltered: number;
  /** A receive handler threw (a bug: counted, never fatal). */
  receiveErrors: number;
  proxyForeignSource: number;
  proxyDeliverFailed: number;
}

export function newCounters(): MagicsockCounters {
  return {
    stunHandled: 0,
    stunIgnored: 0,
    discoReceived: 0,
    discoUnknownSender: 0,
    discoBadSeal: 0,
    discoBadMessage: 0,
    discoKeyMismatch: 0,
    viaTunnelIgnored: 0,
    callMeMaybeHeld: 0,
    discoUnmatchedPong: 0,
    wgUnknownSource: 0,
    wgDirectIn: 0,
    wgRelayIn: 0,
    wgDirectOut: 0,
    wgRelayOut: 0,
    wgHandshakeResent: 0,
    wgCrossingInitHeld: 0,
    wgNoPath: 0,
    relayUnknownPeer: 0,
    unknownPacket: 0,
    sendFailed: 0,
    directFiltered: 0,
    receiveErrors: 0,
    proxyForeignSource: 0,
    proxyDeliverFailed: 0,
  };
}
