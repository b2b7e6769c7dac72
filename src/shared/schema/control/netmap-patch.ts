/** Applying a map-stream delta to a netmap, with the semantics NetmapPatch documents. */
import { decodeError, ok, type DecodeError, type Result } from '../../result.js';
import type { Netmap, NetmapPatch, Peer } from './netmap.js';

/** A delta that does not fit the netmap means the stream is out of sync; reconnect without resume. */
export type PatchError = DecodeError<'unknown_peer'>;

/** Returns a new netmap; the input is not modified. Cost is linear in the peer count. */
export function applyNetmapPatch(netmap: Netmap, patch: NetmapPatch): Result<Netmap, PatchError> {
  let peers = netmap.peers;
  if (patch.peersRemoved || patch.peersAdded || patch.peersPatched) {
    const byId = new Map<string, Peer>(netmap.peers.map((p) => [p.id, p]));
    for (const id of patch.peersRemoved ?? []) byId.delete(id);
    for (const p of patch.peersAdded ?? []) byId.set(p.id, p);
    for (const change of patch.peersPatched ?? []) {
      const old = byId.get(change.id);
      if (!old) return decodeError('unknown_peer', `delta patches unknown peer ${change.id}`);
      byId.set(change.id, { ...old, ...definedOnly(change) });
    }
    peers = [...byId.values()];
  }
  return ok({
    ...netmap,
    peers,
    self: patch.self ?? netmap.self,
    network: patch.network ?? netmap.network,
    dns: patch.dns ?? netmap.dns,
    packetFilter: patch.packetFilter ?? netmap.packetFilter,
    relayMap: patch.relayMap ?? netmap.relayMap,
    relayToken: patch.relayToken === undefined ? netmap.relayToken : patch.relayToken,
    postureQueries: patch.postureQueries ?? netmap.postureQueries,
  });
}

/** Drops keys whose value is undefined, so `{...old, ...change}` keeps fields the patch omits. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
