/**
 * The sealed disco envelope, one per UDP datagram or relay payload:
 *
 *   magic (6) "TRLDSC" | sender disco public key (32) | nonce (12) | ciphertext (n) | tag (16)
 *
 * ChaCha20-Poly1305 (RFC 8439) with the 50-byte header as associated data. The key is
 * direction-bound: HKDF-SHA256 over X25519(own, peer) with both public keys in sender→receiver
 * order in `info`, so a message can't be reflected back to its sender or replayed as the other
 * direction. docs/protocol.md ("## Disco") has the byte-level description.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { KEY_LENGTH, publicKeyFromPrivate, tryX25519, keyToHex } from '../keys.js';
import { decodeError, ok, type DecodeError, type Result } from '../result.js';
import {
  decodeDiscoMessage,
  encodeDiscoMessage,
  MAX_DISCO_MESSAGE_BYTES,
  type DiscoMessage,
  type DiscoMessageErrorCode,
} from './message.js';

/**
 * "TRLDSC". The first byte 0x54 can't start a WireGuard message (types 1..4 followed by three
 * zero bytes) nor a STUN message (top two bits 00), so one UDP socket demuxes on byte 0.
 */
export const DISCO_MAGIC = new Uint8Array([0x54, 0x52, 0x4c, 0x44, 0x53, 0x43]);
export const DISCO_NONCE_LENGTH = 12;
export const DISCO_TAG_LENGTH = 16;
export const DISCO_HEADER_LENGTH = DISCO_MAGIC.length + KEY_LENGTH + DISCO_NONCE_LENGTH;
/** Smallest possible envelope: header, a 2-byte message header, tag. */
export const MIN_DISCO_PACKET = DISCO_HEADER_LENGTH + 2 + DISCO_TAG_LENGTH;
/** Largest envelope this version produces or accepts; anything bigger is rejected unread. */
export const MAX_DISCO_PACKET = DISCO_HEADER_LENGTH + MAX_DISCO_MESSAGE_BYTES + DISCO_TAG_LENGTH;

const HKDF_SALT = Buffer.from('trellis disco v1 salt');
const HKDF_INFO_PREFIX = Buffer.from('trellis disco v1 key ');

/**
 * Peers whose derived keys stay cached per own disco key. A miss costs one X25519 and one HKDF
 * (tens of µs); 1024 covers every peer of a large network that is actively probed at once.
 */
export const DISCO_KEY_CACHE_SIZE = 1024;

type DirectionKeys = { readonly seal: Buffer; readonly open: Buffer } | null;

/** Bounded LRU of per-peer box keys for one own disco key pair. */
export class DiscoKeyCache {
  readonly publicKey: Uint8Array;
  private readonly peers = new Map<string, DirectionKeys>();

  constructor(
    private readonly privateKey: Uint8Array,
    private readonly maxEntries = DISCO_KEY_CACHE_SIZE,
  ) {
    this.publicKey = publicKeyFromPrivate(privateKey);
  }

  get size(): number {
    return this.peers.size;
  }

  /** Keys for talking to `peer`, or null if it is a low-order point (cached as well). */
  keysFor(peer: Uint8Array): DirectionKeys {
    const id = keyToHex(peer);
    const hit = this.peers.get(id);
    if (hit !== undefined) {
      this.peers.delete(id); // re-insert: Map order is the LRU order
      this.peers.set(id, hit);
      return hit;
    }
    const shared = tryX25519(this.privateKey, peer);
    const keys = shared.ok
      ? {
          seal: deriveBoxKey(shared.value, this.publicKey, peer),
          open: deriveBoxKey(shared.value, peer, this.publicKey),
        }
      : null;
    if (this.peers.size >= this.maxEntries) {
      const oldest = this.peers.keys().next();
      if (!oldest.done) this.peers.delete(oldest.value);
    }
    this.peers.set(id, keys);
    return keys;
  }
}

function deriveBoxKey(shared: Uint8Array, sender: Uint8Array, receiver: Uint8Array): Buffer {
  const info = Buffer.concat([HKDF_INFO_PREFIX, sender, receiver]);
  return Buffer.from(hkdfSync('sha256', shared, HKDF_SALT, info, 32));
}

/** Caches keyed by the identity of the caller's private-key array, dropped with it. */
const caches = new WeakMap<Uint8Array, DiscoKeyCache>();

function cacheFor(ownPriv: Uint8Array): DiscoKeyCache {
  let c = caches.get(ownPriv);
  if (!c) {
    c = new DiscoKeyCache(ownPriv);
    caches.set(ownPriv, c);
  }
  return c;
}

