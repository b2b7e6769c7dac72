/**
 * wireguard-nt needs Windows, so the backend is tested here against a simulated driver: an
 * in-memory WireGuardNtApi that reads the configuration buffer with the same rules as the
 * driver's SetInterface/SetPeer (driver/ioctl.c) and answers GetConfiguration from its state.
 * The byte layout itself is checked against a C compiler and koffi in e2e/packaging.test.ts,
 * and the koffi bindings against a native stand-in library there too.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, keyToBase64, publicKeyFromPrivate } from '../../shared/keys.js';
import type { Exec } from '../exec.js';
import type { WgConfigDiff } from './diff.js';
import type { WgInterfaceConfig } from './types.js';
import {
  AF_INET6,
  decodeNtConfig,
  encodeNtConfig,
  NT_LAYOUT,
  NtInterfaceFlag,
  NtPeerFlag,
  ZERO_KEY,
  type NtAllowedIp,
  type NtEndpoint,
  type NtInterface,
} from './wireguard-nt-abi.js';
import {
  loadWireGuardNt,
  WireGuardNtError,
  type NtAdapterHandle,
  type WireGuardNtApi,
} from './wireguard-nt-ffi.js';
import { chooseBackend, wireguardNtDllPath } from './choose.js';
import { ntConfigForDiff, statsFromNt, WireGuardNtBackend } from './wireguard-nt.js';

const privKey = generateKeyPair().privateKey;
const priv = keyToBase64(privKey);
const [peerA, peerB, peerC] = Array.from({ length: 3 }, () =>
  keyToBase64(generateKeyPair().publicKey),
) as [string, string, string];

interface SimPeer {
  endpoint: NtEndpoint | null;
  keepalive: number;
  allowedIps: NtAllowedIp[];
}

/** The driver's configuration semantics over decoded buffers (Windows cannot run here). */
function simulatedDriver() {
  const state = {
    privateKey: ZERO_KEY,
    listenPort: 0,
    peers: new Map<string, SimPeer>(),
    up: false,
    closed: false,
    buffers: [] as Buffer[],
  };
  const handle = { adapter: 1 } as unknown as NtAdapterHandle;
  const api: WireGuardNtApi = {
    createAdapter: () => handle,
    openAdapter: () => handle,
    closeAdapter: () => void (state.closed = true),
    setAdapterState: (_h, up) => void (state.up = up),
    setLogger: () => undefined,
    setConfiguration(_h, buf) {
      state.buffers.push(Buffer.from(buf));
      const parsed = decodeNtConfig(buf);
      if (!parsed.ok) throw new WireGuardNtError('call_failed', parsed.error.message, 87);
      const c = parsed.value;
      if (c.flags & NtInterfaceFlag.HAS_LISTEN_PORT) state.listenPort = c.listenPort;
      if (c.flags & NtInterfaceFlag.REPLACE_PEERS) state.peers.clear();
      if (c.flags & NtInterfaceFlag.HAS_PRIVATE_KEY) state.privateKey = c.privateKey;
      for (const p of c.peers) {
        if (!(p.flags & NtPeerFlag.HAS_PUBLIC_KEY))
          throw new WireGuardNtError('call_failed', 'no key', 87);
        const key = keyToBase64(p.publicKey);
        let peer = state.peers.get(key);
        if (!peer) {
          if (p.flags & (NtPeerFlag.REMOVE | NtPeerFlag.UPDATE_ONLY)) continue;
          peer = { endpoint: null, keepalive: 0, allowedIps: [] };
          state.peers.set(key, peer);
        }
        if (p.flags & NtPeerFlag.REMOVE) {
          state.peers.delete(key);
          continue;
        }
        if (p.flags & NtPeerFlag.HAS_ENDPOINT && p.endpoint) peer.endpoint = p.endpoint;
        if (p.flags & NtPeerFlag.REPLACE_ALLOWED_IPS) peer.allowedIps = [];
        peer.allowedIps.push(...p.allowedIps);
        if (p.flags & NtPeerFlag.HAS_PERSISTENT_KEEPALIVE) peer.keepalive = p.persistentKeepalive;
      }
    },
    getConfiguration() {
      return encodeNtConfig({
        flags: NtInterfaceFlag.HAS_PRIVATE_KEY | NtInterfaceFlag.HAS_LISTEN_PORT,
        listenPort: state.listenPort,
        privateKey: state.privateKey,
        publicKey: ZERO_KEY,
        peers: [...state.peers].map(([key, p]) => ({
          flags: NtPeerFlag.HAS_PUBLIC_KEY | NtPeerFlag.HAS_ENDPOINT,
          publicKey: new Uint8Array(Buffer.from(key, 'base64')),
          presharedKey: ZERO_KEY,
          persistentKeepalive: p.keepalive,
          endpoint: p.endpoint,
          txBytes: 1000n,
          rxBytes: 2000n,
          lastHandshake: 133_000_000_000_000_000n,
          allowedIps: p.allowedIps,
        })),
      });
    },
  };
  return { api, state };
}

