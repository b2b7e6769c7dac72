import { describe, expect, it } from 'vitest';
import { addrFromRemote } from './address.js';
import { ATTR, HEADER_BYTES, MAX_ATTRIBUTES, METHOD_BINDING } from './constants.js';
import { crc32 } from './crc32.js';
import { decodeStun, isStun } from './decode.js';
import {
  encodeBindingError,
  encodeBindingRequest,
  encodeBindingSuccess,
  encodeStun,
} from './encode.js';
import { findAttribute, mappedAddressOf } from './message.js';
import type { StunMessage } from './message.js';
import { decodeMessageType, encodeMessageType } from './message-type.js';
import { newTransactionId } from './transaction.js';

function decoded(bytes: Uint8Array): StunMessage {
  const result = decodeStun(bytes);
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value;
}

describe('crc32', () => {
  it('matches the CRC-32/ISO-HDLC check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
  });
});

describe('message type', () => {
  it('interleaves method and class bits as RFC 8489 §5 shows', () => {
    expect(encodeMessageType(METHOD_BINDING, 'request')).toBe(0x0001);
    expect(encodeMessageType(METHOD_BINDING, 'indication')).toBe(0x0011);
    expect(encodeMessageType(METHOD_BINDING, 'success')).toBe(0x0101);
    expect(encodeMessageType(METHOD_BINDING, 'error')).toBe(0x0111);
    for (const method of [0, 1, 0x00f, 0x010, 0x07f, 0x080, 0xfff]) {
      for (const cls of ['request', 'indication', 'success', 'error'] as const) {
        expect(decodeMessageType(encodeMessageType(method, cls))).toEqual({ method, cls });
      }
    }
  });
});

describe('encode/decode round trips', () => {
  const id = newTransactionId();

  it('Binding request with SOFTWARE and FINGERPRINT', () => {
    const bytes = encodeBindingRequest(id, { software: 'trellis' });
    expect(isStun(bytes)).toBe(true);
    const message = decoded(bytes);
    expect(message).toMatchObject({ method: METHOD_BINDING, cls: 'request', fingerprint: true });
    expect(message.transactionId).toEqual(id);
    expect(findAttribute(message, 'software')?.value).toBe('trellis');
  });

  it('minimal Binding request is the bare 20-byte header', () => {
    const bytes = encodeBindingRequest(id, { fingerprint: false });
    expect(bytes.length).toBe(HEADER_BYTES);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]);
    expect(decoded(bytes).attributes).toEqual([]);
  });

  for (const mapped of [
    { address: '203.0.113.7', port: 41641, family: 4 as const },
    { address: '0.0.0.0', port: 0, family: 4 as const },
    { address: '2001:db8::1', port: 65535, family: 6 as const },
    { address: '::ffff:10.0.0.1', port: 3478, family: 6 as const },
  ]) {
    it(`Binding success for ${mapped.address}:${mapped.port} (XOR and legacy MAPPED-ADDRESS)`, () => {
      const bytes = encodeBindingSuccess(id, mapped, {
        software: 'trellis',
        legacyMappedAddress: true,
      });
      const message = decoded(bytes);
      expect(message.cls).toBe('success');
      expect(findAttribute(message, 'xor-mapped-address')?.address).toEqual(mapped);
      expect(findAttribute(message, 'mapped-address')?.address).toEqual(mapped);
      expect(mappedAddressOf(message)).toEqual(mapped);
    });
  }

  it('XOR-MAPPED-ADDRESS really is XORed on the wire', () => {
    const bytes = encodeBindingSuccess(
      id,
      { address: '192.0.2.1', port: 32853, family: 4 },
      { fingerprint: false },
    );
    // family 1, port 32853 ^ 0x2112, address 192.0.2.1 ^ 0x2112a442
    expect(Buffer.from(bytes.subarray(24, 32)).toString('hex')).toBe('0001a147e112a643');
  });

  it('Binding error with ERROR-CODE', () => {
    const message = decoded(encodeBindingError(id, 420, 'Unknown Attribute'));
    expect(message.cls).toBe('error');
    expect(findAttribute(message, 'error-code')).toEqual({
      kind: 'error-code',
      code: 420,
      reason: 'Unknown Attribute',
    });
  });

  it('unknown attributes keep their value; padding is zero and skipped', () => {
    const message: StunMessage = {
      method: METHOD_BINDING,
      cls: 'indication',
      transactionId: id,
      attributes: [
        { kind: 'unknown', type: 0x8055, value: Uint8Array.of(1, 2, 3, 4, 5) },
        { kind: 'unknown', type: 0x0003, value: new Uint8Array(0) },
        { kind: 'software', value: 'é' },
      ],
      fingerprint: true,
    };
    const bytes = encodeStun(message);
    expect(bytes.length % 4).toBe(0);
    expect(Array.from(bytes.subarray(HEADER_BYTES + 4 + 5, HEADER_BYTES + 12))).toEqual([0, 0, 0]);
    expect(decoded(bytes)).toEqual(message);
  });

  it('rejects programming errors with RangeError', () => {
    expect(() => encodeBindingRequest(new Uint8Array(11))).toThrow(RangeError);
    expect(() => encodeBindingSuccess(id, { address: '127.1', port: 1, family: 4 })).toThrow(
      RangeError,
    );
    expect(() => encodeBindingSuccess(id, { address: '::1', port: 1, family: 4 })).toThrow(
      RangeError,
    );
    expect(() => encodeBindingSuccess(id, { address: '::1', port: 70000, family: 6 })).toThrow(
      RangeError,
    );
    expect(() => encodeBindingError(id, 200, 'no')).toThrow(RangeError);
    expect(() => encodeBindingRequest(id, { software: 'x'.repeat(764) })).toThrow(RangeError);
  });
});

