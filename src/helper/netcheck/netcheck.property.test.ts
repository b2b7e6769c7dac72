import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBindingSuccess, encodeStun } from '../../shared/stun/index.js';
import { Netcheck } from './netcheck.js';

/** Nothing a STUN server (or anyone spoofing one) sends can throw out of the receive path. */
describe('Netcheck.handleStun with hostile input', () => {
  const netcheck = new Netcheck({ transport: { sendStun: () => undefined } });
  const from = fc.record({
    address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 60 })),
    port: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.integer()),
  });
  const transactionId = fc.uint8Array({ minLength: 12, maxLength: 12 });
  const mapped = fc.record({
    address: fc.ipV4(),
    port: fc.integer({ min: 0, max: 65535 }),
    family: fc.constant(4 as const),
  });
  const packet = fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    // Well-formed responses with ids we never sent.
    fc.tuple(transactionId, mapped).map(([id, m]) => encodeBindingSuccess(id, m)),
    // A valid STUN header with random attributes after it.
    fc
      .tuple(transactionId, fc.uint8Array({ maxLength: 200 }), fc.boolean())
      .map(([id, tail, success]) => {
        const head = encodeStun({
          method: 1,
          cls: success ? 'success' : 'error',
          transactionId: id,
          attributes: [],
          fingerprint: false,
        });
        const out = new Uint8Array(head.length + tail.length);
        out.set(head);
        out.set(tail, head.length);
        new DataView(out.buffer).setUint16(2, tail.length);
        return out;
      }),
  );

  it('returns false and counts every datagram, never throwing', () => {
    let offered = 0;
    fc.assert(
      fc.property(packet, from, (p, f) => {
        const before = netcheck.counters();
        expect(netcheck.handleStun(p, f)).toBe(false);
        offered += 1;
        const after = netcheck.counters();
        expect(
          after.unknownTransaction +
            after.notAResponse -
            before.unknownTransaction -
            before.notAResponse,
        ).toBe(1);
      }),
      { numRuns: 2000 },
    );
    const c = netcheck.counters();
    expect(c.unknownTransaction + c.notAResponse).toBe(offered);
    expect(c.unknownTransaction).toBeGreaterThan(0);
  });
});
