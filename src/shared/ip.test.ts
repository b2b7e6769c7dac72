import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import {
  addressIndexInPrefix,
  canonicalIp,
  contains,
  formatIp,
  formatPrefix,
  ipFromBigInt,
  ipPortToString,
  ipToBigInt,
  isCgnat,
  isUla,
  maskPrefix,
  normalizeCidr,
  nthAddressInPrefix,
  overlaps,
  parseCidr,
  parseIp,
  parseIpPort,
  parsePrefix,
  ulaPrefixFromRandom,
  type IpAddress,
} from './ip.js';

const v4 = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
const v6 = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 });
const anyAddr = fc.oneof(
  v4.map((b) => new ipaddr.IPv4(b) as IpAddress),
  v6.map((b) => new ipaddr.IPv6(b) as IpAddress),
  // Bias towards zero runs and mapped addresses, where IPv6 formatting has its special cases.
  fc
    .array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xfd7a), { minLength: 8, maxLength: 8 })
    .map((p) => new ipaddr.IPv6(p) as IpAddress),
  v4.map((b) => new ipaddr.IPv4(b).toIPv4MappedAddress() as IpAddress),
);
const bytesOf = (a: IpAddress) => a.toByteArray();

/** Text near valid addresses: valid ones with characters inserted, removed or replaced. */
const mutatedText = fc
  .tuple(
    anyAddr.map(formatIp),
    fc.nat(60),
    fc.constantFrom(
      '',
      ':',
      '.',
      '::',
      '%eth0',
      '0',
      'x',
      '/',
      '[',
      ']',
      '1234',
      '256',
      ' ',
      '\u0000',
      'ffff0',
    ),
    fc.nat(3),
  )
  .map(
    ([s, at, ins, del]) =>
      s.slice(0, at % (s.length + 1)) + ins + s.slice((at % (s.length + 1)) + del),
  );

