import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AdminDevice,
  ControlErrorBody,
  CreatePreauthKeyRequest,
  HostInfo,
  LoginPollResponse,
  MAX_PEERS,
  MapClientMessage,
  Netmap,
  RegisterRequest,
  RegisterResponse,
  UpdateDeviceRequest,
  applyNetmapPatch,
  controlEndpoints,
  controlErrorStatus,
  parseMapServerMessage,
  parseNetmap,
  parseRegisterRequest,
  type MapServerMessage as MapServerMessageT,
} from './control.js';
import { mutated } from './fuzz.js';
import { parseWith } from './parse.js';
import {
  SAMPLE_TIME,
  sampleHostInfo,
  sampleKey,
  sampleNetmap,
  samplePeer,
  sampleRegisterRequest,
  sampleSelf,
} from './samples.js';

const serverMessages: MapServerMessageT[] = [
  { type: 'full', seq: 0, resumeToken: 'gen-1', netmap: sampleNetmap() },
  {
    type: 'delta',
    seq: 1,
    patch: {
      peersAdded: [samplePeer(3)],
      peersRemoved: ['dev-1'],
      peersPatched: [{ id: 'dev-2', online: false }],
    },
  },
  { type: 'keepalive' },
  { type: 'error', code: 'rate_limited', message: 'slow down', retryAfterSeconds: 5 },
  {
    type: 'reauth-required',
    reason: 'key-expired',
    message: 'Your device key expired; sign in again.',
  },
];

const clientMessages = [
  {
    type: 'hello',
    version: 1,
    nodeKey: sampleKey(1),
    discoKey: sampleKey(9),
    resume: { token: 'gen-1', seq: 4 },
  },
  {
    type: 'update',
    endpoints: [
      { addr: '192.168.1.10:41641', type: 'local' },
      { addr: '[2001:db8::1]:41641', type: 'stun' },
    ],
    hostInfo: sampleHostInfo(),
    preferredRelayRegion: 1,
    relayLatencies: { '1': 12.5, '2': 80 },
    netcheck: {
      udp: true,
      ipv4: true,
      ipv6: false,
      globalV4: '203.0.113.5:41641',
      globalV6: null,
      mappingVariesByDest: false,
      preferredRegion: 1,
      regionLatencies: { '1': 12.5 },
      portMapping: null,
      measuredAt: SAMPLE_TIME,
    },
  },
  { type: 'keepalive' },
];

describe('control: valid messages parse', () => {
  it('every map server and client message', () => {
    for (const m of serverMessages)
      expect(parseMapServerMessage(m)).toEqual({ ok: true, value: m });
    for (const m of clientMessages) expect(parseWith(MapClientMessage, m).ok).toBe(true);
  });

  it('login, register and errors', () => {
    const polls = [
      { status: 'pending' },
      {
        status: 'complete',
        sessionToken: 'sess_0123456789abcdef',
        user: { id: 'u1', email: 'alice@example.com', name: 'Alice' },
        network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
        expiresAt: SAMPLE_TIME,
      },
      { status: 'denied', reason: 'example.org accounts are not allowed' },
      { status: 'expired' },
    ];
    for (const p of polls) expect(parseWith(LoginPollResponse, p).ok).toBe(true);
    expect(parseRegisterRequest(sampleRegisterRequest()).ok).toBe(true);
    const resp = {
      deviceId: 'dev-self',
      nodeCredential: 'nc_0123456789abcdef0123456789abcdef',
      addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a:115c:a1e0::1' },
      name: 'alices-macbook',
      fqdn: 'alices-macbook.acme.trellis',
      keyExpiry: null,
      approved: false,
      network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
    };
    expect(parseWith(RegisterResponse, resp)).toEqual({ ok: true, value: resp });
    expect(
      parseWith(ControlErrorBody, { error: { code: 'not_found', message: 'no such device' } }).ok,
    ).toBe(true);
  });

  it('admin shapes', () => {
    const self = sampleSelf();
    const device = {
      ...self,
      osVersion: '14.4.1',
      clientVersion: '0.1.0',
      hostname: 'Alices-MacBook.local',
      os: 'macos',
      online: true,
      lastSeen: SAMPLE_TIME,
      created: SAMPLE_TIME,
      keyExpiryDisabled: false,
      exitNode: { advertised: false, approved: false },
    };
    expect(parseWith(AdminDevice, device).ok).toBe(true);
    expect(parseWith(UpdateDeviceRequest, { name: 'build-box', tags: ['tag:ci'] }).ok).toBe(true);
    const key = parseWith(CreatePreauthKeyRequest, {
      reusable: true,
      ephemeral: true,
      tags: ['tag:ci'],
      expiresAt: SAMPLE_TIME,
    });
    expect(key.ok && key.value.description).toBe('');
  });

  it('every endpoint has a unique method and path under /v1', () => {
    const seen = new Set<string>();
    for (const e of Object.values(controlEndpoints)) {
      const k = `${e.method} ${e.path}`;
      expect(seen.has(k)).toBe(false);
      seen.add(k);
    }
    expect(controlErrorStatus.not_found).toBe(404);
  });
});

