/**
 * Row ids: a short kind prefix (so an id in a log says what it names) and 128 random bits in
 * lower-case base32 (URL- and DNS-safe, case-insensitive filesystems cannot confuse two ids).
 */
import { randomBytes } from 'node:crypto';

export type IdKind = 'net' | 'usr' | 'ses' | 'lgn' | 'pak' | 'dev' | 'api';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const ID_RANDOM_BYTES = 16;

export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

export function newId(kind: IdKind): string {
  return `${kind}_${base32(randomBytes(ID_RANDOM_BYTES))}`;
}
