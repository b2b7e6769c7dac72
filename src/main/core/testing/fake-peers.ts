/**
 * Generated peers for tests and the UI's fake helper: `n` distinct, valid PeerStatus values with a
 * deterministic mix of online/offline, direct/relayed, latencies, OSes, exit nodes and routes.
 */
import type { OsKind } from '../../../shared/schema/common.js';
import type { PeerStatus } from '../../../shared/schema/localapi.js';
import { SAMPLE_TIME } from '../../../shared/schema/samples.js';

const OSES: readonly OsKind[] = ['linux', 'windows', 'macos', 'ios', 'android', 'freebsd'];
const KINDS = ['laptop', 'server', 'phone', 'db', 'build', 'nas', 'desktop', 'gateway'];

/** Mesh addresses for peer i (0-based): 100.64.0.0/10 and a ULA, distinct for i < 4 million. */
export function peerAddresses(i: number): { ipv4: string; ipv6: string } {
  const n = i + 2; // .0.0 is the network, .0.1 this device
  return {
    ipv4: `100.${64 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`,
    ipv6: `fd7a:115c:a1e0::${n.toString(16)}`,
  };
}

export function fakePeer(i: number): PeerStatus {
  const kind = KINDS[i % KINDS.length] ?? 'host';
  const name = `${kind}-${i + 1}`;
  const online = i % 7 !== 3;
  const relayed = i % 3 === 1;
  const exitNode = i % 250 === 10;
  return {
    id: `dev-${i + 1}`,
    name,
    fqdn: `${name}.acme.trellis`,
    addresses: peerAddresses(i),
    os: OSES[i % OSES.length] ?? 'linux',
    owner:
      i % 4 === 0
        ? { type: 'tagged', tags: ['tag:server'] }
        : {
            type: 'user',
            user: {
              id: `u${i % 13}`,
              displayName: `User ${i % 13}`,
              email: `user${i % 13}@example.com`,
            },
          },
    online,
    lastSeen: SAMPLE_TIME,
    path: !online
      ? { type: 'none' }
      : relayed
        ? { type: 'relay', region: 1 + (i % 2) }
        : { type: 'direct', endpoint: `198.51.100.${(i % 250) + 1}:41641` },
    homeRelayRegion: 1 + (i % 2),
    latencyMs: online ? 5 + ((i * 37) % 180) : null,
    lastHandshake: online ? SAMPLE_TIME : null,
    rxBytes: i * 1024,
    txBytes: i * 2048,
    exitNode: false,
    exitNodeOption: exitNode,
    routes: i % 500 === 20 ? [`10.${(i / 500) | 0}.0.0/16`] : [],
  };
}

export const fakePeers = (n: number): PeerStatus[] =>
  Array.from({ length: n }, (_, i) => fakePeer(i));
