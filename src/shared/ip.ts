/**
 * IP address and prefix helpers on top of ipaddr.js, strict enough for wire input.
 *
 * ipaddr.js alone accepts legacy IPv4 spellings ("127.1", "0x7f.0.0.1", octal "010.0.0.1") and
 * IPv6 zone ids; none of those belong on the wire, and accepting them would let two spellings of
 * one address compare unequal. So text is first checked against the strict grammar here (dotted
 * decimal without leading zeros; RFC 4291 IPv6 with at most four hex digits per group, no zone),
 * and bounded in length before ipaddr.js sees it. Every parser returns a Result and never throws.
 *
 * Canonical text forms: IPv4 dotted decimal, IPv6 RFC 5952 (lowercase, longest zero run
 * compressed; IPv4-mapped addresses as "::ffff:a.b.c.d"), prefixes as "<address>/<bits>".
 */
import ipaddr from 'ipaddr.js';
import { decodeError, err, ok, type DecodeError, type Result } from './result.js';

export type IpFamily = 'ipv4' | 'ipv6';
export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/** A parsed CIDR: an address and a prefix length (host bits may be set unless parsePrefix made it). */
export interface IpPrefix {
  readonly address: IpAddress;
  readonly bits: number;
}

/** An endpoint as carried on the wire: canonical address text plus a port. */
export interface IpPort {
  readonly ip: string;
  readonly family: IpFamily;
  readonly port: number;
}

export type IpErrorCode =
  | 'too_long'
  | 'invalid_ip'
  | 'invalid_cidr'
  | 'host_bits_set'
  | 'invalid_port'
  | 'family_mismatch'
  | 'out_of_range';
export type IpError = DecodeError<IpErrorCode>;

/** Longest valid IPv6 text: eight groups with an embedded IPv4 tail ("ffff:…:ffff:255.255.255.255"). */
export const MAX_IP_TEXT_LENGTH = 45;
/** Address plus "/128". */
export const MAX_CIDR_TEXT_LENGTH = MAX_IP_TEXT_LENGTH + 4;
/** "[" + address + "]:" + five port digits. */
export const MAX_IP_PORT_TEXT_LENGTH = MAX_IP_TEXT_LENGTH + 8;

/** RFC 6598 shared address space; Trellis hands out device IPv4 addresses from it. */
export const CGNAT_PREFIX = '100.64.0.0/10';
/** RFC 4193 unique local addresses. */
export const ULA_PREFIX = 'fc00::/7';
/** RFC 4193 §3.2: a locally assigned ULA /48 is "fd" followed by a 40-bit random global ID. */
export const ULA_GLOBAL_ID_BYTES = 5;

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_RE = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const IPV6_CHARS_RE = /^[0-9A-Fa-f:.]+$/;
const HEX_GROUP_RE = /^[0-9A-Fa-f]{1,4}$/;
const PREFIX_LEN_RE = /^(?:0|[1-9]\d{0,2})$/;
const PORT_RE = /^(?:[1-9]\d{0,4})$/;

const familyBits = (family: IpFamily): number => (family === 'ipv4' ? 32 : 128);

export function ipFamily(addr: IpAddress): IpFamily {
  return addr.kind();
}

export function parseIpv4(text: string): Result<ipaddr.IPv4, IpError> {
  if (text.length > MAX_IP_TEXT_LENGTH) return decodeError('too_long', 'IP address text too long');
  if (!IPV4_RE.test(text)) return decodeError('invalid_ip', `not an IPv4 address: ${quote(text)}`);
  return ok(new ipaddr.IPv4(text.split('.').map(Number)));
}

export function parseIpv6(text: string): Result<ipaddr.IPv6, IpError> {
  if (text.length > MAX_IP_TEXT_LENGTH) return decodeError('too_long', 'IP address text too long');
  const parts = ipv6Parts(text);
  if (!parts) return decodeError('invalid_ip', `not an IPv6 address: ${quote(text)}`);
  return ok(new ipaddr.IPv6(parts));
}

/**
 * RFC 4291 §2.2 text to eight 16-bit groups, or null. Hand-written rather than ipaddr.js's
 * regexes because it is both stricter and several times faster on large netmaps.
 */
