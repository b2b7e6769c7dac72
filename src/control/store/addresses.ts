/**
 * Address plan for a network: IPv4 host indexes inside the network's prefix (100.64.0.0/10 by
 * default), and a stable IPv6 per device inside the network's ULA /48.
 */
import { randomBytes } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { CGNAT_PREFIX, ULA_GLOBAL_ID_BYTES, ulaPrefixFromRandom } from '../../shared/ip.js';
import { err, ok, type Result } from '../../shared/result.js';

export const DEFAULT_IPV4_PREFIX = CGNAT_PREFIX;

/** Quad-100 answers MagicDNS on every device, so no device may hold it. */
export const MAGIC_DNS_IPV4 = '100.100.100.100';

/** The smallest prefix that leaves room for devices after the reserved addresses. */
const MAX_IPV4_PREFIX_LENGTH = 30;

export interface Ipv4Plan {
  /** The network address as a 32-bit unsigned integer. */
  readonly base: number;
  /** Number of addresses in the prefix (network and broadcast included). */
  readonly size: number;
  /** Host indexes that are never assigned, ascending. */
  readonly reserved: readonly number[];
}

const u32 = (bytes: readonly number[]): number =>
  ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;

export function parseIpv4Prefix(cidr: string): Result<Ipv4Plan, 'invalid_prefix'> {
  if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr)) return err('invalid_prefix');
  const [addr, len] = ipaddr.IPv4.parseCIDR(cidr);
  if (len > MAX_IPV4_PREFIX_LENGTH) return err('invalid_prefix');
  const base = u32(addr.octets);
  const size = 2 ** (32 - len);
  if (base % size !== 0) return err('invalid_prefix'); // host bits set: not a network address
  const reserved = new Set<number>([0, size - 1]); // network and broadcast addresses
  const quad100 = u32(ipaddr.IPv4.parse(MAGIC_DNS_IPV4).octets) - base;
  if (quad100 >= 0 && quad100 < size) reserved.add(quad100);
  return ok({ base, size, reserved: [...reserved].sort((a, b) => a - b) });
}

export function isAssignable(plan: Ipv4Plan, index: number): boolean {
  return index > 0 && index < plan.size - 1 && !plan.reserved.includes(index);
}

export function ipv4At(plan: Ipv4Plan, index: number): string {
  const v = (plan.base + index) >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/**
 * The lowest assignable index among `candidates` that is not in `used`, or null. The allocator
 * feeds it the gaps the database found plus the first index after each reserved one.
 */
export function lowestFree(
  plan: Ipv4Plan,
  candidates: Iterable<number>,
  used: ReadonlySet<number>,
): number | null {
  let best: number | null = null;
  for (const c of candidates) {
    if (!isAssignable(plan, c) || used.has(c)) continue;
    if (best === null || c < best) best = c;
  }
  return best;
}

/** A fresh RFC 4193 ULA /48: fd00::/8 followed by a 40-bit random global ID. */
export function randomUlaPrefix(): string {
  return ulaPrefixFromRandom(randomBytes(ULA_GLOBAL_ID_BYTES));
}

export function isUla48(cidr: string): boolean {
  if (!ipaddr.IPv6.isValidCIDR(cidr)) return false;
  const [addr, len] = ipaddr.IPv6.parseCIDR(cidr);
  if (len !== 48 || addr.range() !== 'uniqueLocal') return false;
  return addr.parts.slice(3).every((p) => p === 0);
}

/**
 * The device's IPv6: the network's /48, then zeros, then its IPv4 address in the low 32 bits
 * (fdxx:xxxx:xxxx::6440:1 for 100.64.0.1). Stable for the device's lifetime and unique exactly
 * when its IPv4 is.
 */
export function ipv6For(ula48: string, ipv4: string): string {
  const [prefix] = ipaddr.IPv6.parseCIDR(ula48);
  const v4 = ipaddr.IPv4.parse(ipv4).octets;
  const parts = [
    prefix.parts[0]!,
    prefix.parts[1]!,
    prefix.parts[2]!,
    0,
    0,
    0,
    (v4[0]! << 8) | v4[1]!,
    (v4[2]! << 8) | v4[3]!,
  ];
  return new ipaddr.IPv6(parts).toString();
}
