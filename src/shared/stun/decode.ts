import { decodeAddressValue, decodeErrorCodeValue, decodeText } from './attributes.js';
import {
  ATTR,
  ATTRIBUTE_HEADER_BYTES,
  FINGERPRINT_XOR,
  HEADER_BYTES,
  MAGIC_COOKIE,
  MAX_ATTRIBUTES,
} from './constants.js';
import { crc32 } from './crc32.js';
import type { StunAttribute, StunMessage, TransactionId } from './message.js';
import { decodeMessageType } from './message-type.js';
import { type DecodeError, type Result, decodeError, ok } from '../result.js';

export type StunDecodeErrorCode =
  | 'truncated'
  | 'not-stun'
  | 'bad-length'
  | 'too-many-attributes'
  | 'bad-attribute'
  | 'bad-fingerprint';
export type StunDecodeError = DecodeError<StunDecodeErrorCode>;

const FINGERPRINT_VALUE_BYTES = 4;
/** WireGuard message types are 1..4 (initiation, response, cookie reply, transport data). */
const WIREGUARD_MAX_TYPE = 4;

/**
 * A plain Uint8Array copy. Not `bytes.slice()`: on a Node Buffer (what dgram hands us) that is a
 * view into the caller's memory, and a Buffer, not a Uint8Array.
 */
function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function u16(bytes: Uint8Array, at: number): number {
  return (((bytes[at] as number) << 8) | (bytes[at + 1] as number)) >>> 0;
}

function u32(bytes: Uint8Array, at: number): number {
  return ((u16(bytes, at) << 16) | u16(bytes, at + 2)) >>> 0;
}

/**
 * A WireGuard packet starts with a type byte 1..4 and three reserved zero bytes. Its length alone
 * already rules out STUN, but magicsock demuxes WireGuard, disco and STUN on one socket, so we
 * exclude the shape explicitly: no valid Binding message starts like this (its first byte is 0x00
 * or 0x01 and the second carries method/class bits).
 */
function looksLikeWireGuard(packet: Uint8Array): boolean {
  const type = packet[0] as number;
  return (
    type >= 1 && type <= WIREGUARD_MAX_TYPE && packet[1] === 0 && packet[2] === 0 && packet[3] === 0
  );
}

/**
 * Cheap demux check for a datagram: top two bits zero, the magic cookie, and a length field that
 * is a multiple of 4 and matches the datagram exactly. Does not look at attributes.
 */
export function isStun(packet: Uint8Array): boolean {
  if (packet.length < HEADER_BYTES || looksLikeWireGuard(packet)) return false;
  if (((packet[0] as number) & 0xc0) !== 0 || u32(packet, 4) !== MAGIC_COOKIE) return false;
  const length = u16(packet, 2);
  return length % 4 === 0 && HEADER_BYTES + length === packet.length;
}

/**
 * Decodes one STUN message from a whole UDP datagram. Never throws; reads only inside `bytes`;
 * allocates at most a copy of the input. A FINGERPRINT, when present, must be last and valid.
 * Unknown attributes are returned raw (comprehension-required ones too: the caller decides).
 */
export function decodeStun(bytes: Uint8Array): Result<StunMessage, StunDecodeError> {
  if (bytes.length < HEADER_BYTES) {
    return decodeError('truncated', `${bytes.length} bytes is shorter than the STUN header`);
  }
  if (((bytes[0] as number) & 0xc0) !== 0) return decodeError('not-stun', 'leading bits not zero');
  if (u32(bytes, 4) !== MAGIC_COOKIE) return decodeError('not-stun', 'no magic cookie');
  if (looksLikeWireGuard(bytes)) return decodeError('not-stun', 'WireGuard header');
  const length = u16(bytes, 2);
  if (length % 4 !== 0) return decodeError('bad-length', `length ${length} not a multiple of 4`);
  if (HEADER_BYTES + length > bytes.length) {
    return decodeError('truncated', `length ${length} exceeds the ${bytes.length}-byte datagram`);
  }
  if (HEADER_BYTES + length < bytes.length) {
    return decodeError('bad-length', `${bytes.length - HEADER_BYTES - length} trailing bytes`);
  }

  const { method, cls } = decodeMessageType(u16(bytes, 0));
  const transactionId: TransactionId = copy(bytes.subarray(8, HEADER_BYTES));
  const attributes: StunAttribute[] = [];
  let fingerprint = false;
  let count = 0;
  for (let offset = HEADER_BYTES; offset < bytes.length;) {
    if (fingerprint) return decodeError('bad-attribute', 'attribute after FINGERPRINT');
    if (++count > MAX_ATTRIBUTES) {
      return decodeError('too-many-attributes', `more than ${MAX_ATTRIBUTES} attributes`);
    }
    if (bytes.length - offset < ATTRIBUTE_HEADER_BYTES) {
      return decodeError('truncated', `attribute header at ${offset}`);
    }
    const type = u16(bytes, offset);
    const valueLength = u16(bytes, offset + 2);
    const valueStart = offset + ATTRIBUTE_HEADER_BYTES;
    const paddedLength = (valueLength + 3) & ~3;
    if (paddedLength > bytes.length - valueStart) {
      return decodeError('truncated', `attribute 0x${type.toString(16)} of ${valueLength} bytes`);
    }
    const value = bytes.subarray(valueStart, valueStart + valueLength);

    if (type === ATTR.FINGERPRINT) {
      if (valueLength !== FINGERPRINT_VALUE_BYTES) {
        return decodeError('bad-attribute', `FINGERPRINT of ${valueLength} bytes`);
      }
      const expected = (crc32(bytes.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0;
      if (u32(bytes, valueStart) !== expected)
        return decodeError('bad-fingerprint', 'CRC mismatch');
      fingerprint = true;
    } else {
      const attribute = decodeAttribute(type, value, transactionId);
      if (!attribute.ok) return attribute;
      attributes.push(attribute.value);
    }
    offset = valueStart + paddedLength;
  }
  return ok({ method, cls, transactionId, attributes, fingerprint });
}

function decodeAttribute(
  type: number,
  value: Uint8Array,
  transactionId: TransactionId,
): Result<StunAttribute, StunDecodeError> {
  switch (type) {
    case ATTR.XOR_MAPPED_ADDRESS: {
      const address = decodeAddressValue(value, transactionId);
      return address.ok ? ok({ kind: 'xor-mapped-address', address: address.value }) : address;
    }
    case ATTR.MAPPED_ADDRESS: {
      const address = decodeAddressValue(value);
      return address.ok ? ok({ kind: 'mapped-address', address: address.value }) : address;
    }
    case ATTR.SOFTWARE:
      return ok({ kind: 'software', value: decodeText(value) });
    case ATTR.ERROR_CODE: {
      const error = decodeErrorCodeValue(value);
      return error.ok ? ok({ kind: 'error-code', ...error.value }) : error;
    }
    default:
      return ok({ kind: 'unknown', type, value: copy(value) });
  }
}