const netshCalls: string[][] = [];
const recordExec: Exec = async (command, args) => {
  netshCalls.push([command, ...args]);
  return { stdout: '', stderr: '' };
};

const config = (peers: WgInterfaceConfig['peers']): WgInterfaceConfig => ({
  privateKey: priv,
  listenPort: 41641,
  fwmark: 0,
  peers,
});

describe('ntConfigForDiff (pure)', () => {
  it('maps a first apply to REPLACE_PEERS, the key pair and added peers with their allowed IPs', () => {
    const diff: WgConfigDiff = {
      replacePeers: true,
      privateKey: priv,
      listenPort: 41641,
      fwmark: 0,
      peers: [
        {
          kind: 'add',
          publicKey: peerA,
          endpoint: '[2001:db8::1]:51820',
          allowedIps: ['100.64.0.2/32', 'fd7a::2/128'],
          persistentKeepalive: 25,
        },
      ],
    };
    const nt = ntConfigForDiff(diff);
    expect(nt.flags).toBe(
      NtInterfaceFlag.HAS_PRIVATE_KEY |
        NtInterfaceFlag.HAS_LISTEN_PORT |
        NtInterfaceFlag.REPLACE_PEERS,
    );
    expect(Buffer.from(nt.publicKey)).toEqual(Buffer.from(publicKeyFromPrivate(privKey)));
    const p = nt.peers[0];
    expect(p?.flags).toBe(
      NtPeerFlag.HAS_PUBLIC_KEY |
        NtPeerFlag.REPLACE_ALLOWED_IPS |
        NtPeerFlag.HAS_ENDPOINT |
        NtPeerFlag.HAS_PERSISTENT_KEEPALIVE,
    );
    expect(p?.endpoint).toMatchObject({ family: 'ipv6', port: 51820 });
    expect(
      p?.allowedIps.map((a) => [a.family, a.cidr, Buffer.from(a.address).toString('hex')]),
    ).toEqual([
      ['ipv4', 32, '64400002'],
      ['ipv6', 128, 'fd7a0000000000000000000000000002'],
    ]);
    // The buffer is exactly the structs back to back.
    const buf = encodeNtConfig(nt);
    expect(buf.length).toBe(
      NT_LAYOUT.WIREGUARD_INTERFACE.size +
        NT_LAYOUT.WIREGUARD_PEER.size +
        2 * NT_LAYOUT.WIREGUARD_ALLOWED_IP.size,
    );
    expect(
      buf.readUInt16LE(
        NT_LAYOUT.WIREGUARD_INTERFACE.size + NT_LAYOUT.WIREGUARD_PEER.fields.Endpoint,
      ),
    ).toBe(AF_INET6);
  });

  it('updates only what changed: UPDATE_ONLY, no endpoint flag without an endpoint, REMOVE', () => {
    const nt = ntConfigForDiff({
      replacePeers: false,
      peers: [
        { kind: 'remove', publicKey: peerB },
        { kind: 'update', publicKey: peerA, allowedIps: [] },
      ],
    });
    expect(nt.flags).toBe(0);
    expect(nt.peers.map((p) => p.flags)).toEqual([
      NtPeerFlag.HAS_PUBLIC_KEY | NtPeerFlag.REMOVE,
      NtPeerFlag.HAS_PUBLIC_KEY | NtPeerFlag.UPDATE_ONLY | NtPeerFlag.REPLACE_ALLOWED_IPS,
    ]);
    expect(nt.peers[1]?.allowedIps).toEqual([]);
  });

  it('refuses a fwmark, which Windows does not have', () => {
    expect(() => ntConfigForDiff({ replacePeers: false, fwmark: 7, peers: [] })).toThrow(/fwmark/);
  });
});

