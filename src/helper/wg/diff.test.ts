import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, keyToBase64 } from '../../shared/keys.js';
import { canonicalWgConfig } from './config.js';
import { diffWgConfig, isEmptyDiff, type WgConfigDiff } from './diff.js';
import type { WgInterfaceConfig, WgPeerConfig } from './types.js';
import { encodeSetRequest, type UapiDeviceState } from './uapi.js';
import { applySetRequest, emptyDeviceState } from './uapi-model.js';

const privA = keyToBase64(generateKeyPair().privateKey);
const privB = keyToBase64(generateKeyPair().privateKey);
const KEYS = Array.from({ length: 6 }, () => keyToBase64(generateKeyPair().publicKey));
const [K0 = '', K1 = '', K2 = ''] = KEYS;

function canonical(c: WgInterfaceConfig): WgInterfaceConfig {
  const r = canonicalWgConfig(c);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const peer = (publicKey: string, over: Partial<WgPeerConfig> = {}): WgPeerConfig => ({
  publicKey,
  endpoint: null,
  allowedIps: [],
  persistentKeepalive: 0,
  ...over,
});

const base = canonical({
  privateKey: privA,
  listenPort: 0,
  fwmark: 0,
  peers: [
    peer(K0, { endpoint: '10.99.0.2:51820', allowedIps: ['100.64.0.2/32'] }),
    peer(K1, {
      endpoint: '10.99.0.3:51820',
      allowedIps: ['100.64.0.3/32'],
      persistentKeepalive: 25,
    }),
  ],
});

describe('diffWgConfig', () => {
  it('first apply replaces all peers and sets the key and mark, not a zero port', () => {
    const d = diffWgConfig(null, base);
    expect(d.replacePeers).toBe(true);
    expect(d.privateKey).toBe(privA);
    expect(d.fwmark).toBe(0);
    expect('listenPort' in d).toBe(false);
    expect(d.peers.map((p) => p.kind)).toEqual(['add', 'add']);
    expect(diffWgConfig(null, { ...base, listenPort: 41641 }).listenPort).toBe(41641);
  });

  it('an identical config is an empty diff', () => {
    const d = diffWgConfig(base, canonical({ ...base, peers: [...base.peers].reverse() }));
    expect(isEmptyDiff(d)).toBe(true);
  });

  it('removes, adds and updates peers, each field only when it changed', () => {
    const next = canonical({
      ...base,
      peers: [
        // K0: only the keepalive changes.
        peer(K0, {
          endpoint: '10.99.0.2:51820',
          allowedIps: ['100.64.0.2/32'],
          persistentKeepalive: 10,
        }),
        // K1 is removed, K2 is new.
        peer(K2, { allowedIps: ['100.64.0.4/32'] }),
      ],
    });
    const d = diffWgConfig(base, next);
    expect(d.replacePeers).toBe(false);
    expect(d.privateKey).toBeUndefined();
    expect(d.listenPort).toBeUndefined();
    expect(d.fwmark).toBeUndefined();
    expect(d.peers).toEqual([
      { kind: 'remove', publicKey: K1 },
      {
        kind: 'add',
        publicKey: K2,
        endpoint: null,
        allowedIps: ['100.64.0.4/32'],
        persistentKeepalive: 0,
      },
      { kind: 'update', publicKey: K0, persistentKeepalive: 10 },
    ]);
  });

  it('sends an endpoint or allowed IPs only when they changed', () => {
    const moved = canonical({
      ...base,
      peers: [
        peer(K0, { endpoint: '10.99.0.9:4000', allowedIps: ['100.64.0.2/32'] }),
        base.peers.find((p) => p.publicKey === K1) ?? peer(K1),
      ],
    });
    expect(diffWgConfig(base, moved).peers).toEqual([
      { kind: 'update', publicKey: K0, endpoint: '10.99.0.9:4000' },
    ]);
    const routed = canonical({
      ...base,
      peers: [
        peer(K0, { endpoint: '10.99.0.2:51820', allowedIps: ['100.64.0.2/32', '10.1.0.0/16'] }),
        base.peers.find((p) => p.publicKey === K1) ?? peer(K1),
      ],
    });
    expect(diffWgConfig(base, routed).peers).toEqual([
      { kind: 'update', publicKey: K0, allowedIps: ['10.1.0.0/16', '100.64.0.2/32'] },
    ]);
  });

  it('never asks to forget an endpoint (WireGuard keeps the one it knows)', () => {
    const forgotten = canonical({
      ...base,
      peers: base.peers.map((p) => (p.publicKey === K0 ? { ...p, endpoint: null } : p)),
    });
    expect(isEmptyDiff(diffWgConfig(base, forgotten))).toBe(true);
  });

  it('changes device fields alone', () => {
    const d = diffWgConfig(base, { ...base, privateKey: privB, listenPort: 5000, fwmark: 0x54 });
    expect(d).toEqual({
      replacePeers: false,
      privateKey: privB,
      listenPort: 5000,
      fwmark: 0x54,
      peers: [],
    });
  });
});

// --- Properties against the UAPI model (wireguard-go's semantics) ---------------------------

const CIDRS = ['100.64.0.2/32', '100.64.0.3/32', '10.1.0.0/16', 'fd7a::2/128', '10.2.0.0/24'];
const ENDPOINTS = [null, '10.99.0.2:51820', '[fd00::2]:51820', '10.99.0.3:1'];

/** A canonical config: a subset of KEYS as peers, each CIDR owned by at most one of them. */
const configArb: fc.Arbitrary<WgInterfaceConfig> = fc
  .record({
    privateKey: fc.constantFrom(privA, privB),
    listenPort: fc.constantFrom(0, 51820, 41641),
    fwmark: fc.constantFrom(0, 0x54),
    present: fc.subarray(KEYS),
    endpoints: fc.array(fc.constantFrom(...ENDPOINTS), {
      minLength: KEYS.length,
      maxLength: KEYS.length,
    }),
    keepalives: fc.array(fc.constantFrom(0, 10, 25), {
      minLength: KEYS.length,
      maxLength: KEYS.length,
    }),
    owners: fc.array(fc.integer({ min: -1, max: KEYS.length - 1 }), {
      minLength: CIDRS.length,
      maxLength: CIDRS.length,
    }),
  })
  .map((r) =>
    canonical({
      privateKey: r.privateKey,
      listenPort: r.listenPort,
      fwmark: r.fwmark,
      peers: r.present.map((key) => {
        const i = KEYS.indexOf(key);
        return peer(key, {
          endpoint: r.endpoints[i] ?? null,
          persistentKeepalive: r.keepalives[i] ?? 0,
          allowedIps: CIDRS.filter((_, c) => r.owners[c] === i),
        });
      }),
    }),
  );

function applyDiff(state: UapiDeviceState, d: WgConfigDiff): UapiDeviceState {
  const req = encodeSetRequest(d);
  if (!req.ok) throw new Error(req.error.message);
  const r = applySetRequest(state, req.value);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** What the device should hold after `next`, given that it held `prev`'s endpoints before. */
function expectedPeers(prev: WgInterfaceConfig | null, next: WgInterfaceConfig) {
  return next.peers
    .map((p) => ({
      publicKey: p.publicKey,
      endpoint:
        p.endpoint ?? prev?.peers.find((q) => q.publicKey === p.publicKey)?.endpoint ?? null,
      allowedIps: [...p.allowedIps].sort(),
      persistentKeepalive: p.persistentKeepalive,
    }))
    .sort((a, b) => (a.publicKey < b.publicKey ? -1 : 1));
}

const devicePeers = (s: UapiDeviceState) =>
  s.peers
    .map((p) => ({
      publicKey: p.publicKey,
      endpoint: p.endpoint,
      allowedIps: [...p.allowedIps].sort(),
      persistentKeepalive: p.persistentKeepalive,
    }))
    .sort((a, b) => (a.publicKey < b.publicKey ? -1 : 1));

describe('diffWgConfig properties (applied through the UAPI encoder and model)', () => {
  it('prev → diff(prev, next) leaves the device exactly at next', () => {
    fc.assert(
      fc.property(configArb, configArb, (prev, next) => {
        const atPrev = applyDiff(emptyDeviceState(), diffWgConfig(null, prev));
        expect(devicePeers(atPrev)).toEqual(expectedPeers(null, prev));
        const atNext = applyDiff(atPrev, diffWgConfig(prev, next));
        expect(devicePeers(atNext)).toEqual(expectedPeers(prev, next));
        expect(atNext.privateKey).toBe(next.privateKey);
        expect(atNext.fwmark).toBe(next.fwmark);
        if (next.listenPort !== 0) expect(atNext.listenPort).toBe(next.listenPort);
      }),
      { numRuns: 300 },
    );
  });

  it('a first apply converges any leftover device state (adoption after a crash)', () => {
    fc.assert(
      fc.property(configArb, configArb, (leftover, next) => {
        const stale = applyDiff(emptyDeviceState(), diffWgConfig(null, leftover));
        const after = applyDiff(stale, diffWgConfig(null, next));
        expect(devicePeers(after)).toEqual(expectedPeers(null, next));
      }),
      { numRuns: 200 },
    );
  });

  it('never touches a peer that did not change, and diff(x, x) is empty', () => {
    fc.assert(
      fc.property(configArb, configArb, (prev, next) => {
        expect(isEmptyDiff(diffWgConfig(next, next))).toBe(true);
        const touched = new Set(diffWgConfig(prev, next).peers.map((p) => p.publicKey));
        for (const p of next.peers) {
          const old = prev.peers.find((q) => q.publicKey === p.publicKey);
          const same =
            old !== undefined &&
            (p.endpoint === null || p.endpoint === old.endpoint) &&
            old.persistentKeepalive === p.persistentKeepalive &&
            old.allowedIps.join() === p.allowedIps.join();
          expect(touched.has(p.publicKey)).toBe(!same);
        }
      }),
      { numRuns: 300 },
    );
  });
});
