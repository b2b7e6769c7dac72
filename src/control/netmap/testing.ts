/** Test fixtures for the netmap hub: devices, a collecting sink and a client-side netmap model. */
import { generateKeyPair, keyToBase64 } from '../../shared/keys.js';
import { MapServerMessage } from '../../shared/schema/control/map-stream.js';
import { applyNetmapPatch } from '../../shared/schema/control/netmap-patch.js';
import type { Netmap } from '../../shared/schema/control/netmap.js';
import type { CloseReason, MapSink } from './hub.js';
import type { MeshDevice } from './device.js';

export const NETWORK_ID = 'net1';
export const dnsFixture = {
  magicDns: true,
  domain: 'example.trellis',
  nameservers: [],
  splitDns: {},
  searchDomains: [],
  extraRecords: [],
};
export const networkFixture = {
  summary: { id: NETWORK_ID, name: 'Example', domain: 'example.trellis' },
  dns: dnsFixture,
};

export function deviceFixture(n: number, over: Partial<MeshDevice> = {}): MeshDevice {
  return {
    id: `dev${n}`,
    networkId: NETWORK_ID,
    name: `host${n}`,
    fqdn: `host${n}.example.trellis`,
    nodeKey: keyToBase64(generateKeyPair().publicKey),
    discoKey: null,
    addresses: {
      ipv4: `100.64.${Math.floor(n / 250)}.${(n % 250) + 1}`,
      ipv6: `fd7a:115c:a1e0::${(n + 1).toString(16)}`,
    },
    owner: { type: 'user', user: { id: 'u1', displayName: 'Ada', email: 'ada@example.com' } },
    ownerRole: 'owner',
    ownerGroups: [],
    os: 'linux',
    hostInfo: null,
    keyExpiry: null,
    approved: true,
    ephemeral: false,
    created: '2026-01-01T00:00:00.000Z',
    endpoints: [],
    homeRelayRegion: null,
    online: false,
    lastSeen: null,
    routes: { advertised: [], approved: [] },
    isExitNode: false,
    posture: [],
    ...over,
  };
}

export const discoKeyFixture = (): string => keyToBase64(generateKeyPair().publicKey);

/** A sink that parses every message with the wire schema and keeps the client-side netmap. */
export class CollectingSink implements MapSink {
  readonly messages: MapServerMessage[] = [];
  netmap: Netmap | null = null;
  lastSeq = 0;
  resumeToken = '';
  closed: CloseReason | null = null;
  final: MapServerMessage | null = null;

  sendText(json: string): void {
    const msg = MapServerMessage.parse(JSON.parse(json));
    this.messages.push(msg);
    if (msg.type === 'full') {
      if (this.lastSeq !== 0 && msg.seq !== this.lastSeq + 1)
        throw new Error(`seq gap ${this.lastSeq} -> ${msg.seq}`);
      this.netmap = msg.netmap;
      this.lastSeq = msg.seq;
      this.resumeToken = msg.resumeToken;
    } else if (msg.type === 'delta') {
      if (msg.seq !== this.lastSeq + 1) throw new Error(`seq gap ${this.lastSeq} -> ${msg.seq}`);
      if (!this.netmap) throw new Error('delta before full');
      const r = applyNetmapPatch(this.netmap, msg.patch);
      if (!r.ok) throw new Error(r.error.message);
      this.netmap = r.value;
      this.lastSeq = msg.seq;
    }
  }

  close(reason: CloseReason, final?: string): void {
    this.closed = reason;
    if (final) this.final = MapServerMessage.parse(JSON.parse(final));
  }

  deltas() {
    return this.messages.filter((m) => m.type === 'delta');
  }
}
