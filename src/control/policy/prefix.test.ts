import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  containsAddr,
  containsPrefix,
  INTERNET_V4,
  intersect,
  isInternetAddr,
  makePrefix,
  overlaps,
  parseAddr,
  parsePrefixText,
  subtract,
  type Prefix,
} from './prefix.js';

const P = (t: string): Prefix => {
  const r = parsePrefixText(t);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};
const A = (t: string) => {
  const r = parseAddr(t);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

describe('prefix arithmetic', () => {
  it('contains, overlaps and intersects', () => {
    expect(containsAddr(P('10.0.0.0/8'), A('10.255.1.2'))).toBe(true);
    expect(containsAddr(P('10.0.0.0/8'), A('11.0.0.0'))).toBe(false);
    expect(containsAddr(P('::/0'), A('10.0.0.1'))).toBe(false);
    expect(containsPrefix(P('10.0.0.0/8'), P('10.1.0.0/16'))).toBe(true);
    expect(containsPrefix(P('10.1.0.0/16'), P('10.0.0.0/8'))).toBe(false);
    expect(overlaps(P('10.1.0.0/16'), P('10.0.0.0/8'))).toBe(true);
    expect(overlaps(P('10.1.0.0/16'), P('10.2.0.0/16'))).toBe(false);
    expect(intersect(P('10.0.0.0/8'), P('10.1.0.0/16'))?.text).toBe('10.1.0.0/16');
    expect(intersect(P('fd00::/8'), P('fd00:1::/32'))?.text).toBe('fd00:1::/32');
    expect(intersect(P('10.0.0.0/8'), P('fd00::/8'))).toBeNull();
  });

  it('treats the internet as public unicast only', () => {
    expect(isInternetAddr(A('8.8.8.8'))).toBe(true);
    expect(isInternetAddr(A('2606:4700::1111'))).toBe(true);
    for (const a of [
      '10.1.1.1',
      '192.168.1.1',
      '172.20.0.1',
      '100.64.0.1',
      '127.0.0.1',
      'fd7a::1',
      'fe80::1',
      '224.0.0.1',
    ]) {
      expect(isInternetAddr(A(a)), a).toBe(false);
    }
    // Fewest prefixes: a few dozen (51 today), not thousands.
    expect(INTERNET_V4.length).toBeLessThan(64);
  });

  it('subtract leaves exactly the universe minus the exclusions (property)', () => {
    const prefix4 = fc
      .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
      .map(([v, bits]) => makePrefix(false, BigInt(v), bits));
    fc.assert(
      fc.property(
        prefix4,
        fc.array(prefix4, { maxLength: 5 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 30 }),
        (universe, excluded, probes) => {
          const out = subtract(universe, excluded);
          // Pieces are disjoint and inside the universe.
          for (let i = 0; i < out.length; i++) {
            expect(containsPrefix(universe, out[i] as Prefix)).toBe(true);
            for (let j = i + 1; j < out.length; j++)
              expect(overlaps(out[i] as Prefix, out[j] as Prefix)).toBe(false);
          }
          // Membership agrees with the definition on probes, including each piece's edges.
          const edges = [universe, ...excluded].flatMap((p) => [
            p.net,
            p.net + (1n << BigInt(32 - p.bits)) - 1n,
          ]);
          for (const v of [...probes.map(BigInt), ...edges]) {
            const a = { v6: false, value: v };
            const want = containsAddr(universe, a) && !excluded.some((e) => containsAddr(e, a));
            expect(out.some((p) => containsAddr(p, a))).toBe(want);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