describe('control: bad input gives typed errors', () => {
  it('names the failing path', () => {
    const nm = sampleNetmap();
    (nm.peers[1] as { nodeKey: string }).nodeKey = 'not-a-key';
    const r = parseNetmap(nm);
    expect(!r.ok && r.error.code).toBe('invalid');
    expect(!r.ok && r.error.issues[0]?.path).toBe('peers[1].nodeKey');
  });

  it('reports an unknown message type as unknown_type so receivers can skip it', () => {
    const r = parseMapServerMessage({ type: 'peer-pinged', seq: 3 });
    expect(!r.ok && r.error.code).toBe('unknown_type');
    const bad = parseMapServerMessage({ type: 'delta' });
    expect(!bad.ok && bad.error.code).toBe('invalid');
  });

  it.each([
    [
      'IPv4 in the IPv6 slot',
      (n: ReturnType<typeof sampleNetmap>) => (n.self.addresses.ipv6 = '100.64.0.1'),
    ],
    [
      'CIDR with host bits',
      (n: ReturnType<typeof sampleNetmap>) => (n.peers[0]!.allowedIPs = ['100.64.0.2/24']),
    ],
    [
      'relay over https',
      (n: ReturnType<typeof sampleNetmap>) =>
        (n.relayMap.regions[0]!.relays[0]!.url = 'https://r.example/'),
    ],
    [
      'reversed port range',
      (n: ReturnType<typeof sampleNetmap>) =>
        (n.packetFilter[0]!.dsts[0]!.ports = { first: 9, last: 8 }),
    ],
    [
      'AAAA with an IPv4 value',
      (n: ReturnType<typeof sampleNetmap>) =>
        (n.dns.extraRecords = [{ type: 'AAAA', name: 'x.acme.trellis', value: '1.2.3.4' }]),
    ],
    ['duplicate peer ids', (n: ReturnType<typeof sampleNetmap>) => n.peers.push(samplePeer(1))],
    [
      'tagged owner without tags',
      (n: ReturnType<typeof sampleNetmap>) => (n.peers[0]!.owner = { type: 'tagged', tags: [] }),
    ],
    ['uppercase device name', (n: ReturnType<typeof sampleNetmap>) => (n.self.name = 'Laptop')],
  ])('rejects %s', (_name, breakIt) => {
    const nm = sampleNetmap();
    breakIt(nm);
    expect(parseNetmap(nm).ok).toBe(false);
  });
});