function ipv6Parts(text: string): number[] | null {
  if (!IPV6_CHARS_RE.test(text)) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (half: string): number[] | null => {
    if (half === '') return [];
    const out: number[] = [];
    const groups = half.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i] ?? '';
      if (g.includes('.')) {
        // An embedded IPv4 tail, only as the very last group of the address.
        if (i !== groups.length - 1 || !IPV4_RE.test(g)) return null;
        const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        if (g === '' || !HEX_GROUP_RE.test(g)) return null;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  // The IPv4 tail may only end the address, so it cannot sit before "::".
  if (halves.length === 2 && (halves[0] ?? '').includes('.')) return null;
  // "::a.b.c.d" (RFC 4291's deprecated IPv4-compatible form) is read by ipaddr.js as the mapped
  // "::ffff:a.b.c.d"; refusing the ambiguous spelling keeps every program agreeing on the bytes.
  if (
    halves[0] === '' &&
    tail.length === 2 &&
    (halves[1] ?? '').includes('.') &&
    !(halves[1] ?? '').includes(':')
  ) {
    return null;
  }
  const count = head.length + tail.length;
  if (halves.length === 1) return count === 8 ? head : null;
  // "::" stands for one or more zero groups.
  if (count > 7) return null;
  return [...head, ...new Array<number>(8 - count).fill(0), ...tail];
}

/** Parses an IPv4 or IPv6 address in strict text form. */
export function parseIp(text: string): Result<IpAddress, IpError> {
  if (text.length > MAX_IP_TEXT_LENGTH) return decodeError('too_long', 'IP address text too long');
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

export const isIp = (text: string): boolean => parseIp(text).ok;

/** Canonical text form (see the module comment). */
export function formatIp(addr: IpAddress): string {
  if (addr instanceof ipaddr.IPv6 && addr.isIPv4MappedAddress()) {
    return `::ffff:${addr.toIPv4Address().toString()}`;
  }
  return addr.toString();
}

export function canonicalIp(text: string): Result<string, IpError> {
  const r = parseIp(text);
  return r.ok ? ok(formatIp(r.value)) : r;
}

/** The address as an unsigned integer (32 bits for IPv4, 128 for IPv6). */
export function ipToBigInt(addr: IpAddress): bigint {
  let v = 0n;
  for (const b of addr.toByteArray()) v = (v << 8n) | BigInt(b);
  return v;
}

/** Inverse of ipToBigInt; the value is reduced modulo the family's address space. */
export function ipFromBigInt(value: bigint, family: IpFamily): IpAddress {
  const len = familyBits(family) / 8;
  const bytes = new Array<number>(len);
  let v = BigInt.asUintN(familyBits(family), value);
  for (let i = len - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return fromBytes(bytes);
}

/** Parses "address/bits". Host bits may be set ("100.64.1.7/10" is an interface address). */
export function parseCidr(text: string): Result<IpPrefix, IpError> {
  if (text.length > MAX_CIDR_TEXT_LENGTH) return decodeError('too_long', 'CIDR text too long');
  const slash = text.indexOf('/');
  const bad = decodeError('invalid_cidr', `not a CIDR prefix: ${quote(text)}`);
  if (slash < 0) return bad;
  const addr = parseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!addr.ok || !PREFIX_LEN_RE.test(lenText)) return bad;
  const bits = Number(lenText);
  if (bits > familyBits(ipFamily(addr.value))) return bad;
  return ok({ address: addr.value, bits });
}

/** Like parseCidr, but rejects prefixes whose host bits are set, naming the intended prefix. */
export function parsePrefix(text: string): Result<IpPrefix, IpError> {
  const r = parseCidr(text);
  if (!r.ok) return r;
  const masked = maskPrefix(r.value);
  if (!sameAddress(masked.address, r.value.address)) {
    return decodeError(
      'host_bits_set',
      `prefix ${quote(text)} has host bits set; did you mean ${formatPrefix(masked)}?`,
    );
  }
  return ok(masked);
}

/** The prefix with its host bits cleared. */
export function maskPrefix(p: IpPrefix): IpPrefix {
  const bytes = p.address.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.min(8, Math.max(0, p.bits - i * 8));
    bytes[i] = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return { address: fromBytes(bytes), bits: p.bits };
}

const fromBytes = (bytes: number[]): IpAddress =>
  bytes.length === 4 ? new ipaddr.IPv4(bytes) : new ipaddr.IPv6(bytes);

const sameAddress = (a: IpAddress, b: IpAddress): boolean => {
  const x = a.toByteArray();
  const y = b.toByteArray();
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

export function formatPrefix(p: IpPrefix): string {
  return `${formatIp(p.address)}/${p.bits}`;
}

/** Parses a CIDR and returns its canonical form with host bits zeroed. */
export function normalizeCidr(text: string): Result<string, IpError> {
  const r = parseCidr(text);
  return r.ok ? ok(formatPrefix(maskPrefix(r.value))) : r;
}

/** The single-address prefix for an address: "/32" or "/128". */
export function hostPrefix(addr: IpAddress): IpPrefix {
  return { address: addr, bits: familyBits(ipFamily(addr)) };
}

/** Number of addresses in the prefix. */
export function prefixSize(p: IpPrefix): bigint {
  return 1n << BigInt(familyBits(ipFamily(p.address)) - p.bits);
}

const asPrefix = (p: IpPrefix | string): IpPrefix | null => {
  if (typeof p !== 'string') return p;
  const r = parseCidr(p);
  return r.ok ? r.value : null;
};
const asAddress = (a: IpAddress | string): IpAddress | null => {
  if (typeof a !== 'string') return a;
  const r = parseIp(a);
  return r.ok ? r.value : null;
};

/** Whether the prefix contains the address. False for invalid text or mixed families. */
export function contains(prefix: IpPrefix | string, ip: IpAddress | string): boolean {
  const p = asPrefix(prefix);
  const a = asAddress(ip);
  if (!p || !a || ipFamily(p.address) !== ipFamily(a)) return false;
  return a.match(p.address, p.bits);
}

/** Whether two prefixes share any address. False for invalid text or mixed families. */
export function overlaps(a: IpPrefix | string, b: IpPrefix | string): boolean {
  const pa = asPrefix(a);
  const pb = asPrefix(b);
  if (!pa || !pb || ipFamily(pa.address) !== ipFamily(pb.address)) return false;
  // Two prefixes overlap exactly when the shorter one contains the other's network address.
  const [outer, inner] = pa.bits <= pb.bits ? [pa, pb] : [pb, pa];
  return inner.address.match(outer.address, outer.bits);
}

/** "1.2.3.4:5" or "[::1]:5". The address is written canonically when it parses. */
export function ipPortToString(ip: IpAddress | string, port: number): string {
  const a = asAddress(ip);
  const text = a ? formatIp(a) : String(ip);
  return text.includes(':') ? `[${text}]:${port}` : `${text}:${port}`;
}

/** Parses "1.2.3.4:5" or "[::1]:5" (port 1–65535; a usable endpoint never has port 0). */
export function parseIpPort(text: string): Result<IpPort, IpError> {
  if (text.length > MAX_IP_PORT_TEXT_LENGTH)
    return decodeError('too_long', 'endpoint text too long');
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']:');
    if (close < 0) return decodeError('invalid_ip', `not an [IPv6]:port endpoint: ${quote(text)}`);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    const r = parseIpv6(host);
    if (!r.ok) return r;
    return withPort(r.value, portText);
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return decodeError('invalid_port', `endpoint has no port: ${quote(text)}`);
  host = text.slice(0, colon);
  portText = text.slice(colon + 1);
  const r = parseIpv4(host);
  if (!r.ok) return r;
  return withPort(r.value, portText);
}

function withPort(addr: IpAddress, portText: string): Result<IpPort, IpError> {
  const port = Number(portText);
  if (!PORT_RE.test(portText) || port > 65535) {
    return decodeError('invalid_port', `not a port (1-65535): ${quote(portText)}`);
  }
  return ok({ ip: formatIp(addr), family: ipFamily(addr), port });
}

/** Whether the address is in 100.64.0.0/10 (where device IPv4 addresses live). */
export const isCgnat = (ip: IpAddress | string): boolean => contains(CGNAT_PREFIX, ip);

export const isUla = (ip: IpAddress | string): boolean => contains(ULA_PREFIX, ip);

/**
 * A network's IPv6 /48 from 40 random bits (RFC 4193 §3.2): "fdXX:XXXX:XXXX::/48".
 * Callers pass crypto.randomBytes(ULA_GLOBAL_ID_BYTES); a shorter buffer is a programming error.
 */
export function ulaPrefixFromRandom(random: Uint8Array): string {
  if (random.length < ULA_GLOBAL_ID_BYTES) {
    throw new RangeError(`need ${ULA_GLOBAL_ID_BYTES} random bytes, got ${random.length}`);
  }
  const bytes = [0xfd, ...random.subarray(0, ULA_GLOBAL_ID_BYTES)];
  while (bytes.length < 16) bytes.push(0);
  return formatPrefix({ address: new ipaddr.IPv6(bytes), bits: 48 });
}

/** The n-th address (0 = network address) of a prefix, for address allocation. */
export function nthAddressInPrefix(
  prefix: IpPrefix | string,
  n: number | bigint,
): Result<string, IpError> {
  const p = typeof prefix === 'string' ? parseCidr(prefix) : ok(prefix);
  if (!p.ok) return p;
  const net = maskPrefix(p.value);
  let index: bigint;
  if (typeof n === 'bigint') index = n;
  else if (Number.isSafeInteger(n)) index = BigInt(n);
  else return decodeError('out_of_range', `address index must be an integer, got ${n}`);
  if (index < 0n || index >= prefixSize(net)) {
    return decodeError('out_of_range', `index ${index} is outside ${formatPrefix(net)}`);
  }
  const family = ipFamily(net.address);
  return ok(formatIp(ipFromBigInt(ipToBigInt(net.address) + index, family)));
}

/** Inverse of nthAddressInPrefix: the address's offset from the prefix's network address. */
export function addressIndexInPrefix(
  prefix: IpPrefix | string,
  ip: IpAddress | string,
): Result<bigint, IpError> {
  const p = typeof prefix === 'string' ? parseCidr(prefix) : ok(prefix);
  if (!p.ok) return p;
  const a = typeof ip === 'string' ? parseIp(ip) : ok(ip);
  if (!a.ok) return a;
  const net = maskPrefix(p.value);
  if (ipFamily(net.address) !== ipFamily(a.value)) {
    return err({ code: 'family_mismatch', message: 'address and prefix are different families' });
  }
  if (!a.value.match(net.address, net.bits)) {
    return decodeError('out_of_range', `${formatIp(a.value)} is not in ${formatPrefix(net)}`);
  }
  return ok(ipToBigInt(a.value) - ipToBigInt(net.address));
}

/** Quotes untrusted text for an error message, cut short so messages stay bounded. */
function quote(text: string): string {
  const MAX_QUOTED = 64;
  return JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text);
}