describe('decodeNtConfig on untrusted bytes', () => {
  it('never throws and rejects what does not fit (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const r = decodeNtConfig(Buffer.from(bytes));
        if (r.ok) expect(encodeNtConfig(r.value).length).toBe(bytes.length);
      }),
    );
  });

  it('reports a peer count larger than the buffer without allocating for it', () => {
    const buf = encodeNtConfig({
      flags: 0,
      listenPort: 0,
      privateKey: ZERO_KEY,
      publicKey: ZERO_KEY,
      peers: [],
    });
    buf.writeUInt32LE(0xffff_ffff, NT_LAYOUT.WIREGUARD_INTERFACE.fields.PeersCount);
    const r = decodeNtConfig(buf);
    expect(r.ok ? null : r.error.code).toBe('too_many');
    buf.writeUInt32LE(3, NT_LAYOUT.WIREGUARD_INTERFACE.fields.PeersCount);
    const t = decodeNtConfig(buf);
    expect(t.ok ? null : t.error.code).toBe('truncated');
  });

  it('round-trips every field (fast-check)', () => {
    const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
    const allowed = fc.oneof(
      fc.record({
        family: fc.constant('ipv4' as const),
        address: fc.uint8Array({ minLength: 4, maxLength: 4 }),
        cidr: fc.integer({ min: 0, max: 32 }),
      }),
      fc.record({
        family: fc.constant('ipv6' as const),
        address: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        cidr: fc.integer({ min: 0, max: 128 }),
      }),
    );
    const endpoint = fc.option(
      fc.oneof(
        fc.record({
          family: fc.constant('ipv4' as const),
          address: fc.uint8Array({ minLength: 4, maxLength: 4 }),
          port: fc.integer({ min: 0, max: 65535 }),
        }),
        fc.record({
          family: fc.constant('ipv6' as const),
          address: fc.uint8Array({ minLength: 16, maxLength: 16 }),
          port: fc.integer({ min: 0, max: 65535 }),
          flowInfo: fc.nat(),
          scopeId: fc.nat(),
        }),
      ),
    );
    const peer = fc.record({
      flags: fc.nat(255),
      publicKey: key,
      presharedKey: key,
      persistentKeepalive: fc.integer({ min: 0, max: 65535 }),
      endpoint,
      txBytes: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      rxBytes: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      lastHandshake: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      allowedIps: fc.array(allowed, { maxLength: 4 }),
    });
    const iface = fc.record({
      flags: fc.nat(15),
      listenPort: fc.integer({ min: 0, max: 65535 }),
      privateKey: key,
      publicKey: key,
      peers: fc.array(peer, { maxLength: 4 }),
    });
    fc.assert(
      fc.property(iface, (c: NtInterface) => {
        const r = decodeNtConfig(encodeNtConfig(c));
        expect(r.ok).toBe(true);
        if (r.ok) expect(encodeNtConfig(r.value)).toEqual(encodeNtConfig(c));
      }),
    );
  });
});

