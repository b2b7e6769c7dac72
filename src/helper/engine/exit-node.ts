/**
 * Which exit node this device uses (a pure function of the netmap, the pref and what is known
 * about latency). The pref names a device by id, name or address, or says `auto`: the online exit
 * node with the lowest latency, kept while it stays within a margin of the best so traffic does
 * not flap between two similar ones. Without latency figures any online exit node will do
 * (the first by name, so the choice is stable).
 *
 * A wanted exit node that cannot be used (unknown, not offered to us, none online for `auto`)
 * does not fall back to the local internet: exit routing stays on and traffic has nowhere to go
 * until it is fixed (fail closed), and a health warning says why.
 */
import type { Netmap, Peer } from '../../shared/schema/control/netmap.js';
import type { ExitNodeSelector } from '../../shared/schema/localapi.js';
import { findPeer, tunnelPeers } from './peers.js';

/** `auto` moves to another exit node only when it is this much faster than the current one. */
export const AUTO_EXIT_SWITCH_MARGIN_MS = 15;

export type ExitNodeChoice =
  | { readonly type: 'none' }
  | { readonly type: 'using'; readonly peer: Peer }
  | { readonly type: 'unavailable'; readonly reason: string };

export interface ExitNodeInput {
  readonly netmap: Netmap;
  readonly selector: ExitNodeSelector;
  /** A peer's latest round trip, when known (disco latency). */
  readonly latencyMs: (peerId: string) => number | null;
  /** The exit node in use before this decision (for `auto`'s margin). */
  readonly currentId: string | null;
  readonly now: Date;
}

/** Peers that offer themselves as exit nodes to this device. */
export function exitNodeCandidates(netmap: Netmap, now: Date): Peer[] {
  return tunnelPeers(netmap, now).filter((p) => p.exitNodeOffered);
}

export interface ExitNodePick {
  readonly peer: Peer;
  readonly latencyMs: number | null;
  readonly reason: string;
}

/** The best online exit node, keeping `currentId` unless another is clearly faster. */
export function pickExitNode(
  netmap: Netmap,
  latencyMs: (peerId: string) => number | null,
  currentId: string | null,
  now: Date,
): ExitNodePick | null {
  const online = exitNodeCandidates(netmap, now).filter((p) => p.online);
  if (online.length === 0) return null;
  const rank = (p: Peer): number => latencyMs(p.id) ?? Number.POSITIVE_INFINITY;
  const sorted = [...online].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  const best = sorted[0] as Peer;
  const current = online.find((p) => p.id === currentId);
  const chosen =
    current && rank(current) <= rank(best) + AUTO_EXIT_SWITCH_MARGIN_MS ? current : best;
  const ms = latencyMs(chosen.id);
  return {
    peer: chosen,
    latencyMs: ms,
    reason:
      ms === null
        ? 'online exit node (no latency measured yet)'
        : `lowest latency of ${online.length} online exit node${online.length === 1 ? '' : 's'}`,
  };
}

export function chooseExitNode(input: ExitNodeInput): ExitNodeChoice {
  const { selector, netmap } = input;
  if (selector === null) return { type: 'none' };
  if (selector.type === 'auto') {
    const pick = pickExitNode(netmap, input.latencyMs, input.currentId, input.now);
    return pick
      ? { type: 'using', peer: pick.peer }
      : { type: 'unavailable', reason: 'no exit node is online' };
  }
  const query =
    selector.type === 'id'
      ? selector.id
      : selector.type === 'name'
        ? selector.name
        : selector.address;
  const peer = findPeer({ peers: tunnelPeers(netmap, input.now) }, query);
  if (!peer)
    return { type: 'unavailable', reason: `no device ${JSON.stringify(query)} in the network` };
  if (!peer.exitNodeOffered) {
    return {
      type: 'unavailable',
      reason: `${peer.name} is not an exit node this device may use`,
    };
  }
  return { type: 'using', peer };
}
