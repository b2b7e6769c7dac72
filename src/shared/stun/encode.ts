import type { Addr } from './address.js';
import { encodeAddressValue, encodeErrorCodeValue, encodeText } from './attributes.js';
import {
  ATTR,
  ATTRIBUTE_HEADER_BYTES,
  FINGERPRINT_XOR,
  HEADER_BYTES,
  MAGIC_COOKIE,
  METHOD_BINDING,
  TRANSACTION_ID_BYTES,
} from './constants.js';
import { crc32 } from './crc32.js';
import type { StunAttribute, StunMessage, TransactionId } from './message.js';
import { MAX_METHOD, encodeMessageType } from './message-type.js';

const FINGERPRINT_ATTRIBUTE_BYTES = ATTRIBUTE_HEADER_BYTES + 4;
const MAX_MESSAGE_LENGTH = 0xffff;

function attributeWire(
  attribute: StunAttribute,
  transactionId: TransactionId,
): [number, Uint8Array] {
  switch (attribute.kind) {
    case 'xor-mapped-address':
      return [ATTR.XOR_MAPPED_ADDRESS, encodeAddressValue(attribute.address, transactionId)];
    case 'mapped-address':
      return [ATTR.MAPPED_ADDRESS, encodeAddressValue(attribute.address)];
    case 'software':
      return [ATTR.SOFTWARE, encodeText(attribute.value)];
    case 'error-code':
      return [ATTR.ERROR_CODE, encodeErrorCodeValue(attribute.code, attribute.reason)];
    case 'unknown':
      return [attribute.type, attribute.value];
  }
}

/**
 * Encodes a message with zero padding and, if `message.fingerprint`, a trailing FINGERPRINT.
 * Input is our own data, so a programming error (bad id length, address literal, oversize
 * message) throws RangeError rather than producing a malformed packet.
 */
export function encodeStun(message: StunMessage): Uint8Array {
  if (message.transactionId.length !== TRANSACTION_ID_BYTES) {
    throw new RangeError(`transaction id of ${message.transactionId.length} bytes`);
  }
  if (!Number.isInteger(message.method) || message.method < 0 || message.method > MAX_METHOD) {
    throw new RangeError(`method out of range: ${message.method}`);
  }
  const wire = message.attributes.map((a) => attributeWire(a, message.transactionId));
  let length = 0;
  for (const [type, value] of wire) {
    if (type < 0 || type > 0xffff || value.length > MAX_MESSAGE_LENGTH) {
      throw new RangeError(`attribute 0x${type.toString(16)} of ${value.length} bytes`);
    }
    length += ATTRIBUTE_HEADER_BYTES + ((value.length + 3) & ~3);
  }
  if (message.fingerprint) length += FINGERPRINT_ATTRIBUTE_BYTES;
  if (length > MAX_MESSAGE_LENGTH) throw new RangeError(`message length ${length}`);

  const bytes = new Uint8Array(HEADER_BYTES + length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, encodeMessageType(message.method, message.cls));
  view.setUint16(2, length);
  view.setUint32(4, MAGIC_COOKIE);
  bytes.set(message.transactionId, 8);
  let offset = HEADER_BYTES;
  for (const [type, value] of wire) {
    view.setUint16(offset, type);
    view.setUint16(offset + 2, value.length);
    bytes.set(value, offset + ATTRIBUTE_HEADER_BYTES);
    offset += ATTRIBUTE_HEADER_BYTES + ((value.length + 3) & ~3);
  }
  if (message.fingerprint) {
    view.setUint16(offset, ATTR.FINGERPRINT);
    view.setUint16(offset + 2, 4);
    view.setUint32(offset + 4, (crc32(bytes.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0);
  }
  return bytes;
}

export interface EncodeOptions {
  /** SOFTWARE attribute value; omitted when undefined. */
  readonly software?: string;
  /** Append FINGERPRINT (default true: it makes demux on a shared socket unambiguous). */
  readonly fingerprint?: boolean;
}

function softwareAttribute(options: EncodeOptions): StunAttribute[] {
  return options.software === undefined ? [] : [{ kind: 'software', value: options.software }];
}

export function encodeBindingRequest(
  transactionId: TransactionId,
  options: EncodeOptions = {},
): Uint8Array {
  return encodeStun({
    method: METHOD_BINDING,
    cls: 'request',
    transactionId,
    attributes: softwareAttribute(options),
    fingerprint: options.fingerprint ?? true,
  });
}

export interface BindingSuccessOptions extends EncodeOptions {
  /** Also send MAPPED-ADDRESS for RFC 3489-era clients that ignore XOR-MAPPED-ADDRESS. */
  readonly legacyMappedAddress?: boolean;
}

export function encodeBindingSuccess(
  transactionId: TransactionId,
  mapped: Addr,
  options: BindingSuccessOptions = {},
): Uint8Array {
  const attributes: StunAttribute[] = [{ kind: 'xor-mapped-address', address: mapped }];
  if (options.legacyMappedAddress) attributes.push({ kind: 'mapped-address', address: mapped });
  attributes.push(...softwareAttribute(options));
  return encodeStun({
    method: METHOD_BINDING,
    cls: 'success',
    transactionId,
    attributes,
    fingerprint: options.fingerprint ?? true,
  });
}

export function encodeBindingError(
  transactionId: TransactionId,
  code: number,
  reason: string,
  options: EncodeOptions = {},
): Uint8Array {
  return encodeStun({
    method: METHOD_BINDING,
    cls: 'error',
    transactionId,
    attributes: [{ kind: 'error-code', code, reason }, ...softwareAttribute(options)],
    fingerprint: options.fingerprint ?? true,
  });
}
