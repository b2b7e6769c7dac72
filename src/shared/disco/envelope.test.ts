import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, keysEqual } from '../keys.js';
import {
  DISCO_HEADER_LENGTH,
  DISCO_MAGIC,
  DiscoKeyCache,
  DiscoSealError,
  isDisco,
  MAX_DISCO_PACKET,
  openDisco,
  sealDisco,
} from './envelope.js';
import type { DiscoMessage } from './message.js';

const alice = generateKeyPair();
const bob = generateKeyPair();
const mallory = generateKeyPair();

const ping: DiscoMessage = {
  type: 'ping',
  txId: new Uint8Array(12).map((_, i) => i + 1),
  nodeKey: new Uint8Array(32).fill(7),
};

describe('disco envelope', () => {
  it('round-trips every message type and authenticates the sender', () => {
    const msgs: DiscoMessage[] = [
      ping,
      {
        type: 'pong',
        txId: new Uint8Array(12).fill(9),
        src: { ip: '198.51.100.7', family: 'ipv4', port: 3478 },
      },
      {
        type: 'call-me-maybe',
        endpoints: [
          { ip: '10.1.2.3', family: 'ipv4', port: 41641 },
          { ip: '2001:db8::5', family: 'ipv6', port: 41642 },
        ],
      },
    ];
    for (const m of msgs) {
      const sealed = sealDisco(m, alice.privateKey, bob.publicKey);
      expect(isDisco(sealed)).toBe(true);
      const r = openDisco(sealed, bob.privateKey);
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(keysEqual(r.value.sender, alice.publicKey)).toBe(true);
      expect(r.value.message).toEqual(m);
    }
  });

  it('uses a fresh nonce per message', () => {
    const a = sealDisco(ping, alice.privateKey, bob.publicKey);
    const b = sealDisco(ping, alice.privateKey, bob.publicKey);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('opens only with the matching key pair', () => {
    const sealed = sealDisco(ping, alice.privateKey, bob.publicKey);
    const wrongReceiver = openDisco(sealed, mallory.privateKey);
    expect(!wrongReceiver.ok && wrongReceiver.error.code).toBe('auth-failed');
    // The sender itself can't open it either: keys are bound to the direction.
    const reflected = openDisco(sealed, alice.privateKey);
    expect(!reflected.ok && reflected.error.code).toBe('auth-failed');
    // Claiming to be someone else (rewriting the sender key) fails authentication.
    const spoofed = sealed.slice();
    spoofed.set(mallory.publicKey, DISCO_MAGIC.length);
    const s = openDisco(spoofed, bob.privateKey);
    expect(!s.ok && s.error.code).toBe('auth-failed');
  });

  it('binds direction: A→B and B→A use different keys', () => {
    const cacheA = new DiscoKeyCache(alice.privateKey);
    const cacheB = new DiscoKeyCache(bob.privateKey);
    const ka = cacheA.keysFor(bob.publicKey);
    const kb = cacheB.keysFor(alice.publicKey);
    expect(ka && kb).toBeTruthy();
    if (!ka || !kb) return;
    expect(ka.seal.equals(kb.open)).toBe(true);
    expect(ka.open.equals(kb.seal)).toBe(true);
    expect(ka.seal.equals(ka.open)).toBe(false);
  });

  it('rejects every single flipped byte of a sealed message', () => {
    const sealed = sealDisco(
      {
        type: 'pong',
        txId: new Uint8Array(12).fill(3),
        src: { ip: '2001:db8::1', family: 'ipv6', port: 9 },
      },
      alice.privateKey,
      bob.publicKey,
    );
    expect(openDisco(sealed, bob.privateKey).ok).toBe(true);
    let rejected = 0;
    for (let i = 0; i < sealed.length; i++) {
      for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff]) {
        const bad = sealed.slice();
        bad[i] = (bad[i] ?? 0) ^ mask;
        const r = openDisco(bad, bob.privateKey);
        expect(r.ok, `byte ${i} mask ${mask}`).toBe(false);
        if (!r.ok) rejected++;
      }
    }
    expect(rejected).toBe(sealed.length * 9);
  });

  it('asks the peer lookup before doing key agreement', () => {
    const sealed = sealDisco(ping, alice.privateKey, bob.publicKey);
    const seen: Uint8Array[] = [];
    const r = openDisco(sealed, bob.privateKey, (k) => {
      seen.push(k);
      return false;
    });
    expect(!r.ok && r.error.code).toBe('unknown-peer');
    expect(seen).toHaveLength(1);
    expect(seen[0] && keysEqual(seen[0], alice.publicKey)).toBe(true);
    const known = openDisco(sealed, bob.privateKey, (k) => keysEqual(k, alice.publicKey));
    expect(known.ok).toBe(true);
  });

  it('refuses low-order peer keys on both sides', () => {
    const zero = new Uint8Array(32);
    expect(() => sealDisco(ping, alice.privateKey, zero)).toThrow(DiscoSealError);
    const forged = sealDisco(ping, alice.privateKey, bob.publicKey);
    forged.set(zero, DISCO_MAGIC.length);
    const r = openDisco(forged, bob.privateKey);
    expect(!r.ok && r.error.code).toBe('low-order-point');
  });

  it('is never confused with WireGuard or STUN packets', () => {
    // WireGuard: type 1..4 then three zero bytes.
    for (let t = 1; t <= 4; t++) {
      const wg = new Uint8Array(148);
      wg[0] = t;
      expect(isDisco(wg)).toBe(false);
    }
    // STUN binding request with the magic cookie at offset 4.
    const stun = new Uint8Array(100);
    stun.set([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
    expect(isDisco(stun)).toBe(false);
    expect(DISCO_MAGIC[0]! & 0xc0).not.toBe(0); // first two bits are not 00 (STUN)
    expect(DISCO_MAGIC[0]! >= 1 && DISCO_MAGIC[0]! <= 4).toBe(false); // not a WireGuard type
  });

  it('rejects oversized packets before decrypting', () => {
    const big = new Uint8Array(MAX_DISCO_PACKET + 1);
    big.set(DISCO_MAGIC);
    const r = openDisco(big, bob.privateKey);
    expect(!r.ok && r.error.code).toBe('too-large');
  });

  it('keeps the per-peer key cache bounded', () => {
    const cache = new DiscoKeyCache(alice.privateKey, 4);
    for (let i = 0; i < 10; i++) cache.keysFor(generateKeyPair().publicKey);
    expect(cache.size).toBe(4);
  });

  it('never throws on random or mutated input', () => {
    const sealed = sealDisco(ping, alice.privateKey, bob.publicKey);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([...DISCO_MAGIC, ...b])),
          fc
            .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 })
            .map((edits) => {
              const b = sealed.slice();
              for (const [at, v] of edits) b[DISCO_HEADER_LENGTH + (at % 40)] = v;
              return b;
            }),
        ),
        (b) => {
          const r = openDisco(b, bob.privateKey);
          return typeof r.ok === 'boolean';
        },
      ),
      { numRuns: 500 },
    );
  });
});
