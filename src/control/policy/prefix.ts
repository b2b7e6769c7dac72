/**
 * Prefix arithmetic for the policy engine: addresses and prefixes as bigints, so containment and
 * overlap are two shifts and a compare instead of ipaddr.js object calls. Compilation runs these
 * tests for every (device, rule) pair, so they sit on the hot path at 10,000 devices.
 */
import { formatIp, ipFromBigInt, ipToBigInt, parseIp, parsePrefix } from '../../shared/ip.js';
import { ok, type Result } from '../../shared/result.js';
import type { IpError } from '../../shared/ip.js';

export interface Addr {
  readonly v6: boolean;
  readonly value: bigint;
}

/** A prefix with host bits zero; `text` is its canonical form ("10.0.0.0/24"). */
export interface Prefix {
  readonly v6: boolean;
  readonly net: bigint;
  readonly bits: number;
  readonly text: string;
}

const width = (v6: boolean): number => (v6 ? 128 : 32);

export function parseAddr(text: string): Result<Addr, IpError> {
  const r = parseIp(text);
  if (!r.ok) return r;
  return ok({ v6: r.value.kind() === 'ipv6', value: ipToBigInt(r.value) });
}

/** A strict prefix (host bits must be zero; the error names the intended prefix). */
export function parsePrefixText(text: string): Result<Prefix, IpError> {
  const r = parsePrefix(text);
  if (!r.ok) return r;
  const v6 = r.value.address.kind() === 'ipv6';
  return ok(makePrefix(v6, ipToBigInt(r.value.address), r.value.bits));
}

export function makePrefix(v6: boolean, value: bigint, bits: number): Prefix {
  const shift = BigInt(width(v6) - bits);
  const net = (value >> shift) << shift;
  const family = v6 ? 'ipv6' : 'ipv4';
  return { v6, net, bits, text: `${formatIp(ipFromBigInt(net, family))}/${bits}` };
}

/** The single-address prefix of an address: /32 or /128. */
export const hostPrefix = (a: Addr): Prefix => makePrefix(a.v6, a.value, width(a.v6));

export function containsAddr(p: Prefix, a: Addr): boolean {
  if (p.v6 !== a.v6) return false;
  const shift = BigInt(width(p.v6) - p.bits);
  return a.value >> shift === p.net >> shift;
}

/** Whether `outer` contains every address of `inner`. */
export function containsPrefix(outer: Prefix, inner: Prefix): boolean {
  if (outer.v6 !== inner.v6 || outer.bits > inner.bits) return false;
  const shift = BigInt(width(outer.v6) - outer.bits);
  return inner.net >> shift === outer.net >> shift;
}

export const overlaps = (a: Prefix, b: Prefix): boolean =>
  containsPrefix(a, b) || containsPrefix(b, a);

/** The addresses two prefixes share: the narrower one when they overlap (prefixes nest or miss). */
export function intersect(a: Prefix, b: Prefix): Prefix | null {
  if (containsPrefix(a, b)) return b;
  if (containsPrefix(b, a)) return a;
  return null;
}

/**
 * `universe` minus every prefix in `excluded`, as the fewest prefixes: split the universe in
 * halves until each half is either untouched by the exclusions (kept) or inside one (dropped).
 */
export function subtract(universe: Prefix, excluded: readonly Prefix[]): Prefix[] {
  const out: Prefix[] = [];
  const walk = (p: Prefix): void => {
    const hits = excluded.filter((e) => overlaps(p, e));
    if (hits.length === 0) {
      out.push(p);
      return;
    }
    if (hits.some((e) => containsPrefix(e, p))) return;
    const half = 1n << BigInt(width(p.v6) - p.bits - 1);
    walk(makePrefix(p.v6, p.net, p.bits + 1));
    walk(makePrefix(p.v6, p.net + half, p.bits + 1));
  };
  walk(universe);
  return out;
}

const mustPrefix = (text: string): Prefix => {
  const r = parsePrefixText(text);
  if (!r.ok) throw new Error(`bad built-in prefix ${text}: ${r.error.message}`);
  return r.value;
};

export const ALL_V4 = mustPrefix('0.0.0.0/0');
export const ALL_V6 = mustPrefix('::/0');

/**
 * Not "the internet": RFC 6890 special-purpose blocks a packet to an exit node must not reach by
 * way of an `autogroup:internet` grant (private LANs behind the exit node are subnet routes and
 * need their own grant; 100.64.0.0/10 is the mesh itself).
 */
const NON_INTERNET_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '224.0.0.0/4',
  '240.0.0.0/4',
].map(mustPrefix);

/** IPv4 destinations an `autogroup:internet` grant covers. */
export const INTERNET_V4: readonly Prefix[] = subtract(ALL_V4, NON_INTERNET_V4);
/** IPv6 global unicast (RFC 4291 §2.4): ULAs, link-local and multicast lie outside it. */
export const INTERNET_V6: readonly Prefix[] = [mustPrefix('2000::/3')];
export const INTERNET: readonly Prefix[] = [...INTERNET_V4, ...INTERNET_V6];

export const isInternetAddr = (a: Addr): boolean => INTERNET.some((p) => containsAddr(p, a));