describe('WireGuardNtBackend against a simulated driver (Windows cannot run here)', () => {
  it('creates the adapter, sets the MTU with netsh, applies diffs and reports stats', async () => {
    const sim = simulatedDriver();
    netshCalls.length = 0;
    const backend = new WireGuardNtBackend({ loadApi: async () => sim.api, exec: recordExec });
    const dev = await backend.create('trellis0', { mtu: 1280 });
    expect(netshCalls).toEqual([
      ['netsh', 'interface', 'ipv4', 'set', 'subinterface', 'trellis0', 'mtu=1280', 'store=active'],
      ['netsh', 'interface', 'ipv6', 'set', 'subinterface', 'trellis0', 'mtu=1280', 'store=active'],
    ]);

    await dev.apply(
      config([
        {
          publicKey: peerA,
          endpoint: '192.0.2.1:51820',
          allowedIps: ['100.64.0.2/32'],
          persistentKeepalive: 25,
        },
        {
          publicKey: peerB,
          endpoint: null,
          allowedIps: ['100.64.0.3/32', '10.1.0.0/16'],
          persistentKeepalive: 0,
        },
      ]),
    );
    expect(sim.state.up).toBe(true);
    expect(sim.state.listenPort).toBe(41641);
    let stats = await dev.stats();
    expect(stats.listenPort).toBe(41641);
    expect(stats.peers.map((p) => [p.publicKey, p.endpoint]).sort()).toEqual(
      [
        [peerA, '192.0.2.1:51820'],
        [peerB, null],
      ].sort(),
    );
    expect(stats.peers[0]?.lastHandshake?.toISOString()).toBe('2022-06-18T04:26:40.000Z');
    expect(stats.peers[0]?.rxBytes).toBe(2000);

    // Second apply: B removed, C added, A's allowed IPs changed; only those are in the buffer.
    await dev.apply(
      config([
        {
          publicKey: peerA,
          endpoint: '192.0.2.1:51820',
          allowedIps: ['100.64.0.2/32', '10.9.0.0/24'],
          persistentKeepalive: 25,
        },
        {
          publicKey: peerC,
          endpoint: '[2001:db8::5]:41641',
          allowedIps: ['100.64.0.4/32'],
          persistentKeepalive: 0,
        },
      ]),
    );
    const last = decodeNtConfig(sim.state.buffers.at(-1) ?? Buffer.alloc(0));
    expect(last.ok && last.value.flags).toBe(0);
    expect(last.ok && last.value.peers.map((p) => [keyToBase64(p.publicKey), p.flags])).toEqual([
      [peerB, NtPeerFlag.HAS_PUBLIC_KEY | NtPeerFlag.REMOVE],
      [peerC, NtPeerFlag.HAS_PUBLIC_KEY | NtPeerFlag.REPLACE_ALLOWED_IPS | NtPeerFlag.HAS_ENDPOINT],
      [peerA, NtPeerFlag.HAS_PUBLIC_KEY | NtPeerFlag.UPDATE_ONLY | NtPeerFlag.REPLACE_ALLOWED_IPS],
    ]);
    stats = await dev.stats();
    expect(stats.peers.map((p) => p.publicKey).sort()).toEqual([peerA, peerC].sort());
    expect(sim.state.peers.get(peerA)?.allowedIps.map((a) => a.cidr)).toEqual([24, 32]);

    // Unchanged config: nothing is sent.
    const sent = sim.state.buffers.length;
    await dev.apply(
      config([
        {
          publicKey: peerC,
          endpoint: '[2001:db8::5]:41641',
          allowedIps: ['100.64.0.4/32'],
          persistentKeepalive: 0,
        },
        {
          publicKey: peerA,
          endpoint: '192.0.2.1:51820',
          allowedIps: ['10.9.0.0/24', '100.64.0.2/32'],
          persistentKeepalive: 25,
        },
      ]),
    );
    expect(sim.state.buffers.length).toBe(sent);

    await dev.close();
    expect(sim.state.closed).toBe(true);
    expect(sim.state.up).toBe(false);
    await expect(dev.apply(config([]))).rejects.toMatchObject({ code: 'closed' });
    await dev.close(); // idempotent
  });

  it('turns a failed driver call into a typed WgError, and the next apply is a full one', async () => {
    const sim = simulatedDriver();
    let fail = false;
    const set = sim.api.setConfiguration.bind(sim.api);
    sim.api.setConfiguration = (h, b) => {
      if (fail)
        throw new WireGuardNtError(
          'call_failed',
          'WireGuardSetConfiguration failed (Windows error 31)',
          31,
        );
      set(h, b);
    };
    const dev = await new WireGuardNtBackend({
      loadApi: async () => sim.api,
      exec: recordExec,
    }).create('trellis1', { mtu: 1420 });
    await dev.apply(
      config([{ publicKey: peerA, endpoint: null, allowedIps: [], persistentKeepalive: 0 }]),
    );
    fail = true;
    await expect(
      dev.apply(
        config([{ publicKey: peerB, endpoint: null, allowedIps: [], persistentKeepalive: 0 }]),
      ),
    ).rejects.toMatchObject({ name: 'WgError', code: 'uapi_error' });
    fail = false;
    await dev.apply(
      config([{ publicKey: peerB, endpoint: null, allowedIps: [], persistentKeepalive: 0 }]),
    );
    const last = decodeNtConfig(sim.state.buffers.at(-1) ?? Buffer.alloc(0));
    expect(last.ok && last.value.flags & NtInterfaceFlag.REPLACE_PEERS).toBeTruthy();
    expect([...sim.state.peers.keys()]).toEqual([peerB]);
  });

  it('fails create with a typed error when the DLL cannot be loaded, and retries the load later', async () => {
    let loads = 0;
    const sim = simulatedDriver();
    const backend = new WireGuardNtBackend({
      loadApi: async () => {
        loads++;
        if (loads === 1) throw new WireGuardNtError('load_failed', 'could not load wireguard.dll');
        return sim.api;
      },
      exec: recordExec,
    });
    await expect(backend.create('trellis2', { mtu: 1280 })).rejects.toMatchObject({
      name: 'WgError',
      code: 'create_failed',
    });
    await expect(backend.create('trellis2', { mtu: 1280 })).resolves.toBeDefined();
    expect(loads).toBe(2);
  });
});