describe('parseIp', () => {
  it('accepts canonical IPv4 and IPv6 text', () => {
    expect(canonicalIp('100.64.0.1')).toEqual({ ok: true, value: '100.64.0.1' });
    expect(canonicalIp('FD7A:115C:A1E0:0:0:0:0:1')).toEqual({
      ok: true,
      value: 'fd7a:115c:a1e0::1',
    });
    expect(canonicalIp('::ffff:1.2.3.4')).toEqual({ ok: true, value: '::ffff:1.2.3.4' });
    expect(canonicalIp('::')).toEqual({ ok: true, value: '::' });
  });

  it.each([
    '127.1', // short IPv4 forms
    '0x7f.0.0.1', // hex
    '010.0.0.1', // octal-looking
    '1.2.3.256',
    '1.2.3.4.5',
    'fe80::1%eth0', // zone ids
    '00001::', // more than four hex digits in a group
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '::ffff:010.1.1.1',
    '::1.2.3.4', // deprecated IPv4-compatible form, which ipaddr.js reads as IPv4-mapped
    '',
    ' 1.2.3.4',
    'a'.repeat(1000),
  ])('rejects %j', (text) => {
    const r = parseIp(text);
    expect(r.ok).toBe(false);
  });

  it('reports too_long before parsing huge input', () => {
    const r = parseIp('1'.repeat(100_000));
    expect(!r.ok && r.error.code).toBe('too_long');
  });

  it('round-trips every address through its canonical text', () => {
    fc.assert(
      fc.property(anyAddr, (a) => {
        const text = formatIp(a);
        const r = parseIp(text);
        expect(r.ok).toBe(true);
        if (r.ok) {
          expect(bytesOf(r.value)).toEqual(bytesOf(a));
          expect(formatIp(r.value)).toBe(text);
        }
      }),
    );
  });

  it('canonicalizes any accepted spelling to the same bytes (uppercase, no compression)', () => {
    fc.assert(
      fc.property(v6, (b) => {
        const a = new ipaddr.IPv6(b);
        const long = a.toNormalizedString().toUpperCase();
        const r = parseIp(long);
        expect(r.ok && formatIp(r.value)).toBe(formatIp(a));
      }),
    );
  });

  it('agrees with ipaddr.js on every address both accept, and is never more lenient', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedText, fc.string({ maxLength: 45 })), (text) => {
        const ours = parseIp(text);
        if (!ours.ok) return;
        expect(ipaddr.isValid(text)).toBe(true);
        expect(bytesOf(ours.value)).toEqual(ipaddr.parse(text).toByteArray());
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on arbitrary or mutated text, and what it accepts is stable', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), mutatedText), (text) => {
        const r = parseIp(text);
        if (r.ok) {
          const again = parseIp(formatIp(r.value));
          expect(again.ok && bytesOf(again.value)).toEqual(bytesOf(r.value));
        } else {
          expect(typeof r.error.message).toBe('string');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('CIDR', () => {
  it('normalizes host bits away and canonicalizes', () => {
    expect(normalizeCidr('100.64.1.7/10')).toEqual({ ok: true, value: '100.64.0.0/10' });
    expect(normalizeCidr('FD00:0:0:0:0:0:0:1/48')).toEqual({ ok: true, value: 'fd00::/48' });
    expect(normalizeCidr('0.0.0.0/0')).toEqual({ ok: true, value: '0.0.0.0/0' });
  });

  it('parsePrefix rejects host bits and names the intended prefix', () => {
    const r = parsePrefix('10.1.2.3/16');
    expect(!r.ok && r.error.code).toBe('host_bits_set');
    expect(!r.ok && r.error.message).toContain('10.1.0.0/16');
    expect(parsePrefix('10.1.0.0/16').ok).toBe(true);
  });

  it.each([
    '10.0.0.0',
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/08',
    '10.0.0.0/-1',
    '10.0.0.0/ 8',
    '/8',
    'x/8',
    '10.0.0.0/8/8',
  ])('rejects %j', (text) => expect(parseCidr(text).ok).toBe(false));

  it('normalize is idempotent and the result contains the original address', () => {
    const prefix = fc.oneof(
      fc
        .tuple(v4, fc.integer({ min: 0, max: 32 }))
        .map(([b, n]) => `${new ipaddr.IPv4(b).toString()}/${n}`),
      fc
        .tuple(v6, fc.integer({ min: 0, max: 128 }))
        .map(([b, n]) => `${formatIp(new ipaddr.IPv6(b))}/${n}`),
    );
    fc.assert(
      fc.property(prefix, (text) => {
        const n = normalizeCidr(text);
        expect(n.ok).toBe(true);
        if (!n.ok) return;
        expect(normalizeCidr(n.value)).toEqual(n);
        expect(parsePrefix(n.value).ok).toBe(true);
        expect(contains(n.value, text.split('/')[0] ?? '')).toBe(true);
      }),
    );
  });

  it('never throws on mutated CIDR text', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc
        .tuple(mutatedText, fc.constantFrom('/0', '/32', '/128', '/999', '/', '//1'))
        .map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(text, (t) => {
        const r = parseCidr(t);
        if (r.ok) expect(parseCidr(formatPrefix(r.value)).ok).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('contains and overlaps', () => {
  it('answers membership across families', () => {
    expect(contains('100.64.0.0/10', '100.127.255.255')).toBe(true);
    expect(contains('100.64.0.0/10', '100.128.0.0')).toBe(false);
    expect(contains('::/0', '1.2.3.4')).toBe(false);
    expect(contains('not a cidr', '1.2.3.4')).toBe(false);
    expect(overlaps('10.0.0.0/8', '10.1.0.0/16')).toBe(true);
    expect(overlaps('10.1.0.0/16', '10.0.0.0/8')).toBe(true);
    expect(overlaps('10.0.0.0/16', '10.1.0.0/16')).toBe(false);
    expect(overlaps('10.0.0.0/8', '::/0')).toBe(false);
  });

  it('overlap matches an integer-interval model', () => {
    const p = fc
      .tuple(v4, fc.integer({ min: 0, max: 32 }))
      .map(([b, n]) => maskPrefix({ address: new ipaddr.IPv4(b), bits: n }));
    fc.assert(
      fc.property(p, p, (a, b) => {
        const range = (x: typeof a) => {
          const lo = ipToBigInt(x.address);
          return [lo, lo + (1n << BigInt(32 - x.bits)) - 1n] as const;
        };
        const [alo, ahi] = range(a);
        const [blo, bhi] = range(b);
        expect(overlaps(a, b)).toBe(alo <= bhi && blo <= ahi);
      }),
    );
  });
});

describe('ip:port', () => {
  it('formats and parses both families', () => {
    expect(ipPortToString('1.2.3.4', 5)).toBe('1.2.3.4:5');
    expect(ipPortToString('::1', 5)).toBe('[::1]:5');
    expect(parseIpPort('[::1]:41641')).toEqual({
      ok: true,
      value: { ip: '::1', family: 'ipv6', port: 41641 },
    });
    expect(parseIpPort('1.2.3.4:65535')).toEqual({
      ok: true,
      value: { ip: '1.2.3.4', family: 'ipv4', port: 65535 },
    });
  });

  it.each([
    '1.2.3.4',
    '1.2.3.4:0',
    '1.2.3.4:65536',
    '1.2.3.4:080',
    '::1:5',
    '[::1]5',
    '[1.2.3.4]:5',
    '[::1]:',
    'x:1',
    '1.2.3.4:+5',
  ])('rejects %j', (text) => expect(parseIpPort(text).ok).toBe(false));

  it('round-trips and never throws', () => {
    fc.assert(
      fc.property(anyAddr, fc.integer({ min: 1, max: 65535 }), (a, port) => {
        const text = ipPortToString(a, port);
        const r = parseIpPort(text);
        expect(r.ok && r.value.port).toBe(port);
        expect(r.ok && ipPortToString(r.value.ip, r.value.port)).toBe(text);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 70 }),
          mutatedText.map((s) => `[${s}]:1`),
        ),
        (t) => {
          expect(() => parseIpPort(t)).not.toThrow();
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('mesh address space', () => {
  it('recognizes CGNAT and ULA addresses', () => {
    expect(isCgnat('100.64.0.1')).toBe(true);
    expect(isCgnat('100.63.255.255')).toBe(false);
    expect(isUla('fd7a::1')).toBe(true);
    expect(isUla('fe80::1')).toBe(false);
  });

  it('builds a ULA /48 from 40 random bits', () => {
    expect(ulaPrefixFromRandom(Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0x9a]))).toBe(
      'fd12:3456:789a::/48',
    );
    expect(() => ulaPrefixFromRandom(new Uint8Array(4))).toThrow(RangeError);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 5, maxLength: 5 }), (b) => {
        const p = ulaPrefixFromRandom(b);
        expect(parsePrefix(p).ok).toBe(true);
        expect(isUla(p.split('/')[0] ?? '')).toBe(true);
      }),
    );
  });
});

describe('address allocation', () => {
  it('indexes addresses inside prefixes of both families', () => {
    expect(nthAddressInPrefix('100.64.0.0/10', 1)).toEqual({ ok: true, value: '100.64.0.1' });
    expect(nthAddressInPrefix('100.64.0.0/10', 4_194_303)).toEqual({
      ok: true,
      value: '100.127.255.255',
    });
    expect(nthAddressInPrefix('100.64.0.0/10', 4_194_304).ok).toBe(false);
    expect(nthAddressInPrefix('100.64.0.0/10', -1).ok).toBe(false);
    expect(nthAddressInPrefix('100.64.0.0/10', 1.5).ok).toBe(false);
    expect(nthAddressInPrefix('fd12:3456:789a::/48', 2n ** 80n - 1n)).toEqual({
      ok: true,
      value: 'fd12:3456:789a:ffff:ffff:ffff:ffff:ffff',
    });
    expect(addressIndexInPrefix('fd12:3456:789a::/48', 'fd12:3456:789a::1:0')).toEqual({
      ok: true,
      value: 65536n,
    });
    const outside = addressIndexInPrefix('100.64.0.0/10', '10.0.0.1');
    expect(!outside.ok && outside.error.code).toBe('out_of_range');
    const mixed = addressIndexInPrefix('100.64.0.0/10', '::1');
    expect(!mixed.ok && mixed.error.code).toBe('family_mismatch');
  });

  it('nthAddressInPrefix and addressIndexInPrefix are inverse', () => {
    const v4case = fc
      .tuple(v4, fc.integer({ min: 0, max: 32 }), fc.bigInt({ min: 0n, max: 2n ** 32n }))
      .map(([b, bits, n]) => ({ p: { address: new ipaddr.IPv4(b) as IpAddress, bits }, n }));
    const v6case = fc
      .tuple(v6, fc.integer({ min: 0, max: 128 }), fc.bigInt({ min: 0n, max: 2n ** 128n }))
      .map(([b, bits, n]) => ({ p: { address: new ipaddr.IPv6(b) as IpAddress, bits }, n }));
    fc.assert(
      fc.property(fc.oneof(v4case, v6case), ({ p, n }) => {
        const size = 1n << BigInt((p.address.kind() === 'ipv4' ? 32 : 128) - p.bits);
        const index = n % size;
        const a = nthAddressInPrefix(p, index);
        expect(a.ok).toBe(true);
        if (!a.ok) return;
        expect(contains(p, a.value)).toBe(true);
        expect(addressIndexInPrefix(p, a.value)).toEqual({ ok: true, value: index });
      }),
    );
  });

  it('ipFromBigInt inverts ipToBigInt', () => {
    fc.assert(
      fc.property(anyAddr, (a) => {
        expect(bytesOf(ipFromBigInt(ipToBigInt(a), a.kind()))).toEqual(bytesOf(a));
      }),
    );
  });
});
