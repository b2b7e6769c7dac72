import ipaddr from 'ipaddr.js';

/** A transport address as STUN reports it. `address` is canonical text (RFC 5952 for IPv6). */
export interface Addr {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

const IPV4_BYTES = 4;

/** Address bytes (4 or 16) to an Addr. Only called with a length the caller checked. */
export function addrFromBytes(bytes: Uint8Array, port: number): Addr {
  if (bytes.length === IPV4_BYTES) {
    return { address: ipaddr.fromByteArray(Array.from(bytes)).toString(), port, family: 4 };
  }
  const ip = ipaddr.fromByteArray(Array.from(bytes)) as ipaddr.IPv6; // 16 bytes: always IPv6
  return { address: ipv6Text(ip), port, family: 6 };
}

/** RFC 5952 text, with the dotted tail for IPv4-mapped addresses (§5), as Node writes them. */
function ipv6Text(ip: ipaddr.IPv6): string {
  return ip.isIPv4MappedAddress() ? `::ffff:${ip.toIPv4Address().toString()}` : ip.toString();
}

/**
 * The network-order bytes of an address literal, or undefined when it is not one. Strict about
 * IPv4 (dotted quad only: ipaddr.js alone would accept "127.1") and ignores an IPv6 zone ("%eth0").
 */
export function addressBytes(address: string, family: 4 | 6): Uint8Array | undefined {
  if (family === 4) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(address)) return undefined;
    return Uint8Array.from(ipaddr.IPv4.parse(address).toByteArray());
  }
  const withoutZone = address.split('%', 1)[0] ?? '';
  if (!ipaddr.IPv6.isValid(withoutZone)) return undefined;
  return Uint8Array.from(ipaddr.IPv6.parse(withoutZone).toByteArray());
}

/**
 * The Addr of a datagram's source as Node's dgram reports it (`rinfo.address`, `rinfo.port`).
 * An IPv4-mapped IPv6 source (seen on dual-stack sockets) is reported as the IPv4 address, since
 * that is what the peer's NAT and the peer itself see. Returns undefined for a non-literal.
 */
export function addrFromRemote(address: string, port: number): Addr | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(address)) {
    return { address: ipaddr.IPv4.parse(address).toString(), port, family: 4 };
  }
  const withoutZone = address.split('%', 1)[0] ?? '';
  if (!ipaddr.IPv6.isValid(withoutZone)) return undefined;
  const ip = ipaddr.IPv6.parse(withoutZone);
  if (ip.isIPv4MappedAddress()) return { address: ip.toIPv4Address().toString(), port, family: 4 };
  return { address: ipv6Text(ip), port, family: 6 };
}
