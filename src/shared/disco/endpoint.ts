/**
 * UDP endpoints (IP + port) as carried inside disco messages:
 *   family (1: 4 or 6) | address (4 or 16 bytes) | port (2, big-endian, non-zero)
 * In memory they are the shared `IpPort` (../ip.ts): canonical address text, family, port.
 */
import ipaddr from 'ipaddr.js';
import { formatIp, ipFamily, parseIp, type IpPort } from '../ip.js';
import { decodeError, ok, type DecodeError, type Result } from '../result.js';

export type EndpointErrorCode = 'truncated' | 'bad-endpoint';

export const FAMILY_IPV4 = 4;
export const FAMILY_IPV6 = 6;

/** Largest encoded endpoint (IPv6): family + 16 + port. */
export const MAX_ENDPOINT_BYTES = 1 + 16 + 2;

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 0xffff;
}

/** Address bytes of a valid endpoint; throws RangeError on an invalid one (a caller bug). */
function endpointBytes(ep: IpPort): number[] {
  const a = parseIp(ep.ip);
  if (!a.ok || !validPort(ep.port)) throw new RangeError(`invalid endpoint ${ep.ip}:${ep.port}`);
  return a.value.toByteArray();
}

export function isValidEndpoint(ep: IpPort): boolean {
  return validPort(ep.port) && parseIp(ep.ip).ok;
}

/** Encoded size of an endpoint; throws RangeError on an invalid endpoint. */
export function endpointSize(ep: IpPort): number {
  return 1 + endpointBytes(ep).length + 2;
}

/** Writes the endpoint at `off`, returns the next offset. Throws RangeError on invalid input. */
export function writeEndpoint(buf: Uint8Array, off: number, ep: IpPort): number {
  const b = endpointBytes(ep);
  buf[off] = b.length === 4 ? FAMILY_IPV4 : FAMILY_IPV6;
  buf.set(b, off + 1);
  const p = off + 1 + b.length;
  buf[p] = ep.port >> 8;
  buf[p + 1] = ep.port & 0xff;
  return p + 2;
}

export function readEndpoint(
  buf: Uint8Array,
  off: number,
): Result<{ endpoint: IpPort; next: number }, DecodeError<EndpointErrorCode>> {
  if (off >= buf.length) return decodeError('truncated', 'endpoint family missing');
  const family = buf[off];
  const len = family === FAMILY_IPV4 ? 4 : family === FAMILY_IPV6 ? 16 : 0;
  if (len === 0) return decodeError('bad-endpoint', `unknown address family ${family}`);
  const end = off + 1 + len + 2;
  if (end > buf.length) return decodeError('truncated', 'endpoint truncated');
  const port = ((buf[end - 2] ?? 0) << 8) | (buf[end - 1] ?? 0);
  if (port === 0) return decodeError('bad-endpoint', 'endpoint port 0');
  const addr = ipaddr.fromByteArray(Array.from(buf.subarray(off + 1, off + 1 + len)));
  return ok({ endpoint: { ip: formatIp(addr), family: ipFamily(addr), port }, next: end });
}
