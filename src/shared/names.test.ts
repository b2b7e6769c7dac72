import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FALLBACK_DEVICE_NAME,
  MAX_FQDN_LENGTH,
  isDnsLabel,
  isFqdn,
  joinFqdn,
  normalizeDeviceName,
  parseNetworkDomain,
  uniqueName,
} from './names.js';

describe('normalizeDeviceName', () => {
  it.each([
    ['Alices-MacBook-Pro.local', 'alices-macbook-pro'],
    ['web1.corp.example.com', 'web1'],
    ["Zoë's Laptop", 'zoes-laptop'],
    ['--build__box--', 'build-box'],
    ['DESKTOP-7Q2ABC', 'desktop-7q2abc'],
    ['', FALLBACK_DEVICE_NAME],
    ['🚀🚀', FALLBACK_DEVICE_NAME],
    ['.hidden', FALLBACK_DEVICE_NAME],
    [`${'a'.repeat(62)}-b`, 'a'.repeat(62)],
  ])('%j → %j', (input, expected) => {
    expect(normalizeDeviceName(input)).toBe(expected);
  });

  it('always yields a DNS label', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 100 })),
        (s) => {
          expect(isDnsLabel(normalizeDeviceName(s))).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (s) => {
        const once = normalizeDeviceName(s);
        expect(normalizeDeviceName(once)).toBe(once);
      }),
    );
  });
});

describe('uniqueName', () => {
  it('appends -1, -2, ... when taken', () => {
    expect(uniqueName('laptop', new Set())).toBe('laptop');
    expect(uniqueName('laptop', new Set(['laptop']))).toBe('laptop-1');
    expect(uniqueName('laptop', new Set(['laptop', 'laptop-1']))).toBe('laptop-2');
  });

  it('shortens a 63-char base so the suffix fits', () => {
    const base = 'a'.repeat(63);
    const name = uniqueName(base, new Set([base]));
    expect(name).toBe(`${'a'.repeat(61)}-1`);
    expect(isDnsLabel(name)).toBe(true);
  });

  it('returns a free DNS label for any taken set', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 70 }),
        fc.array(fc.nat(30), { maxLength: 30 }),
        (raw, suffixes) => {
          const base = normalizeDeviceName(raw);
          const taken = new Set([base, ...suffixes.map((i) => `${base}-${i}`)]);
          const name = uniqueName(base, taken);
          expect(taken.has(name)).toBe(false);
          expect(isDnsLabel(name)).toBe(true);
        },
      ),
    );
  });
});

describe('network domains and FQDNs', () => {
  it('accepts and lowercases valid domains', () => {
    expect(parseNetworkDomain('Acme.Trellis.')).toEqual({ ok: true, value: 'acme.trellis' });
    expect(parseNetworkDomain('mesh')).toEqual({ ok: true, value: 'mesh' });
  });

  it.each([
    '',
    'acme..trellis',
    '-acme.trellis',
    'acme.local',
    'acme.123',
    'a_b.trellis',
    `${'a'.repeat(64)}.x`,
    `${'a.'.repeat(100)}x`,
  ])('rejects %j', (d) => expect(parseNetworkDomain(d).ok).toBe(false));

  it('joins a label and domain into a valid FQDN within 253 chars', () => {
    expect(joinFqdn('laptop', 'acme.trellis')).toEqual({ ok: true, value: 'laptop.acme.trellis' });
    expect(joinFqdn('Laptop', 'acme.trellis').ok).toBe(false);
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }),
        fc.array(fc.string({ maxLength: 70 }), { minLength: 1, maxLength: 5 }),
        (raw, parts) => {
          const domain = parts.map(normalizeDeviceName).join('.');
          const r = joinFqdn(normalizeDeviceName(raw), domain);
          if (parseNetworkDomain(domain).ok) {
            expect(r.ok).toBe(true);
            if (r.ok) {
              expect(isFqdn(r.value)).toBe(true);
              expect(r.value.length).toBeLessThanOrEqual(MAX_FQDN_LENGTH);
            }
          } else {
            expect(r.ok).toBe(false);
          }
        },
      ),
    );
  });
});
