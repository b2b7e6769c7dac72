import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KeyAgreementError,
  generateKeyPair,
  keyFromBase64,
  keyToBase64,
  keyToHex,
  keysEqual,
  publicKeyFromPrivate,
  shortKey,
  tryX25519,
  x25519,
} from './keys.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

// RFC 7748 section 6.1.
const ALICE_PRIV = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const ALICE_PUB = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
const BOB_PRIV = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
const BOB_PUB = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

describe('X25519', () => {
  it('derives the RFC 7748 public keys', () => {
    expect(keyToHex(publicKeyFromPrivate(ALICE_PRIV))).toBe(keyToHex(ALICE_PUB));
    expect(keyToHex(publicKeyFromPrivate(BOB_PRIV))).toBe(keyToHex(BOB_PUB));
  });

  it('computes the RFC 7748 shared secret from both sides', () => {
    expect(keyToHex(x25519(ALICE_PRIV, BOB_PUB))).toBe(SHARED);
    expect(keyToHex(x25519(BOB_PRIV, ALICE_PUB))).toBe(SHARED);
  });

  it('generates consistent pairs that agree with each other', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    expect(a.privateKey).toHaveLength(32);
    expect(a.publicKey).toHaveLength(32);
    expect(keysEqual(publicKeyFromPrivate(a.privateKey), a.publicKey)).toBe(true);
    expect(keysEqual(a.publicKey, b.publicKey)).toBe(false);
    expect(keysEqual(x25519(a.privateKey, b.publicKey), x25519(b.privateKey, a.publicKey))).toBe(
      true,
    );
  });

  it('rejects low-order peer points (all-zero shared secret)', () => {
    const zero = new Uint8Array(32);
    const one = new Uint8Array(32);
    one[0] = 1;
    for (const p of [zero, one]) {
      const r = tryX25519(ALICE_PRIV, p);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('low-order-point');
      expect(() => x25519(ALICE_PRIV, p)).toThrow(KeyAgreementError);
    }
  });

  it('rejects wrong key lengths without throwing in the Result form', () => {
    const r = tryX25519(ALICE_PRIV, new Uint8Array(31));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('bad-key-length');
  });
});

describe('key text forms', () => {
  it('round-trips base64 in the WireGuard form', () => {
    const s = keyToBase64(ALICE_PUB);
    expect(s).toBe(Buffer.from(ALICE_PUB).toString('base64'));
    expect(s).toHaveLength(44);
    const back = keyFromBase64(s);
    expect(back.ok && keysEqual(back.value, ALICE_PUB)).toBe(true);
  });

  it('round-trips any 32 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (k) => {
        const r = keyFromBase64(keyToBase64(k));
        return r.ok && keysEqual(r.value, k);
      }),
    );
  });

  it('rejects non-canonical, unpadded, url-safe and wrong-length strings', () => {
    const good = keyToBase64(ALICE_PUB);
    // Same 32 bytes, but with a spare low bit set in the last base64 digit.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const lastDigit = alphabet.indexOf(good[42] ?? '');
    const nonCanonical = good.slice(0, 42) + alphabet[lastDigit | 1] + '=';
    expect(Buffer.from(nonCanonical, 'base64').equals(Buffer.from(ALICE_PUB))).toBe(true);
    const bad = [
      '',
      good.slice(0, 43),
      good + '=',
      nonCanonical,
      good.replace(/\+|\//g, '-').replace(/^./, '_'),
      Buffer.alloc(31).toString('base64'),
      Buffer.alloc(33).toString('base64'),
      ` ${good.slice(1)}`,
    ];
    for (const s of bad) {
      const r = keyFromBase64(s);
      expect(r.ok, s).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('bad-key');
    }
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const r = keyFromBase64(s);
        return !r.ok || r.value.length === 32;
      }),
    );
  });

  it('compares in constant time and handles length mismatch', () => {
    expect(keysEqual(ALICE_PUB, new Uint8Array(ALICE_PUB))).toBe(true);
    expect(keysEqual(ALICE_PUB, BOB_PUB)).toBe(false);
    expect(keysEqual(ALICE_PUB, ALICE_PUB.subarray(0, 31))).toBe(false);
  });

  it('has a short form for logs', () => {
    expect(shortKey(ALICE_PUB)).toBe('[8520f009]');
  });
});