describe('control: bounds', () => {
  it('rejects oversize arrays before parsing their elements', () => {
    const nm = sampleNetmap(0);
    const peer = samplePeer(1);
    nm.peers = new Array(MAX_PEERS + 1).fill(peer);
    const r = parseNetmap(nm);
    expect(!r.ok && r.error.issues[0]?.path).toBe('peers');
  });

  it('rejects oversize strings and maps', () => {
    const host = { ...sampleHostInfo(), hostname: 'h'.repeat(256) };
    expect(parseWith(HostInfo, host).ok).toBe(false);
    const procs = {
      ...sampleHostInfo(),
      posture: { runningProcesses: new Array(257).fill('/usr/bin/x'), localNetworks: [] },
    };
    expect(parseWith(HostInfo, procs).ok).toBe(false);
    const latencies = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [String(i + 1), 1]));
    expect(parseWith(MapClientMessage, { type: 'update', relayLatencies: latencies }).ok).toBe(
      false,
    );
    expect(
      parseWith(ControlErrorBody, { error: { code: 'internal', message: 'x'.repeat(3000) } }).ok,
    ).toBe(false);
    const routes = { ...sampleHostInfo(), advertisedRoutes: new Array(1025).fill('10.0.0.0/8') };
    expect(parseWith(RegisterRequest, { ...sampleRegisterRequest(), hostInfo: routes }).ok).toBe(
      false,
    );
  });
});

describe('control: parsers never throw on mutated input', () => {
  it('map server messages', () => {
    fc.assert(
      fc.property(mutated(serverMessages), (m) => {
        const r = parseMapServerMessage(m);
        if (!r.ok) expect(['invalid', 'unknown_type']).toContain(r.error.code);
      }),
      { numRuns: 500 },
    );
  });

  it('map client messages and register requests', () => {
    fc.assert(
      fc.property(mutated([...clientMessages, sampleRegisterRequest()]), (m) => {
        expect(() => parseWith(MapClientMessage, m)).not.toThrow();
        expect(() => parseWith(RegisterRequest, m)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});

describe('applyNetmapPatch', () => {
  it('removes, then adds, then patches, leaving other fields alone', () => {
    const nm = Netmap.parse(sampleNetmap(3));
    const r = applyNetmapPatch(nm, {
      peersRemoved: ['dev-1'],
      peersAdded: [samplePeer(4)],
      peersPatched: [{ id: 'dev-2', online: false, endpoints: [] }],
      relayToken: null,
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.peers.map((p) => p.id)).toEqual(['dev-2', 'dev-3', 'dev-4']);
    const two = r.value.peers[0]!;
    expect(two.online).toBe(false);
    expect(two.endpoints).toEqual([]);
    expect(two.nodeKey).toBe(nm.peers[1]!.nodeKey);
    expect(r.value.relayToken).toBeNull();
    expect(r.value.dns).toBe(nm.dns);
    expect(nm.peers).toHaveLength(3); // input untouched
  });

  it('flags a patch for an unknown peer as out of sync', () => {
    const r = applyNetmapPatch(Netmap.parse(sampleNetmap(1)), {
      peersPatched: [{ id: 'dev-99', online: true }],
    });
    expect(!r.ok && r.error.code).toBe('unknown_peer');
  });

  it('keeps the result a valid netmap for any sequence of valid deltas', () => {
    const delta = fc.record({
      removed: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 3 }),
      added: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 3 }),
      online: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(delta, { maxLength: 6 }), (deltas) => {
        let nm = Netmap.parse(sampleNetmap(4));
        for (const d of deltas) {
          const present = new Set(nm.peers.map((p) => p.id));
          const patched = [...present]
            .slice(0, 1)
            .filter((id) => !d.removed.map((n) => `dev-${n}`).includes(id));
          const r = applyNetmapPatch(nm, {
            peersRemoved: d.removed.map((n) => `dev-${n}`),
            peersAdded: d.added.map(samplePeer),
            peersPatched: patched.map((id) => ({ id, online: d.online })),
          });
          expect(r.ok).toBe(true);
          if (r.ok) nm = r.value;
        }
        expect(Netmap.safeParse(nm).success).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