describe('decodeStun rejects', () => {
  const id = newTransactionId();
  const valid = encodeBindingSuccess(
    id,
    { address: '198.51.100.2', port: 1234, family: 4 },
    { software: 'trellis' },
  );

  const expectError = (bytes: Uint8Array, code: string): void => {
    const result = decodeStun(bytes);
    expect(result.ok ? 'ok' : result.error.code).toBe(code);
  };

  it('short, non-STUN and inconsistent lengths', () => {
    expectError(valid.subarray(0, 19), 'truncated');
    const noCookie = valid.slice();
    noCookie[4] = 0;
    expectError(noCookie, 'not-stun');
    const topBits = valid.slice();
    topBits[0] = 0x40;
    expectError(topBits, 'not-stun');
    expectError(valid.subarray(0, valid.length - 4), 'truncated');
    expectError(Uint8Array.from([...valid, 0, 0, 0, 0]), 'bad-length');
    const oddLength = valid.slice();
    oddLength[3] = (oddLength[3] as number) + 1;
    expectError(oddLength, 'bad-length');
  });

  it('a corrupted byte under FINGERPRINT', () => {
    const corrupt = valid.slice();
    corrupt[HEADER_BYTES + 6] = (corrupt[HEADER_BYTES + 6] as number) ^ 1;
    expectError(corrupt, 'bad-fingerprint');
  });

  it('an attribute after FINGERPRINT', () => {
    // A valid FINGERPRINT (computed over the final length) followed by one more attribute.
    const bytes = new Uint8Array(HEADER_BYTES + 8 + 4);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, 0x0001);
    view.setUint16(2, 12);
    view.setUint32(4, 0x2112a442);
    bytes.set(id, 8);
    view.setUint16(HEADER_BYTES, ATTR.FINGERPRINT);
    view.setUint16(HEADER_BYTES + 2, 4);
    view.setUint32(HEADER_BYTES + 4, (crc32(bytes.subarray(0, HEADER_BYTES)) ^ 0x5354554e) >>> 0);
    view.setUint16(HEADER_BYTES + 8, 0x8055);
    expectError(bytes, 'bad-attribute');
    expect(decodeStun(bytes.subarray(0, HEADER_BYTES + 8)).ok).toBe(false); // length now disagrees
  });

  it('malformed known attributes', () => {
    const badFamily = encodeStun({
      method: METHOD_BINDING,
      cls: 'success',
      transactionId: id,
      attributes: [
        {
          kind: 'unknown',
          type: ATTR.XOR_MAPPED_ADDRESS,
          value: Uint8Array.of(0, 3, 0, 0, 1, 2, 3, 4),
        },
      ],
      fingerprint: false,
    });
    expectError(badFamily, 'bad-attribute');
    const shortV6 = encodeStun({
      method: METHOD_BINDING,
      cls: 'success',
      transactionId: id,
      attributes: [
        {
          kind: 'unknown',
          type: ATTR.MAPPED_ADDRESS,
          value: Uint8Array.of(0, 2, 0, 0, 1, 2, 3, 4),
        },
      ],
      fingerprint: false,
    });
    expectError(shortV6, 'bad-attribute');
    const badErrorCode = encodeStun({
      method: METHOD_BINDING,
      cls: 'error',
      transactionId: id,
      attributes: [{ kind: 'unknown', type: ATTR.ERROR_CODE, value: Uint8Array.of(0, 0, 4, 120) }],
      fingerprint: false,
    });
    expectError(badErrorCode, 'bad-attribute');
  });

  it('more than MAX_ATTRIBUTES attributes', () => {
    const many = (n: number): Uint8Array =>
      encodeStun({
        method: METHOD_BINDING,
        cls: 'request',
        transactionId: id,
        attributes: Array.from({ length: n }, () => ({
          kind: 'unknown' as const,
          type: 0x8055,
          value: new Uint8Array(0),
        })),
        fingerprint: false,
      });
    expect(decodeStun(many(MAX_ATTRIBUTES)).ok).toBe(true);
    expectError(many(MAX_ATTRIBUTES + 1), 'too-many-attributes');
  });
});

describe('isStun', () => {
  it('never accepts a WireGuard-shaped header, even with the cookie and a matching length', () => {
    for (let type = 1; type <= 4; type++) {
      const packet = new Uint8Array(HEADER_BYTES);
      packet[0] = type;
      new DataView(packet.buffer).setUint32(4, 0x2112a442);
      expect(isStun(packet)).toBe(false);
      expect(decodeStun(packet).ok).toBe(false);
    }
  });

  it('rejects a length field that disagrees with the datagram', () => {
    const bytes = encodeBindingRequest(newTransactionId());
    expect(isStun(bytes)).toBe(true);
    expect(isStun(bytes.subarray(0, bytes.length - 4))).toBe(false);
    expect(isStun(Uint8Array.from([...bytes, 0, 0, 0, 0]))).toBe(false);
  });
});

describe('addrFromRemote', () => {
  it('reports IPv4-mapped sources as IPv4 and canonicalises IPv6', () => {
    expect(addrFromRemote('::ffff:127.0.0.1', 5)).toEqual({
      address: '127.0.0.1',
      port: 5,
      family: 4,
    });
    expect(addrFromRemote('2001:0db8::0001', 5)).toEqual({
      address: '2001:db8::1',
      port: 5,
      family: 6,
    });
    expect(addrFromRemote('fe80::1%lo', 5)).toEqual({ address: 'fe80::1', port: 5, family: 6 });
    expect(addrFromRemote('127.0.0.1', 5)).toEqual({ address: '127.0.0.1', port: 5, family: 4 });
    expect(addrFromRemote('localhost', 5)).toBeUndefined();
  });
});