describe('loadWireGuardNt', () => {
  it('refuses anything but Windows with a typed error', async () => {
    await expect(
      loadWireGuardNt({ dllPath: 'wireguard.dll', platform: 'linux' }),
    ).rejects.toMatchObject({
      name: 'WireGuardNtError',
      code: 'unsupported_platform',
    });
  });
});

describe('statsFromNt', () => {
  it('reads a never-handshaken peer as null and formats endpoints canonically', () => {
    const stats = statsFromNt({
      flags: 0,
      listenPort: 1,
      privateKey: ZERO_KEY,
      publicKey: ZERO_KEY,
      peers: [
        {
          flags: 0,
          publicKey: new Uint8Array(32).fill(1),
          presharedKey: ZERO_KEY,
          persistentKeepalive: 0,
          endpoint: {
            family: 'ipv6',
            address: new Uint8Array([0x20, 1, 0xd, 0xb8, ...new Array(11).fill(0), 1]),
            port: 5,
            flowInfo: 0,
            scopeId: 0,
          },
          txBytes: 0n,
          rxBytes: 0n,
          lastHandshake: 0n,
          allowedIps: [],
        },
      ],
    });
    expect(stats.peers[0]).toMatchObject({ endpoint: '[2001:db8::1]:5', lastHandshake: null });
  });
});

describe('chooseBackend per platform (no Windows or macOS here: only the choice is checked)', () => {
  it('picks wireguard-nt on Windows and wireguard-go on macOS without probing Linux kernel support', async () => {
    const calls: string[] = [];
    const exec: Exec = async (command, args) => {
      calls.push([command, ...args].join(' '));
      return { stdout: '', stderr: '' };
    };
    expect((await chooseBackend({ platform: 'win32', exec })).kind).toBe('wireguard-nt');
    expect((await chooseBackend({ platform: 'darwin', exec })).kind).toBe('wireguard-go');
    expect(calls).toEqual([]);
    expect(wireguardNtDllPath({ wireguardNtDll: 'C:\\Trellis\\wireguard.dll' })).toBe(
      'C:\\Trellis\\wireguard.dll',
    );
  });
});
