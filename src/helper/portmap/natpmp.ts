/**
 * NAT-PMP (RFC 6886): the gateway's public address and UDP port mappings, over UDP 5351. Only
 * the codec lives here; bytes from the gateway are untrusted, so decoding returns a typed error.
 */
import { decodeError, ok, type DecodeError, type Result } from '../../shared/result.js';

export const NATPMP_VERSION = 0;
export const OP_EXTERNAL_ADDRESS = 0;
export const OP_MAP_UDP = 1;
/** Responses set the high bit of the request's opcode (RFC 6886 §3.2, §3.3). */
const RESPONSE_BIT = 128;

/** RFC 6886 §3.5 result codes. */
export const NATPMP_RESULT = {
  success: 0,
  unsupportedVersion: 1,
  notAuthorized: 2,
  networkFailure: 3,
  outOfResources: 4,
  unsupportedOpcode: 5,
} as const;

export type NatPmpErrorCode =
  'too-short' | 'bad-version' | 'not-a-response' | 'unknown-opcode' | 'bad-length' | 'result-code';
export type NatPmpError = DecodeError<NatPmpErrorCode> & { readonly resultCode?: number };

export type NatPmpResponse =
  | { readonly op: 'external-address'; readonly epoch: number; readonly address: string }
  | {
      readonly op: 'map-udp';
      readonly epoch: number;
      readonly internalPort: number;
      readonly externalPort: number;
      readonly lifetimeSec: number;
    };

export function encodeExternalAddressRequest(): Uint8Array {
  return Uint8Array.of(NATPMP_VERSION, OP_EXTERNAL_ADDRESS);
}

/** A UDP mapping request; lifetime 0 with external port 0 deletes the mapping (§3.4). */
export function encodeMapUdpRequest(
  internalPort: number,
  suggestedExternalPort: number,
  lifetimeSec: number,
): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint8(0, NATPMP_VERSION);
  v.setUint8(1, OP_MAP_UDP);
  v.setUint16(4, internalPort);
  v.setUint16(6, suggestedExternalPort);
  v.setUint32(8, lifetimeSec);
  return b;
}

export function decodeNatPmpResponse(packet: Uint8Array): Result<NatPmpResponse, NatPmpError> {
  if (packet.length < 8) return decodeError('too-short', `${packet.length} bytes`);
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  if (v.getUint8(0) !== NATPMP_VERSION) {
    return decodeError('bad-version', `version ${v.getUint8(0)}`);
  }
  const op = v.getUint8(1);
  if (op < RESPONSE_BIT) return decodeError('not-a-response', `opcode ${op}`);
  const resultCode = v.getUint16(2);
  if (resultCode !== NATPMP_RESULT.success) {
    return {
      ok: false,
      error: { code: 'result-code', message: `result code ${resultCode}`, resultCode },
    };
  }
  const epoch = v.getUint32(4);
  switch (op - RESPONSE_BIT) {
    case OP_EXTERNAL_ADDRESS:
      if (packet.length !== 12) return decodeError('bad-length', `${packet.length} bytes`);
      return ok({ op: 'external-address', epoch, address: [...packet.subarray(8, 12)].join('.') });
    case OP_MAP_UDP:
      if (packet.length !== 16) return decodeError('bad-length', `${packet.length} bytes`);
      return ok({
        op: 'map-udp',
        epoch,
        internalPort: v.getUint16(8),
        externalPort: v.getUint16(10),
        lifetimeSec: v.getUint32(12),
      });
    default:
      return decodeError('unknown-opcode', `opcode ${op}`);
  }
}
