/**
 * PCP (RFC 6887), the successor of NAT-PMP on the same port 5351: ANNOUNCE (to probe) and MAP
 * for UDP over IPv4 (addresses travel as IPv4-mapped IPv6). Only the codec lives here; bytes
 * from the gateway are untrusted, so decoding returns a typed error.
 */
import ipaddr from 'ipaddr.js';
import { decodeError, ok, type DecodeError, type Result } from '../../shared/result.js';

export const PCP_VERSION = 2;
export const PCP_OP_ANNOUNCE = 0;
export const PCP_OP_MAP = 1;
const RESPONSE_BIT = 0x80;
const HEADER_LENGTH = 24;
const MAP_LENGTH = 36;
export const PCP_NONCE_LENGTH = 12;
const IPPROTO_UDP = 17;

/** RFC 6887 §7.4 result codes (the ones a client acts on). */
export const PCP_RESULT = {
  success: 0,
  unsupportedVersion: 1,
  notAuthorized: 2,
  malformedRequest: 3,
  unsupportedOpcode: 4,
  networkFailure: 7,
  noResources: 8,
  unsupportedProtocol: 9,
  cannotProvideExternal: 11,
  addressMismatch: 12,
} as const;

export type PcpErrorCode =
  | 'too-short'
  | 'bad-version'
  | 'not-a-response'
  | 'unknown-opcode'
  | 'bad-length'
  | 'bad-address'
  | 'result-code';
export type PcpError = DecodeError<PcpErrorCode> & { readonly resultCode?: number };

export type PcpResponse =
  | { readonly op: 'announce'; readonly epoch: number; readonly lifetimeSec: number }
  | {
      readonly op: 'map';
      readonly epoch: number;
      readonly lifetimeSec: number;
      readonly nonce: Uint8Array;
      readonly protocol: number;
      readonly internalPort: number;
      readonly externalPort: number;
      /** Dotted IPv4 when the address is IPv4-mapped, else IPv6 text. */
      readonly externalAddress: string;
    };

function mapped(ipv4: string): Uint8Array {
  return Uint8Array.from(ipaddr.IPv4.parse(ipv4).toIPv4MappedAddress().toByteArray());
}

function header(op: number, lifetimeSec: number, clientIpv4: string, extra: number): Uint8Array {
  const b = new Uint8Array(HEADER_LENGTH + extra);
  const v = new DataView(b.buffer);
  v.setUint8(0, PCP_VERSION);
  v.setUint8(1, op);
  v.setUint32(4, lifetimeSec);
  b.set(mapped(clientIpv4), 8);
  return b;
}

/** ANNOUNCE: a request a PCP server answers with its epoch, a cheap probe (§14.1). */
export function encodeAnnounceRequest(clientIpv4: string): Uint8Array {
  return header(PCP_OP_ANNOUNCE, 0, clientIpv4, 0);
}

/**
 * MAP for UDP from clientIpv4:internalPort. Lifetime 0 deletes (§15); the nonce must be the one
 * that created the mapping.
 */
export function encodeMapRequest(options: {
  readonly clientIpv4: string;
  readonly nonce: Uint8Array;
  readonly internalPort: number;
  readonly suggestedExternalPort: number;
  readonly suggestedExternalIpv4: string | null;
  readonly lifetimeSec: number;
}): Uint8Array {
  if (options.nonce.length !== PCP_NONCE_LENGTH) throw new RangeError('PCP nonce is 12 bytes');
  const b = header(PCP_OP_MAP, options.lifetimeSec, options.clientIpv4, MAP_LENGTH);
  const v = new DataView(b.buffer);
  b.set(options.nonce, HEADER_LENGTH);
  v.setUint8(HEADER_LENGTH + 12, IPPROTO_UDP);
  v.setUint16(HEADER_LENGTH + 16, options.internalPort);
  v.setUint16(HEADER_LENGTH + 18, options.suggestedExternalPort);
  // All zeros (::) means "no preference"; ::ffff:0.0.0.0 the same for IPv4 (§11.1).
  b.set(mapped(options.suggestedExternalIpv4 ?? '0.0.0.0'), HEADER_LENGTH + 20);
  return b;
}

export function decodePcpResponse(packet: Uint8Array): Result<PcpResponse, PcpError> {
  // The version first: a NAT-PMP-only server answers with a (shorter) version-0 packet.
  if (packet.length > 0 && packet[0] !== PCP_VERSION) {
    return decodeError('bad-version', `version ${packet[0]}`);
  }
  if (packet.length < HEADER_LENGTH) return decodeError('too-short', `${packet.length} bytes`);
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const opByte = v.getUint8(1);
  if ((opByte & RESPONSE_BIT) === 0) return decodeError('not-a-response', `opcode ${opByte}`);
  const resultCode = v.getUint8(3);
  if (resultCode !== PCP_RESULT.success) {
    return {
      ok: false,
      error: { code: 'result-code', message: `result code ${resultCode}`, resultCode },
    };
  }
  const lifetimeSec = v.getUint32(4);
  const epoch = v.getUint32(8);
  switch (opByte & ~RESPONSE_BIT) {
    case PCP_OP_ANNOUNCE:
      return ok({ op: 'announce', epoch, lifetimeSec });
    case PCP_OP_MAP: {
      // Options may follow the opcode data (§7.3); we ask for none and ignore any.
      if (packet.length < HEADER_LENGTH + MAP_LENGTH) {
        return decodeError('bad-length', `${packet.length} bytes`);
      }
      const o = HEADER_LENGTH;
      const addr = ipaddr.fromByteArray([...packet.subarray(o + 20, o + 36)]);
      const external =
        addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
          ? (addr as ipaddr.IPv6).toIPv4Address().toString()
          : addr.toString();
      if (external === '0.0.0.0' || external === '::') {
        return decodeError('bad-address', 'no external address assigned');
      }
      return ok({
        op: 'map',
        epoch,
        lifetimeSec,
        nonce: packet.slice(o, o + PCP_NONCE_LENGTH),
        protocol: v.getUint8(o + 12),
        internalPort: v.getUint16(o + 16),
        externalPort: v.getUint16(o + 18),
        externalAddress: external,
      });
    }
    default:
      return decodeError('unknown-opcode', `opcode ${opByte}`);
  }
}
