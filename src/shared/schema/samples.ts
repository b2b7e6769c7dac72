/**
 * Valid sample messages for tests anywhere in the project (schema tests, control-plane and
 * helper tests, UI tests). Each builder returns a fresh object that callers may modify.
 */
import type { HostInfo, Netmap, Peer, RegisterRequest, SelfNode } from './control.js';
import type { AppState } from './ipc.js';
import type { PeerStatus, Prefs, Status } from './localapi.js';

/** A syntactically valid WireGuard key whose 32 bytes all equal `n` (0–255). */
export function sampleKey(n: number): string {
  return btoa(String.fromCharCode(...new Array<number>(32).fill(n & 0xff)));
}

export const SAMPLE_TIME = '2025-01-15T12:00:00.000Z';

export function sampleHostInfo(): HostInfo {
  return {
    hostname: 'Alices-MacBook.local',
    os: 'macos',
    osVersion: '14.4.1',
    clientVersion: '0.1.0',
    arch: 'arm64',
    posture: { runningProcesses: [], localNetworks: ['192.168.1.0/24'] },
    advertisedRoutes: [],
    advertiseExitNode: false,
  };
}

export function sampleRegisterRequest(): RegisterRequest {
  return {
    nodeKey: sampleKey(1),
    hostInfo: sampleHostInfo(),
    auth: { type: 'session', token: 'sess_0123456789abcdef' },
  };
}

export function sampleSelf(): SelfNode {
  return {
    id: 'dev-self',
    name: 'alices-macbook',
    fqdn: 'alices-macbook.acme.trellis',
    nodeKey: sampleKey(1),
    addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a:115c:a1e0::1' },
    keyExpiry: '2025-07-14T12:00:00.000Z',
    approved: true,
    owner: { type: 'user', user: { id: 'u1', displayName: 'Alice', email: 'alice@example.com' } },
    posture: [{ check: 'min-version', kind: 'min-client-version', passed: true, reason: null }],
    routes: { advertised: [], approved: [] },
    isExitNode: false,
    ephemeral: false,
  };
}

/** Peer number `n` (1–250): distinct id, name, keys and addresses. */
export function samplePeer(n: number): Peer {
  return {
    id: `dev-${n}`,
    name: `peer-${n}`,
    fqdn: `peer-${n}.acme.trellis`,
    nodeKey: sampleKey(n + 1),
    discoKey: sampleKey(n + 101),
    addresses: { ipv4: `100.64.0.${n + 1}`, ipv6: `fd7a:115c:a1e0::${(n + 1).toString(16)}` },
    allowedIPs: [`100.64.0.${n + 1}/32`, `fd7a:115c:a1e0::${(n + 1).toString(16)}/128`],
    endpoints: [
      { addr: `192.168.1.${n}:41641`, type: 'local' },
      { addr: `203.0.113.${n}:41641`, type: 'stun' },
    ],
    homeRelayRegion: 1,
    online: true,
    lastSeen: SAMPLE_TIME,
    os: 'linux',
    owner: { type: 'tagged', tags: ['tag:server'] },
    exitNodeOffered: false,
    routesOffered: [],
    keyExpiry: null,
    created: SAMPLE_TIME,
  };
}

export function sampleNetmap(peerCount = 2): Netmap {
  return {
    network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
    self: sampleSelf(),
    peers: Array.from({ length: peerCount }, (_, i) => samplePeer(i + 1)),
    packetFilter: [
      {
        srcs: ['100.64.0.2/32'],
        dsts: [{ cidr: '100.64.0.1/32', ports: { first: 22, last: 22 } }],
        protos: ['tcp'],
      },
    ],
    dns: {
      magicDns: true,
      domain: 'acme.trellis',
      nameservers: ['1.1.1.1'],
      splitDns: { 'corp.example.com': ['10.0.0.53'] },
      searchDomains: ['acme.trellis'],
      extraRecords: [{ type: 'A', name: 'git.acme.trellis', value: '100.64.0.2' }],
    },
    relayMap: {
      regions: [
        {
          id: 1,
          code: 'lab',
          name: 'Lab',
          relays: [{ url: 'ws://127.0.0.1:8443/relay', stunHost: '127.0.0.1', stunPort: 3478 }],
        },
      ],
    },
    relayToken: { token: 'eyJhbGciOiJFZERTQSJ9.e30.c2ln', expiresAt: SAMPLE_TIME },
    postureQueries: { processPaths: [] },
    collectedAt: SAMPLE_TIME,
  };
}

export function samplePrefs(): Prefs {
  return {
    controlUrl: 'https://control.example.com',
    wantRunning: true,
    exitNode: null,
    exitNodeAllowLAN: false,
    acceptRoutes: true,
    advertiseRoutes: [],
    advertiseExitNode: false,
    acceptDNS: true,
    hostname: null,
    blockIncoming: false,
  };
}

export function samplePeerStatus(n: number): PeerStatus {
  const p = samplePeer(n);
  return {
    id: p.id,
    name: p.name,
    fqdn: p.fqdn,
    addresses: p.addresses,
    os: p.os,
    owner: p.owner,
    online: true,
    lastSeen: SAMPLE_TIME,
    path:
      n % 2 === 0
        ? { type: 'relay', region: 1 }
        : { type: 'direct', endpoint: `203.0.113.${n}:41641` },
    homeRelayRegion: 1,
    latencyMs: 12.5,
    lastHandshake: SAMPLE_TIME,
    rxBytes: 1024 * n,
    txBytes: 2048 * n,
    exitNode: false,
    exitNodeOption: n === 2,
    routes: n === 2 ? ['10.20.0.0/16'] : [],
  };
}

export function sampleStatus(peerCount = 2): Status {
  const self = sampleSelf();
  return {
    daemonVersion: '0.1.0',
    backend: { state: 'running' },
    controlUrl: 'https://control.example.com',
    controlConnected: true,
    network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
    user: { id: 'u1', email: 'alice@example.com', name: 'Alice' },
    self: {
      id: self.id,
      name: self.name,
      fqdn: self.fqdn,
      addresses: self.addresses,
      nodeKey: self.nodeKey,
      os: 'macos',
      owner: self.owner,
      keyExpiry: self.keyExpiry,
      routes: self.routes,
      isExitNode: false,
    },
    peers: Array.from({ length: peerCount }, (_, i) => samplePeerStatus(i + 1)),
    exitNode: null,
    health: [],
    posture: self.posture,
    updatedAt: SAMPLE_TIME,
  };
}

export function sampleAppState(): AppState {
  const status = sampleStatus(2);
  return {
    connection: { state: 'connected', exitNode: null },
    account: {
      user: { id: 'u1', email: 'alice@example.com', name: 'Alice' },
      network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
      controlUrl: 'https://control.example.com',
    },
    self: status.self,
    peers: status.peers,
    exitNodes: [
      {
        id: 'dev-2',
        name: 'peer-2',
        fqdn: 'peer-2.acme.trellis',
        os: 'linux',
        online: true,
        latencyMs: 12.5,
        recommended: true,
        active: false,
      },
    ],
    routes: {
      acceptRoutes: true,
      offered: [{ cidr: '10.20.0.0/16', viaId: 'dev-2', viaName: 'peer-2', primary: true }],
      advertised: [],
      approved: [],
      advertiseExitNode: false,
      exitNodeApproved: false,
    },
    posture: status.posture,
    health: [],
    prefs: samplePrefs(),
    updatedAt: SAMPLE_TIME,
  };
}