/** Cheap demux: does this datagram claim to be disco? (No authentication yet.) */
export function isDisco(packet: Uint8Array): boolean {
  if (packet.length < MIN_DISCO_PACKET) return false;
  for (let i = 0; i < DISCO_MAGIC.length; i++) {
    if (packet[i] !== DISCO_MAGIC[i]) return false;
  }
  return true;
}

export class DiscoSealError extends Error {
  override readonly name = 'DiscoSealError';
}

/**
 * Seals `msg` for `peerPub`. Throws RangeError on an invalid message and DiscoSealError when the
 * peer key is a low-order point (a netmap bug or attack; the caller should drop that peer).
 */
export function sealDisco(msg: DiscoMessage, ownPriv: Uint8Array, peerPub: Uint8Array): Uint8Array {
  if (peerPub.length !== KEY_LENGTH) throw new RangeError('peer disco key must be 32 bytes');
  const cache = cacheFor(ownPriv);
  const keys = cache.keysFor(peerPub);
  if (!keys) throw new DiscoSealError('peer disco key is a low-order point');
  const plain = encodeDiscoMessage(msg);
  const out = new Uint8Array(DISCO_HEADER_LENGTH + plain.length + DISCO_TAG_LENGTH);
  out.set(DISCO_MAGIC, 0);
  out.set(cache.publicKey, DISCO_MAGIC.length);
  const nonce = randomBytes(DISCO_NONCE_LENGTH);
  out.set(nonce, DISCO_MAGIC.length + KEY_LENGTH);
  const cipher = createCipheriv('chacha20-poly1305', keys.seal, nonce, {
    authTagLength: DISCO_TAG_LENGTH,
  });
  cipher.setAAD(out.subarray(0, DISCO_HEADER_LENGTH), { plaintextLength: plain.length });
  const ct = cipher.update(plain);
  cipher.final(); // a stream cipher: final() emits nothing, but it computes the tag
  out.set(ct, DISCO_HEADER_LENGTH);
  out.set(cipher.getAuthTag(), DISCO_HEADER_LENGTH + ct.length);
  return out;
}

export type DiscoOpenErrorCode =
  | 'not-disco'
  | 'too-large'
  | 'unknown-peer'
  | 'low-order-point'
  | 'auth-failed'
  | DiscoMessageErrorCode;

export type DiscoOpenError = DecodeError<DiscoOpenErrorCode>;

export interface OpenedDisco {
  /** The sender's disco public key (authenticated: only its holder could have sealed this). */
  readonly sender: Uint8Array;
  readonly message: DiscoMessage;
}

/**
 * Opens a sealed disco packet addressed to `ownPriv`. `isKnownPeer`, when given, is asked before
 * any key agreement so packets from strangers cost no X25519.
 */
export function openDisco(
  packet: Uint8Array,
  ownPriv: Uint8Array,
  isKnownPeer?: (discoKey: Uint8Array) => boolean,
): Result<OpenedDisco, DiscoOpenError> {
  if (!isDisco(packet)) return decodeError('not-disco', 'not a disco packet');
  if (packet.length > MAX_DISCO_PACKET) {
    return decodeError('too-large', `disco packet of ${packet.length} bytes`);
  }
  const sender = new Uint8Array(
    packet.subarray(DISCO_MAGIC.length, DISCO_MAGIC.length + KEY_LENGTH),
  );
  if (isKnownPeer && !isKnownPeer(sender)) {
    return decodeError('unknown-peer', 'disco packet from an unknown disco key');
  }
  const keys = cacheFor(ownPriv).keysFor(sender);
  if (!keys) return decodeError('low-order-point', 'sender disco key is a low-order point');
  const nonce = packet.subarray(DISCO_MAGIC.length + KEY_LENGTH, DISCO_HEADER_LENGTH);
  const tagStart = packet.length - DISCO_TAG_LENGTH;
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('chacha20-poly1305', keys.open, nonce, {
      authTagLength: DISCO_TAG_LENGTH,
    });
    decipher.setAAD(packet.subarray(0, DISCO_HEADER_LENGTH), {
      plaintextLength: tagStart - DISCO_HEADER_LENGTH,
    });
    decipher.setAuthTag(packet.subarray(tagStart));
    plain = Buffer.concat([
      decipher.update(packet.subarray(DISCO_HEADER_LENGTH, tagStart)),
      decipher.final(),
    ]);
  } catch {
    return decodeError('auth-failed', 'disco packet failed authentication');
  }
  const message = decodeDiscoMessage(plain);
  if (!message.ok) return message;
  return ok({ sender, message: message.value });
}
