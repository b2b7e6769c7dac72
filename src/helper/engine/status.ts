/** The LocalAPI Status: what the daemon knows (netmap, WireGuard counters, health) in one view. */
import { ipPortToString, parseIpPort } from '../../shared/ip.js';
import type { NetworkSummary, UserSummary } from '../../shared/schema/control/auth.js';
import type { Netmap, Peer } from '../../shared/schema/control/netmap.js';
import type {
  BackendState,
  ExitNodeInUse,
  HealthWarning,
  PeerPath,
  PeerStatus,
  SelfStatus,
  Status,
} from '../../shared/schema/localapi.js';
import type { OsKind } from '../../shared/schema/common.js';
import { MAX_HEALTH_WARNINGS } from '../../shared/schema/localapi.js';
import type { WgDeviceStats, WgPeerStats } from '../wg/types.js';

/**
 * WireGuard's REJECT_AFTER_TIME: a session older than 180 s carries no data, so a handshake
 * within that window is what "traffic flows on this path right now" means.
 */
export const ACTIVE_SESSION_SECONDS = 180;

export interface StatusInput {
  readonly daemonVersion: string;
  readonly backend: BackendState;
  readonly controlUrl: string | null;
  readonly controlConnected: boolean;
  readonly netmap: Netmap | null;
  /** What registration recorded, for when no netmap arrived yet. */
  readonly registration: { network: NetworkSummary; user: UserSummary | null } | null;
  readonly wgStats: WgDeviceStats | null;
  readonly health: readonly HealthWarning[];
  readonly hostOs: OsKind;
  readonly now: Date;
  /**
   * Each peer's path as magicsock measures it (direct endpoint or relay region, disco latency).
   * Without it, the path is WireGuard's endpoint while its session is live.
   */
  readonly paths?: (nodeKey: string) => PeerPathStatus | null;
  /** The exit node in use (engine/exit-node.ts), with the LAN-access pref. */
  readonly exitNode?: { readonly id: string; readonly allowLAN: boolean } | null;
}

/** A peer's current path and the latest disco round trip on it. */
export interface PeerPathStatus {
  readonly path: PeerPath;
  readonly latencyMs: number | null;
}

export function buildStatus(input: StatusInput): Status {
  const { netmap } = input;
  const stats = new Map<string, WgPeerStats>(
    (input.wgStats?.peers ?? []).map((p) => [p.publicKey, p]),
  );
  return {
    daemonVersion: input.daemonVersion,
    backend: input.backend,
    controlUrl: input.controlUrl,
    controlConnected: input.controlConnected,
    network: netmap?.network ?? input.registration?.network ?? null,
    user: userOf(netmap) ?? input.registration?.user ?? null,
    self: netmap ? selfStatus(netmap, input.hostOs) : null,
    peers: netmap
      ? netmap.peers.map((p) =>
          peerStatus(
            p,
            stats.get(p.nodeKey),
            input.paths?.(p.nodeKey) ?? {
              path: peerPath(stats.get(p.nodeKey), input.now),
              latencyMs: null,
            },
            p.id === input.exitNode?.id,
          ),
        )
      : [],
    exitNode: exitNodeInUse(netmap, input.exitNode ?? null),
    health: input.health.slice(0, MAX_HEALTH_WARNINGS),
    posture: netmap?.self.posture ?? [],
    updatedAt: input.now.toISOString(),
  };
}

function exitNodeInUse(
  netmap: Netmap | null,
  use: { readonly id: string; readonly allowLAN: boolean } | null,
): ExitNodeInUse | null {
  const peer = use ? netmap?.peers.find((p) => p.id === use.id) : undefined;
  if (!use || !peer) return null;
  return { id: peer.id, name: peer.name, online: peer.online, allowLAN: use.allowLAN };
}

function userOf(netmap: Netmap | null): UserSummary | null {
  const owner = netmap?.self.owner;
  if (owner?.type !== 'user') return null;
  return { id: owner.user.id, email: owner.user.email, name: owner.user.displayName };
}

function selfStatus(netmap: Netmap, os: OsKind): SelfStatus {
  const s = netmap.self;
  return {
    id: s.id,
    name: s.name,
    fqdn: s.fqdn,
    addresses: s.addresses,
    nodeKey: s.nodeKey,
    os,
    owner: s.owner,
    keyExpiry: s.keyExpiry,
    routes: s.routes,
    isExitNode: s.isExitNode,
  };
}

export function peerPath(stats: WgPeerStats | undefined, now: Date): PeerPath {
  if (!stats?.endpoint || !stats.lastHandshake) return { type: 'none' };
  const age = (now.getTime() - stats.lastHandshake.getTime()) / 1000;
  if (age > ACTIVE_SESSION_SECONDS) return { type: 'none' };
  const ep = parseIpPort(stats.endpoint);
  return ep.ok
    ? { type: 'direct', endpoint: ipPortToString(ep.value.ip, ep.value.port) }
    : { type: 'none' };
}

function peerStatus(
  p: Peer,
  stats: WgPeerStats | undefined,
  path: PeerPathStatus,
  exitNode: boolean,
): PeerStatus {
  return {
    id: p.id,
    name: p.name,
    fqdn: p.fqdn,
    addresses: p.addresses,
    os: p.os,
    owner: p.owner,
    online: p.online,
    lastSeen: p.lastSeen,
    path: path.path,
    homeRelayRegion: p.homeRelayRegion,
    latencyMs: path.latencyMs === null ? null : Math.min(path.latencyMs, 3_600_000),
    lastHandshake: stats?.lastHandshake?.toISOString() ?? null,
    rxBytes: stats?.rxBytes ?? 0,
    txBytes: stats?.txBytes ?? 0,
    exitNode,
    exitNodeOption: p.exitNodeOffered,
    routes: p.routesOffered,
  };
}
