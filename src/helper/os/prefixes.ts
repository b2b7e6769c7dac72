/**
 * Prefix lists as the kernel wants them: canonical (host bits cleared), split by family, and
 * without overlaps. nftables interval sets refuse overlapping elements, and two prefixes overlap
 * only when one contains the other, so dropping every prefix inside another leaves a valid set.
 */
import {
  formatPrefix,
  ipToBigInt,
  maskPrefix,
  parseCidr,
  parseIp,
  hostPrefix,
  type IpPrefix,
} from '../../shared/ip.js';

export interface FamilyPrefixes {
  readonly v4: string[];
  readonly v6: string[];
}

interface Range {
  readonly start: bigint;
  readonly end: bigint;
  readonly text: string;
}

/** A CIDR or bare address → its canonical prefix and family; null when it is neither. */
export function canonicalPrefix(text: string): { text: string; v6: boolean } | null {
  let p: IpPrefix;
  if (text.includes('/')) {
    const c = parseCidr(text);
    if (!c.ok) return null;
    p = maskPrefix(c.value);
  } else {
    const a = parseIp(text);
    if (!a.ok) return null;
    p = hostPrefix(a.value);
  }
  return { text: formatPrefix(p), v6: p.address.kind() === 'ipv6' };
}

function toRange(text: string): { v6: boolean; range: Range } | null {
  const c = canonicalPrefix(text);
  if (!c) return null;
  const p = parseCidr(c.text);
  if (!p.ok) return null;
  const width = c.v6 ? 128 : 32;
  const start = ipToBigInt(p.value.address);
  const end = start + (1n << BigInt(width - p.value.bits)) - 1n;
  return { v6: c.v6, range: { start, end, text: c.text } };
}

function minimal(ranges: Range[]): string[] {
  // Widest first among equal starts, so a contained prefix always follows its container.
  ranges.sort((a, b) =>
    a.start !== b.start ? (a.start < b.start ? -1 : 1) : a.end > b.end ? -1 : 1,
  );
  const out: string[] = [];
  let coveredTo = -1n;
  for (const r of ranges) {
    if (r.start <= coveredTo) continue;
    out.push(r.text);
    coveredTo = r.end;
  }
  return out;
}

/** Canonical, overlap-free prefixes per family, sorted by address. Invalid entries are skipped. */
export function mergePrefixes(cidrs: Iterable<string>): FamilyPrefixes {
  const v4: Range[] = [];
  const v6: Range[] = [];
  for (const c of cidrs) {
    const r = toRange(c);
    if (r) (r.v6 ? v6 : v4).push(r.range);
  }
  return { v4: minimal(v4), v6: minimal(v6) };
}
