import { type Addr, addrFromBytes, addressBytes } from './address.js';
import { MAGIC_COOKIE, MAX_TEXT_BYTES } from './constants.js';
import type { TransactionId } from './message.js';
import { type DecodeError, type Result, decodeError, ok } from '../result.js';

/** Value codecs for the attributes Trellis interprets (RFC 8489 §14). */

const FAMILY_IPV4 = 0x01;
const FAMILY_IPV6 = 0x02;
/** Reserved byte, family byte, 16-bit port, then the address. */
const ADDRESS_VALUE_PREFIX_BYTES = 4;
const MAX_PORT = 0xffff;

const textDecoder = new TextDecoder('utf-8'); // non-fatal: bad UTF-8 becomes U+FFFD, never throws
const textEncoder = new TextEncoder();

export type AttributeErrorCode = 'bad-attribute';

/**
 * The XOR mask of XOR-MAPPED-ADDRESS: the magic cookie, then (for IPv6) the transaction id. The
 * port is XORed with the cookie's top 16 bits, which are the mask's first two bytes.
 */
function xorMask(transactionId: TransactionId): Uint8Array {
  const mask = new Uint8Array(16);
  new DataView(mask.buffer).setUint32(0, MAGIC_COOKIE);
  mask.set(transactionId, 4);
  return mask;
}

/** MAPPED-ADDRESS, or XOR-MAPPED-ADDRESS when `xorWith` is the message's transaction id. */
export function decodeAddressValue(
  value: Uint8Array,
  xorWith?: TransactionId,
): Result<Addr, DecodeError<AttributeErrorCode>> {
  if (value.length < ADDRESS_VALUE_PREFIX_BYTES) {
    return decodeError('bad-attribute', `address attribute of ${value.length} bytes`);
  }
  const family = value[1];
  const addressLength = family === FAMILY_IPV4 ? 4 : family === FAMILY_IPV6 ? 16 : 0;
  if (addressLength === 0) return decodeError('bad-attribute', `address family ${family}`);
  if (value.length !== ADDRESS_VALUE_PREFIX_BYTES + addressLength) {
    return decodeError(
      'bad-attribute',
      `IPv${family === FAMILY_IPV4 ? 4 : 6} address of ${value.length} bytes`,
    );
  }
  const mask = xorWith === undefined ? new Uint8Array(16) : xorMask(xorWith);
  const port =
    (((value[2] as number) << 8) | (value[3] as number)) ^
    (((mask[0] as number) << 8) | (mask[1] as number));
  const address = new Uint8Array(addressLength);
  for (let i = 0; i < addressLength; i++) {
    address[i] = (value[ADDRESS_VALUE_PREFIX_BYTES + i] as number) ^ (mask[i] as number);
  }
  return ok(addrFromBytes(address, port));
}

/** @throws RangeError when `addr` is not a literal of its family or the port is out of range. */
export function encodeAddressValue(addr: Addr, xorWith?: TransactionId): Uint8Array {
  const address = addressBytes(addr.address, addr.family);
  if (address === undefined)
    throw new RangeError(`not an IPv${addr.family} literal: ${addr.address}`);
  if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > MAX_PORT) {
    throw new RangeError(`port out of range: ${addr.port}`);
  }
  const mask = xorWith === undefined ? new Uint8Array(16) : xorMask(xorWith);
  const value = new Uint8Array(ADDRESS_VALUE_PREFIX_BYTES + address.length);
  value[1] = addr.family === 4 ? FAMILY_IPV4 : FAMILY_IPV6;
  value[2] = (addr.port >> 8) ^ (mask[0] as number);
  value[3] = (addr.port & 0xff) ^ (mask[1] as number);
  for (let i = 0; i < address.length; i++) {
    value[ADDRESS_VALUE_PREFIX_BYTES + i] = (address[i] as number) ^ (mask[i] as number);
  }
  return value;
}

/** SOFTWARE and the ERROR-CODE reason: UTF-8 text, decoded leniently. */
export function decodeText(value: Uint8Array): string {
  return textDecoder.decode(value);
}

/** @throws RangeError when the text exceeds the RFC's 763-byte limit. */
export function encodeText(text: string): Uint8Array {
  const bytes = textEncoder.encode(text);
  if (bytes.length > MAX_TEXT_BYTES) throw new RangeError(`text of ${bytes.length} bytes`);
  return bytes;
}

/** ERROR-CODE: 21 reserved bits, class (hundreds, 3..6), number (0..99), then the reason. */
const ERROR_CODE_PREFIX_BYTES = 4;
const MIN_ERROR_CODE = 300;
const MAX_ERROR_CODE = 699;

export function decodeErrorCodeValue(
  value: Uint8Array,
): Result<{ code: number; reason: string }, DecodeError<AttributeErrorCode>> {
  if (value.length < ERROR_CODE_PREFIX_BYTES) {
    return decodeError('bad-attribute', `ERROR-CODE of ${value.length} bytes`);
  }
  const hundreds = (value[2] as number) & 0x07;
  const number = value[3] as number;
  const code = hundreds * 100 + number;
  if (number > 99 || code < MIN_ERROR_CODE || code > MAX_ERROR_CODE) {
    return decodeError('bad-attribute', `ERROR-CODE class ${hundreds} number ${number}`);
  }
  return ok({ code, reason: decodeText(value.subarray(ERROR_CODE_PREFIX_BYTES)) });
}

/** @throws RangeError for a code outside 300..699 or an over-long reason. */
export function encodeErrorCodeValue(code: number, reason: string): Uint8Array {
  if (!Number.isInteger(code) || code < MIN_ERROR_CODE || code > MAX_ERROR_CODE) {
    throw new RangeError(`error code out of range: ${code}`);
  }
  const text = encodeText(reason);
  const value = new Uint8Array(ERROR_CODE_PREFIX_BYTES + text.length);
  value[2] = Math.floor(code / 100);
  value[3] = code % 100;
  value.set(text, ERROR_CODE_PREFIX_BYTES);
  return value;
}
