import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIp, ipFromBigInt, parseIpPort, ipPortToString, type IpPort } from '../ip.js';
import {
  decodeDiscoMessage,
  encodeDiscoMessage,
  MAX_CALL_ME_MAYBE_ENDPOINTS,
  MAX_DISCO_MESSAGE_BYTES,
  type DiscoMessage,
} from './message.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const port = fc.integer({ min: 1, max: 0xffff });
/** Random endpoints in canonical form (fast-check's ipV6 has many spellings of one address). */
const endpoint: fc.Arbitrary<IpPort> = fc
  .tuple(
    fc.oneof(
      fc.ipV4(),
      // Any 128-bit value, written in its one canonical spelling.
      fc
        .bigInt({ min: 0n, max: (1n << 128n) - 1n })
        .map((v) => `[${formatIp(ipFromBigInt(v, 'ipv6'))}]`),
    ),
    port,
  )
  .map(([ip, p]) => {
    const r = parseIpPort(`${ip}:${p}`);
    if (!r.ok) throw new Error(`test generated invalid endpoint ${ip}`);
    return r.value;
  });

const message: fc.Arbitrary<DiscoMessage> = fc.oneof(
  fc.record({ type: fc.constant('ping' as const), txId: bytes(12), nodeKey: bytes(32) }),
  fc.record({ type: fc.constant('pong' as const), txId: bytes(12), src: endpoint }),
  fc.record({
    type: fc.constant('call-me-maybe' as const),
    endpoints: fc.array(endpoint, { maxLength: MAX_CALL_ME_MAYBE_ENDPOINTS }),
  }),
);

function normalise(m: DiscoMessage): unknown {
  switch (m.type) {
    case 'ping':
      return { ...m, txId: [...m.txId], nodeKey: [...m.nodeKey] };
    case 'pong':
      return { ...m, txId: [...m.txId] };
    case 'call-me-maybe':
      return m;
  }
}

describe('disco messages', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(message, (m) => {
        const enc = encodeDiscoMessage(m);
        expect(enc.length).toBeLessThanOrEqual(MAX_DISCO_MESSAGE_BYTES);
        const dec = decodeDiscoMessage(enc);
        expect(dec.ok).toBe(true);
        if (dec.ok) expect(normalise(dec.value)).toEqual(normalise(m));
      }),
    );
  });

  it('encodes a ping byte for byte', () => {
    const txId = new Uint8Array(12).fill(0xaa);
    const nodeKey = new Uint8Array(32).fill(0xbb);
    const enc = encodeDiscoMessage({ type: 'ping', txId, nodeKey });
    expect(Buffer.from(enc).toString('hex')).toBe('0101' + 'aa'.repeat(12) + 'bb'.repeat(32));
  });

  it('encodes a pong with an IPv6 source byte for byte', () => {
    const enc = encodeDiscoMessage({
      type: 'pong',
      txId: new Uint8Array(12),
      src: { ip: '2001:db8::1', family: 'ipv6', port: 41641 },
    });
    expect(Buffer.from(enc).toString('hex')).toBe(
      '0201' + '00'.repeat(12) + '06' + '20010db8000000000000000000000001' + 'a2a9',
    );
  });

  it('returns typed errors for unknown types and versions', () => {
    const ping = encodeDiscoMessage({
      type: 'ping',
      txId: new Uint8Array(12),
      nodeKey: new Uint8Array(32),
    });
    const badType = ping.slice();
    badType[0] = 0x7f;
    const badVersion = ping.slice();
    badVersion[1] = 2;
    const r1 = decodeDiscoMessage(badType);
    const r2 = decodeDiscoMessage(badVersion);
    expect(!r1.ok && r1.error.code).toBe('unknown-type');
    expect(!r2.ok && r2.error.code).toBe('unknown-version');
    const r3 = decodeDiscoMessage(ping.subarray(0, ping.length - 1));
    expect(!r3.ok && r3.error.code).toBe('bad-length');
    const r4 = decodeDiscoMessage(new Uint8Array([...ping, 0]));
    expect(!r4.ok && r4.error.code).toBe('bad-length');
  });

  it('bounds call-me-maybe endpoint count on both sides', () => {
    const many = Array.from({ length: MAX_CALL_ME_MAYBE_ENDPOINTS + 1 }, (_, i) => ({
      ip: '10.0.0.1',
      family: 'ipv4' as const,
      port: i + 1,
    }));
    expect(() => encodeDiscoMessage({ type: 'call-me-maybe', endpoints: many })).toThrow(
      RangeError,
    );
    const r = decodeDiscoMessage(new Uint8Array([3, 1, MAX_CALL_ME_MAYBE_ENDPOINTS + 1]));
    expect(!r.ok && r.error.code).toBe('too-many-endpoints');
  });

  it('rejects port 0 and unknown address families', () => {
    const pong = (family: number, port0: boolean) =>
      new Uint8Array([2, 1, ...new Uint8Array(12), family, 1, 2, 3, 4, 0, port0 ? 0 : 1]);
    expect(decodeDiscoMessage(pong(4, false)).ok).toBe(true);
    const r1 = decodeDiscoMessage(pong(4, true));
    const r2 = decodeDiscoMessage(pong(5, false));
    expect(!r1.ok && r1.error.code).toBe('bad-endpoint');
    expect(!r2.ok && r2.error.code).toBe('bad-endpoint');
  });

  it('never throws on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 800 }), (b) => {
        const r = decodeDiscoMessage(b);
        return typeof r.ok === 'boolean';
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutated valid messages', () => {
    fc.assert(
      fc.property(
        message,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (m, edits, cut) => {
          const b = encodeDiscoMessage(m).slice();
          for (const [at, v] of edits) b[at % b.length] = v;
          const r = decodeDiscoMessage(b.subarray(0, b.length - (cut % 3)));
          return typeof r.ok === 'boolean';
        },
      ),
    );
  });
});

describe('disco endpoints', () => {
  it('decode to the shared canonical IpPort form', () => {
    const mapped = encodeDiscoMessage({
      type: 'pong',
      txId: new Uint8Array(12),
      src: { ip: '::FFFF:192.0.2.1', family: 'ipv6', port: 7 },
    });
    const r = decodeDiscoMessage(mapped);
    expect(
      r.ok && r.value.type === 'pong' && ipPortToString(r.value.src.ip, r.value.src.port),
    ).toBe('[::ffff:192.0.2.1]:7');
  });

  it('refuse to encode invalid local endpoints', () => {
    for (const src of [
      { ip: '1.2.3', family: 'ipv4' as const, port: 1 },
      { ip: '1.2.3.4', family: 'ipv4' as const, port: 0 },
      { ip: 'fe80::1%eth0', family: 'ipv6' as const, port: 1 },
    ]) {
      expect(() => encodeDiscoMessage({ type: 'pong', txId: new Uint8Array(12), src })).toThrow(
        RangeError,
      );
    }
  });
});
