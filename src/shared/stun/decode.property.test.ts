import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addrFromBytes } from './address.js';
import { HEADER_BYTES, MAGIC_COOKIE, METHOD_BINDING } from './constants.js';
import { type StunDecodeErrorCode, decodeStun, isStun } from './decode.js';
import { encodeStun } from './encode.js';
import type { StunAttribute, StunMessage } from './message.js';

const ERROR_CODES: readonly StunDecodeErrorCode[] = [
  'truncated',
  'not-stun',
  'bad-length',
  'too-many-attributes',
  'bad-attribute',
  'bad-fingerprint',
];

/** decodeStun's contract on any input: no throw, a known error code, and agreement with isStun. */
function checkDecode(bytes: Uint8Array): void {
  const result = decodeStun(bytes);
  if (result.ok) {
    expect(isStun(bytes)).toBe(true);
    expect(result.value.transactionId.length).toBe(12);
  } else {
    expect(ERROR_CODES).toContain(result.error.code);
  }
}

const addrArb = fc
  .oneof(
    fc.uint8Array({ minLength: 4, maxLength: 4 }),
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
  )
  .chain((bytes) => fc.integer({ min: 0, max: 0xffff }).map((port) => addrFromBytes(bytes, port)));

const attributeArb: fc.Arbitrary<StunAttribute> = fc.oneof(
  addrArb.map((address) => ({ kind: 'xor-mapped-address' as const, address })),
  addrArb.map((address) => ({ kind: 'mapped-address' as const, address })),
  fc
    .string({ unit: 'grapheme', maxLength: 40 })
    .map((value) => ({ kind: 'software' as const, value })),
  fc.record({
    kind: fc.constant('error-code' as const),
    code: fc.integer({ min: 300, max: 699 }),
    reason: fc.string({ unit: 'grapheme', maxLength: 40 }),
  }),
  fc.record({
    kind: fc.constant('unknown' as const),
    // Any type the codec does not interpret (FINGERPRINT is added through `fingerprint`).
    type: fc
      .integer({ min: 0, max: 0xffff })
      .filter((t) => ![0x0001, 0x0009, 0x0020, 0x8022, 0x8028].includes(t)),
    value: fc.uint8Array({ maxLength: 64 }),
  }),
);

const messageArb: fc.Arbitrary<StunMessage> = fc.record({
  method: fc.oneof(fc.constant(METHOD_BINDING), fc.integer({ min: 0, max: 0xfff })),
  cls: fc.constantFrom('request', 'indication', 'success', 'error'),
  transactionId: fc.uint8Array({ minLength: 12, maxLength: 12 }),
  attributes: fc.array(attributeArb, { maxLength: 12 }),
  fingerprint: fc.boolean(),
});

/** Messages that are not WireGuard-shaped (method 0 with class 'success' can look like type 1). */
const stunMessageArb = messageArb.filter((m) => {
  const bytes = encodeStun(m);
  return !(bytes[0]! >= 1 && bytes[0]! <= 4 && bytes[1] === 0 && bytes[2] === 0 && bytes[3] === 0);
});

describe('decodeStun properties', () => {
  it('never throws on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), checkDecode), { numRuns: 2000 });
  });

  it('never throws on random attribute sections behind a valid header', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc
          .integer({ min: 0, max: 150 })
          .chain((words) => fc.uint8Array({ minLength: words * 4, maxLength: words * 4 })),
        (id, body) => {
          const bytes = new Uint8Array(HEADER_BYTES + body.length);
          const view = new DataView(bytes.buffer);
          view.setUint16(0, 0x0101);
          view.setUint16(2, body.length);
          view.setUint32(4, MAGIC_COOKIE);
          bytes.set(id, 8);
          bytes.set(body, HEADER_BYTES);
          expect(isStun(bytes)).toBe(true);
          checkDecode(bytes);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('round-trips any encodable message', () => {
    fc.assert(
      fc.property(stunMessageArb, (message) => {
        const result = decodeStun(encodeStun(message));
        expect(result.ok && result.value).toEqual(message);
      }),
    );
  });

  it('never throws on mutated messages, and never claim a valid FINGERPRINT', () => {
    fc.assert(
      fc.property(
        stunMessageArb,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (message, at, delta) => {
          const bytes = encodeStun(message);
          const mutated = bytes.slice();
          const index = at % mutated.length;
          mutated[index] = (mutated[index]! + delta) & 0xff;
          checkDecode(mutated);
          // A single-byte change is a burst under 32 bits, which CRC-32 always detects. (It can
          // still decode if the change hides FINGERPRINT, e.g. by altering its type or an earlier
          // length, but then the message no longer claims one.)
          const result = decodeStun(mutated);
          expect(result.ok && result.value.fingerprint).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('rejects every truncation', () => {
    fc.assert(
      fc.property(stunMessageArb, fc.nat(), (message, cut) => {
        const bytes = encodeStun(message);
        const truncated = bytes.subarray(0, cut % bytes.length);
        checkDecode(truncated);
        expect(decodeStun(truncated).ok).toBe(false);
        expect(isStun(truncated)).toBe(false);
      }),
    );
  });

  it('never classifies a WireGuard packet as STUN', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.uint8Array({ minLength: 16, maxLength: 200 }),
        fc.boolean(),
        (type, rest, withCookie) => {
          const packet = new Uint8Array(4 + rest.length);
          packet[0] = type;
          packet.set(rest, 4);
          if (withCookie) new DataView(packet.buffer).setUint32(4, MAGIC_COOKIE);
          expect(isStun(packet)).toBe(false);
          expect(decodeStun(packet).ok).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
