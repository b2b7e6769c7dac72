import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cidr, IpAddr, IpPortText, NodePublicKey, SecretToken, Tag, Timestamp } from './common.js';
import { MAX_REPORTED_ISSUES, parseJsonWith, parseWith } from './parse.js';
import { sampleKey } from './samples.js';
import * as z from 'zod';

describe('WireGuard keys', () => {
  it('accepts any 32 bytes in base64 and rejects other shapes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
        expect(NodePublicKey.safeParse(btoa(String.fromCharCode(...b))).success).toBe(true);
      }),
    );
    expect(NodePublicKey.safeParse(sampleKey(7)).success).toBe(true);
    const bad = [
      sampleKey(7).slice(0, 43), // no padding
      `${sampleKey(7).slice(0, 42)}B=`, // non-zero trailing bits: a second spelling of a key
      btoa(String.fromCharCode(...new Array<number>(31).fill(1))), // 31 bytes
      `${sampleKey(7).slice(0, 42)}-=`, // base64url alphabet
      '',
    ];
    for (const k of bad) expect(NodePublicKey.safeParse(k).success).toBe(false);
  });
});

describe('address fields', () => {
  it('canonicalize on parse', () => {
    expect(IpAddr.parse('FD7A:0:0::1')).toBe('fd7a::1');
    expect(Cidr.parse('FD7A::/16')).toBe('fd7a::/16');
    expect(IpPortText.parse('[FD7A::1]:80')).toBe('[fd7a::1]:80');
  });

  it('report the parser message, e.g. the intended prefix', () => {
    const r = parseWith(z.object({ routes: z.array(Cidr) }), {
      routes: ['10.0.0.0/8', '192.168.1.1/24'],
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('invalid');
      expect(r.error.issues[0]?.path).toBe('routes[1]');
      expect(r.error.message).toContain('192.168.1.0/24');
    }
  });

  it('reject oversize text without parsing it', () => {
    expect(IpAddr.safeParse('1'.repeat(100_000)).success).toBe(false);
    expect(Cidr.safeParse(`${'1'.repeat(100)}/8`).success).toBe(false);
  });
});

describe('misc primitives', () => {
  it('timestamps are UTC ISO 8601', () => {
    expect(Timestamp.safeParse(new Date(0).toISOString()).success).toBe(true);
    expect(Timestamp.safeParse('2025-01-01T00:00:00+02:00').success).toBe(false);
    expect(Timestamp.safeParse('yesterday').success).toBe(false);
  });
  it('tokens are bounded and header-safe', () => {
    expect(SecretToken.safeParse('abc').success).toBe(false);
    expect(SecretToken.safeParse('a'.repeat(5000)).success).toBe(false);
    expect(SecretToken.safeParse('0123456789abcdef ghi').success).toBe(false);
    expect(SecretToken.safeParse('tsk_0123456789abcdef').success).toBe(true);
  });
  it('tags look like tag:name', () => {
    expect(Tag.safeParse('tag:server').success).toBe(true);
    expect(Tag.safeParse('server').success).toBe(false);
    expect(Tag.safeParse('tag:-x').success).toBe(false);
  });
});

describe('parseWith / parseJsonWith', () => {
  const S = z.object({ items: z.array(z.number()).max(1000) });

  it('bounds the number of reported issues', () => {
    const r = parseWith(S, { items: Array.from({ length: 500 }, () => 'x') });
    expect(!r.ok && r.error.issues.length).toBe(MAX_REPORTED_ISSUES);
    expect(!r.ok && r.error.message).toContain('more');
  });

  it('refuses oversize text before JSON.parse and reports bad JSON', () => {
    const big = JSON.stringify({ items: new Array(100).fill(1) });
    const tooBig = parseJsonWith(S, big, 50);
    expect(!tooBig.ok && tooBig.error.code).toBe('too_large');
    const bad = parseJsonWith(S, '{"items": [1,', 1000);
    expect(!bad.ok && bad.error.code).toBe('invalid_json');
    expect(parseJsonWith(S, '{"items":[1,2]}', 1000)).toEqual({
      ok: true,
      value: { items: [1, 2] },
    });
  });

  it('strips unknown keys, so newer peers may add fields', () => {
    expect(parseWith(S, { items: [], addedInV1_1: true })).toEqual({
      ok: true,
      value: { items: [] },
    });
  });
});
