import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import {
  ipv4At,
  ipv6For,
  isAssignable,
  isUla48,
  lowestFree,
  parseIpv4Prefix,
  randomUlaPrefix,
} from './addresses.js';

const plan = (cidr: string) => {
  const p = parseIpv4Prefix(cidr);
  if (!p.ok) throw new Error(p.error);
  return p.value;
};

describe('parseIpv4Prefix', () => {
  it('reserves the network, broadcast and MagicDNS addresses', () => {
    const p = plan('100.64.0.0/10');
    expect(p.size).toBe(2 ** 22);
    expect(p.reserved.map((i) => ipv4At(p, i))).toEqual([
      '100.64.0.0',
      '100.100.100.100',
      '100.127.255.255',
    ]);
    expect(plan('10.0.0.0/24').reserved).toEqual([0, 255]);
  });

  it('rejects what is not a network prefix', () => {
    for (const bad of ['10.0.0.1/24', '10.0.0.0/31', '10.0.0.0/33', '10.0/8', '::/0', '', 'x']) {
      expect(parseIpv4Prefix(bad)).toEqual({ ok: false, error: 'invalid_prefix' });
    }
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const r = parseIpv4Prefix(s);
        expect(typeof r.ok).toBe('boolean');
      }),
    );
  });
});

describe('lowestFree', () => {
  it('matches a brute-force model on small prefixes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('100.100.100.96/28', '10.0.0.0/29', '100.100.100.100/30'),
        fc.uniqueArray(fc.nat({ max: 15 }), { maxLength: 16 }),
        (cidr, usedList) => {
          const p = plan(cidr);
          const used = new Set(usedList);
          const all = Array.from({ length: p.size + 2 }, (_, i) => i);
          const model = all.find((i) => isAssignable(p, i) && !used.has(i)) ?? null;
          expect(lowestFree(p, all, used)).toBe(model);
        },
      ),
    );
  });
});

describe('IPv6', () => {
  it('makes random ULA /48s', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const u = randomUlaPrefix();
      expect(isUla48(u)).toBe(true);
      expect(u).toMatch(/^fd/);
      seen.add(u);
    }
    expect(seen.size).toBeGreaterThan(95);
    expect(isUla48('fd7a:115c:a1e0::/48')).toBe(true);
    expect(isUla48('fc00::/48')).toBe(true);
    expect(isUla48('2001:db8::/48')).toBe(false);
    expect(isUla48('fd7a:115c:a1e0::/64')).toBe(false);
    expect(isUla48('fd7a:115c:a1e0:1::/48')).toBe(false);
  });

  it('embeds the IPv4 address in the low 32 bits of the /48', () => {
    expect(ipv6For('fd7a:115c:a1e0::/48', '100.64.0.1')).toBe('fd7a:115c:a1e0::6440:1');
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 22 - 1 }), (i) => {
        const p = plan('100.64.0.0/10');
        const v4 = ipv4At(p, i);
        const v6 = ipaddr.IPv6.parse(ipv6For('fd12:3456:789a::/48', v4));
        expect(v6.parts.slice(0, 3)).toEqual([0xfd12, 0x3456, 0x789a]);
        expect(v6.parts.slice(3, 6)).toEqual([0, 0, 0]);
        const low = [v6.parts[6]! >> 8, v6.parts[6]! & 255, v6.parts[7]! >> 8, v6.parts[7]! & 255];
        expect(low.join('.')).toBe(v4);
      }),
    );
  });
});
