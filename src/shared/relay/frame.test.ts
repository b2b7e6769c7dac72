import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRelayFrame,
  encodeRelayFrame,
  MAX_FRAME,
  MAX_PAYLOAD,
  MAX_TOKEN_LENGTH,
  RELAY_PROTOCOL_VERSION,
  type RelayFrame,
} from './frame.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const key = bytes(32);
const tokenChar = fc.constantFrom(
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'.split(''),
);
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 600 });
const regionId = fc.integer({ min: 1, max: 0xffff });
const payload = fc.uint8Array({ maxLength: 2000 });

const frame: fc.Arbitrary<RelayFrame> = fc.oneof(
  fc.record({
    type: fc.constant('client-hello' as const),
    version: fc.integer({ min: 0, max: 255 }),
    nodeKey: key,
    token,
  }),
  fc.record({
    type: fc.constant('server-hello' as const),
    version: fc.integer({ min: 0, max: 255 }),
    info: fc.record({
      regionId,
      keepAliveSeconds: fc.integer({ min: 0, max: 0xffff }),
      maxPayload: fc.nat(),
    }),
  }),
  fc.record({ type: fc.constant('send' as const), dst: key, payload }),
  fc.record({ type: fc.constant('receive' as const), src: key, payload }),
  fc.record({ type: fc.constant('peer-present' as const), key }),
  fc.record({
    type: fc.constant('peer-gone' as const),
    key,
    reason: fc.constantFrom('disconnected' as const, 'not-here' as const),
  }),
  fc.constant({ type: 'keep-alive' as const }),
  fc.record({ type: fc.constant('ping' as const), data: bytes(8) }),
  fc.record({ type: fc.constant('pong' as const), data: bytes(8) }),
  fc.record({ type: fc.constant('health' as const), message: fc.string({ maxLength: 200 }) }),
);

/** Compare Uint8Array fields by content, whatever their backing buffer. */
const plain = (f: RelayFrame): unknown =>
  JSON.parse(JSON.stringify(f, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)));

describe('relay frames', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(frame, (f) => {
        const enc = encodeRelayFrame(f);
        expect(enc.length).toBeLessThanOrEqual(MAX_FRAME);
        const dec = decodeRelayFrame(enc);
        expect(dec.ok).toBe(true);
        if (dec.ok) expect(plain(dec.value)).toEqual(plain(f));
      }),
    );
  });

  it('encodes send and client hello byte for byte', () => {
    const dst = new Uint8Array(32).fill(0x11);
    expect(
      Buffer.from(
        encodeRelayFrame({ type: 'send', dst, payload: new Uint8Array([1, 2, 3]) }),
      ).toString('hex'),
    ).toBe('03' + '11'.repeat(32) + '010203');
    const hello = encodeRelayFrame({
      type: 'client-hello',
      version: RELAY_PROTOCOL_VERSION,
      nodeKey: dst,
      token: 'a.b',
    });
    expect(Buffer.from(hello).toString('hex')).toBe('0101' + '11'.repeat(32) + '0003' + '612e62');
  });

  it('accepts a full-size payload and rejects one byte more', () => {
    const dst = new Uint8Array(32);
    const full = encodeRelayFrame({ type: 'send', dst, payload: new Uint8Array(MAX_PAYLOAD) });
    expect(full.length).toBe(MAX_FRAME);
    expect(decodeRelayFrame(full).ok).toBe(true);
    const over = new Uint8Array(MAX_FRAME + 1);
    over[0] = 0x03;
    const r = decodeRelayFrame(over);
    expect(!r.ok && r.error.code).toBe('too-large');
    expect(() =>
      encodeRelayFrame({ type: 'send', dst, payload: new Uint8Array(MAX_PAYLOAD + 1) }),
    ).toThrow(RangeError);
  });

  it('returns typed errors', () => {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array([]), 'empty'],
      [new Uint8Array([0xee]), 'unknown-type'],
      [new Uint8Array([0x03, 1, 2]), 'truncated'],
      [new Uint8Array([0x07, 0]), 'bad-length'],
      [new Uint8Array([0x08, 1, 2, 3]), 'truncated'],
      [new Uint8Array([0x06, ...new Uint8Array(32), 9]), 'bad-field'],
      [new Uint8Array([0x0a, 0, 2, 0xff, 0xfe]), 'bad-field'],
      [new Uint8Array([0x01, 1, ...new Uint8Array(32), 0, 0]), 'bad-field'],
      [new Uint8Array([0x01, 1, ...new Uint8Array(32), 0, 1, 0x20]), 'bad-field'],
      [new Uint8Array([0x01, 1, ...new Uint8Array(32), 0xff, 0xff]), 'bad-field'],
      [new Uint8Array([0x02, 1, 0, 30, 0, 1, 0, 0, 0, 0]), 'bad-field'], // region 0
      [new Uint8Array([0x02, 1, 0, 30, 0, 1, 0, 0, 0, 1, 0]), 'bad-length'],
    ];
    for (const [b, code] of cases) {
      const r = decodeRelayFrame(b);
      expect(!r.ok && r.error.code, Buffer.from(b).toString('hex')).toBe(code);
    }
  });

  it('rejects oversized tokens at both ends', () => {
    expect(() =>
      encodeRelayFrame({
        type: 'client-hello',
        version: 1,
        nodeKey: new Uint8Array(32),
        token: 'a'.repeat(MAX_TOKEN_LENGTH + 1),
      }),
    ).toThrow(RangeError);
  });

  it('never throws on random input', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        (b) => typeof decodeRelayFrame(b).ok === 'boolean',
      ),
      { numRuns: 3000 },
    );
  });

  it('never throws on mutated valid frames', () => {
    fc.assert(
      fc.property(
        frame,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (f, edits, cut) => {
          const b = encodeRelayFrame(f).slice();
          for (const [at, v] of edits) b[at % b.length] = v;
          const r = decodeRelayFrame(b.subarray(0, Math.max(0, b.length - (cut % 4))));
          return typeof r.ok === 'boolean';
        },
      ),
    );
  });
});
