import { describe, expect, it } from 'vitest';
import { generateKeyPair, keyToBase64 } from '../../shared/keys.js';
import { canonicalWgConfig } from './config.js';
import type { WgInterfaceConfig, WgPeerConfig } from './types.js';

const self = generateKeyPair();
const peerA = keyToBase64(generateKeyPair().publicKey);
const peerB = keyToBase64(generateKeyPair().publicKey);

function config(peers: WgPeerConfig[], over: Partial<WgInterfaceConfig> = {}): WgInterfaceConfig {
  return { privateKey: keyToBase64(self.privateKey), listenPort: 0, fwmark: 0, peers, ...over };
}

const peer = (publicKey: string, over: Partial<WgPeerConfig> = {}): WgPeerConfig => ({
  publicKey,
  endpoint: null,
  allowedIps: [],
  persistentKeepalive: 0,
  ...over,
});

function badConfig(c: WgInterfaceConfig): string {
  const r = canonicalWgConfig(c);
  if (r.ok) throw new Error('expected bad_config');
  expect(r.error.code).toBe('bad_config');
  return r.error.message;
}

describe('canonicalWgConfig', () => {
  it('masks, deduplicates and sorts allowed IPs, canonicalises endpoints and sorts peers', () => {
    const r = canonicalWgConfig(
      config([
        peer(peerB, { allowedIps: ['fd7a:0:0::2/128'], endpoint: '[fd00:0::1]:51820' }),
        peer(peerA, {
          allowedIps: ['10.1.2.3/24', '100.64.0.2/32', '10.1.2.0/24'],
          endpoint: '10.99.0.2:51820',
        }),
      ]),
    );
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.peers.map((p) => p.publicKey)).toEqual([peerA, peerB].sort());
    const a = r.value.peers.find((p) => p.publicKey === peerA);
    const b = r.value.peers.find((p) => p.publicKey === peerB);
    expect(a?.allowedIps).toEqual(['10.1.2.0/24', '100.64.0.2/32']);
    expect(a?.endpoint).toBe('10.99.0.2:51820');
    expect(b?.allowedIps).toEqual(['fd7a::2/128']);
    expect(b?.endpoint).toBe('[fd00::1]:51820');
  });

  it('rejects bad keys, ports, marks, endpoints, prefixes and keepalives', () => {
    expect(badConfig(config([], { privateKey: 'nope' }))).toMatch(/private key/);
    expect(badConfig(config([], { listenPort: 65536 }))).toMatch(/listen port/);
    expect(badConfig(config([], { fwmark: -1 }))).toMatch(/fwmark/);
    expect(badConfig(config([peer('x')]))).toMatch(/public key/);
    expect(badConfig(config([peer(peerA, { endpoint: 'example.com:1' })]))).toMatch(/endpoint/);
    expect(badConfig(config([peer(peerA, { endpoint: '1.2.3.4:1\nremove=true' })]))).toMatch(
      /endpoint/,
    );
    expect(badConfig(config([peer(peerA, { allowedIps: ['10.0.0.0/33'] })]))).toMatch(/allowed IP/);
    expect(badConfig(config([peer(peerA, { persistentKeepalive: 70000 })]))).toMatch(/keepalive/);
  });

  it('rejects a peer listed twice, the device’s own key as a peer, and a prefix given to two peers', () => {
    expect(badConfig(config([peer(peerA), peer(peerA)]))).toMatch(/twice/);
    expect(badConfig(config([peer(keyToBase64(self.publicKey))]))).toMatch(/own public key/);
    expect(
      badConfig(
        config([
          peer(peerA, { allowedIps: ['10.0.0.0/24'] }),
          peer(peerB, { allowedIps: ['10.0.0.7/24'] }),
        ]),
      ),
    ).toMatch(/two peers|given to peers/);
  });
});
