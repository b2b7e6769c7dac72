/**
 * X25519 keys (node keys and disco keys) as raw 32-byte arrays, on top of Node's crypto.
 *
 * Node only speaks DER/PEM/JWK key objects, so raw keys are wrapped in fixed PKCS#8 / SPKI DER
 * prefixes (RFC 8410: the X25519 OID 1.3.101.110 followed by the 32 raw bytes).
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { decodeError, ok, type DecodeError, type Result } from './result.js';

export const KEY_LENGTH = 32;

export interface KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** SEQUENCE { INTEGER 0, SEQUENCE { OID X25519 }, OCTET STRING { OCTET STRING (32) } } */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
/** SEQUENCE { SEQUENCE { OID X25519 }, BIT STRING (0 unused bits, 32 bytes) } */
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

function assertKeyLength(k: Uint8Array, what: string): void {
  if (k.length !== KEY_LENGTH) {
    throw new RangeError(`${what} must be ${KEY_LENGTH} bytes, got ${k.length}`);
  }
}

/** Raw private key → Node KeyObject. Throws RangeError on a wrong length (a programming error). */
export function privateKeyObject(priv: Uint8Array): KeyObject {
  assertKeyLength(priv, 'X25519 private key');
  return createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, priv]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** Raw public key → Node KeyObject. Throws RangeError on a wrong length. */
export function publicKeyObject(pub: Uint8Array): KeyObject {
  assertKeyLength(pub, 'X25519 public key');
  return createPublicKey({
    key: Buffer.concat([SPKI_X25519_PREFIX, pub]),
    format: 'der',
    type: 'spki',
  });
}

function rawTail(der: Buffer): Uint8Array {
  return new Uint8Array(der.subarray(der.length - KEY_LENGTH));
}

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return {
    privateKey: rawTail(privateKey.export({ format: 'der', type: 'pkcs8' })),
    publicKey: rawTail(publicKey.export({ format: 'der', type: 'spki' })),
  };
}

export function publicKeyFromPrivate(priv: Uint8Array): Uint8Array {
  const pub = createPublicKey(privateKeyObject(priv));
  return rawTail(pub.export({ format: 'der', type: 'spki' }));
}

export type KeyAgreementErrorCode = 'bad-key-length' | 'low-order-point';

/** Thrown by {@link x25519}; {@link tryX25519} returns the same condition as a Result. */
export class KeyAgreementError extends Error {
  constructor(readonly code: KeyAgreementErrorCode) {
    super(
      code === 'low-order-point'
        ? 'X25519 produced the all-zero secret: peer key is a low-order point'
        : 'X25519 keys must be 32 bytes',
    );
    this.name = 'KeyAgreementError';
  }
}

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

/**
 * X25519(priv, peerPub) as a Result, for peer keys that arrive from the network. The all-zero
 * output (RFC 7748 §6.1: the peer sent a low-order point) is rejected; OpenSSL already refuses
 * it, the explicit check keeps the guarantee independent of the crypto backend.
 */
export function tryX25519(
  priv: Uint8Array,
  peerPub: Uint8Array,
): Result<Uint8Array, DecodeError<KeyAgreementErrorCode>> {
  if (priv.length !== KEY_LENGTH || peerPub.length !== KEY_LENGTH) {
    return decodeError('bad-key-length', 'X25519 keys must be 32 bytes');
  }
  let secret: Uint8Array;
  try {
    secret = new Uint8Array(
      diffieHellman({ privateKey: privateKeyObject(priv), publicKey: publicKeyObject(peerPub) }),
    );
  } catch {
    return decodeError('low-order-point', 'X25519 derivation failed (low-order peer key)');
  }
  if (isAllZero(secret)) return decodeError('low-order-point', 'X25519 shared secret is all zero');
  return ok(secret);
}

/** X25519 shared secret. Throws {@link KeyAgreementError} on a low-order peer key. */
export function x25519(priv: Uint8Array, peerPub: Uint8Array): Uint8Array {
  const r = tryX25519(priv, peerPub);
  if (!r.ok) throw new KeyAgreementError(r.error.code);
  return r.value;
}

/** WireGuard's textual key form: standard base64 with padding (44 characters). */
export function keyToBase64(k: Uint8Array): string {
  assertKeyLength(k, 'key');
  return Buffer.from(k).toString('base64');
}

/** 43 base64 characters and one '=' encode exactly 32 bytes. */
const KEY_BASE64_RE = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Strict parse of a WireGuard base64 key: exactly 32 bytes, standard alphabet, padded, and
 * canonical (the two spare bits of the last character are zero, so each key has one spelling).
 */
export function keyFromBase64(s: string): Result<Uint8Array, DecodeError<'bad-key'>> {
  if (typeof s !== 'string' || !KEY_BASE64_RE.test(s)) {
    return decodeError('bad-key', 'key must be 44 characters of padded standard base64');
  }
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length !== KEY_LENGTH || bytes.toString('base64') !== s) {
    return decodeError('bad-key', 'key base64 is not canonical');
  }
  return ok(new Uint8Array(bytes));
}

/** Constant-time comparison; arrays of different length compare unequal. */
export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

export function keyToHex(k: Uint8Array): string {
  return Buffer.from(k).toString('hex');
}

/** Bytes of a key shown in logs: 4 bytes (8 hex digits) tell keys apart in any real network. */
const SHORT_KEY_BYTES = 4;

/** Short form for logs, e.g. `[a1b2c3d4]`; never for identity decisions. */
export function shortKey(k: Uint8Array): string {
  return `[${Buffer.from(k.subarray(0, SHORT_KEY_BYTES)).toString('hex')}]`;
}
