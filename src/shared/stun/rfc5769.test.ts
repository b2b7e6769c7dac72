import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ATTR, METHOD_BINDING } from './constants.js';
import { decodeStun, isStun } from './decode.js';
import { encodeStun } from './encode.js';
import { findAttribute, mappedAddressOf } from './message.js';
import type { StunMessage } from './message.js';

/** Test vectors of RFC 5769 ("Test Vectors for STUN"), typed in from the RFC text. */
const hex = (text: string): Uint8Array =>
  Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

const TRANSACTION_ID = hex('b7e7a701 bc34d686 fa87dfae');
/** §2: short-term credential password of the sample request and both sample responses. */
const SHORT_TERM_PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';

// §2.1 Sample Request
const SAMPLE_REQUEST = hex(`
  00010058 2112a442 b7e7a701 bc34d686 fa87dfae
  80220010 5354554e 20746573 7420636c 69656e74
  00240004 6e0001ff
  80290008 932ff9b1 51263b36
  00060009 6576746a 3a683676 59202020
  00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
  80280004 e57a3bcf`);

// §2.2 Sample IPv4 Response
const SAMPLE_IPV4_RESPONSE = hex(`
  0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200008 0001a147 e112a643
  00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
  80280004 c07d4c96`);

// §2.3 Sample IPv6 Response
const SAMPLE_IPV6_RESPONSE = hex(`
  01010048 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
  00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
  80280004 c8fb0b4c`);

// §2.4 Sample Request with Long-Term Authentication (no FINGERPRINT)
const SAMPLE_LONG_TERM_REQUEST = hex(`
  00010060 2112a442 78ad3433 c6ad72c0 29da412e
  00060012 e3839ee3 8388e383 aae38383 e382afe3 82b90000
  0015001c 662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341
  0014000b 6578616d 706c652e 6f726700
  00080014 f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666`);

/**
 * MESSAGE-INTEGRITY (RFC 5389 §15.4), which the codec does not verify: checked here only to
 * prove the vectors were typed in correctly, independently of our own FINGERPRINT code.
 */
function messageIntegrityValid(bytes: Uint8Array, key: Buffer | string): boolean {
  const message = decodeStun(bytes);
  if (!message.ok) return false;
  let offset = 20;
  while (offset < bytes.length) {
    const type = (bytes[offset]! << 8) | bytes[offset + 1]!;
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    if (type === ATTR.MESSAGE_INTEGRITY) {
      const covered = Buffer.from(bytes.subarray(0, offset));
      covered.writeUInt16BE(offset + 24 - 20, 2); // length as if MESSAGE-INTEGRITY were last
      const mac = createHmac('sha1', key).update(covered).digest();
      return mac.equals(Buffer.from(bytes.subarray(offset + 4, offset + 24)));
    }
    offset += 4 + ((length + 3) & ~3);
  }
  return false;
}

describe('RFC 5769 test vectors', () => {
  it('are transcribed correctly (their MESSAGE-INTEGRITY verifies)', () => {
    expect(messageIntegrityValid(SAMPLE_REQUEST, SHORT_TERM_PASSWORD)).toBe(true);
    expect(messageIntegrityValid(SAMPLE_IPV4_RESPONSE, SHORT_TERM_PASSWORD)).toBe(true);
    expect(messageIntegrityValid(SAMPLE_IPV6_RESPONSE, SHORT_TERM_PASSWORD)).toBe(true);
    // §2.4 long-term key: MD5(username ":" realm ":" SASLprep(password)).
    const key = createHash('md5')
      .update('\u30de\u30c8\u30ea\u30c3\u30af\u30b9:example.org:TheMatrIX')
      .digest();
    expect(messageIntegrityValid(SAMPLE_LONG_TERM_REQUEST, key)).toBe(true);
  });

  it('decodes the sample request, verifying its FINGERPRINT and keeping other attributes raw', () => {
    expect(isStun(SAMPLE_REQUEST)).toBe(true);
    const decoded = decodeStun(SAMPLE_REQUEST);
    if (!decoded.ok) throw new Error(decoded.error.message);
    const message = decoded.value;
    expect(message.method).toBe(METHOD_BINDING);
    expect(message.cls).toBe('request');
    expect(message.transactionId).toEqual(TRANSACTION_ID);
    expect(message.fingerprint).toBe(true);
    expect(findAttribute(message, 'software')?.value).toBe('STUN test client');
    expect(message.attributes.filter((a) => a.kind === 'unknown').map((a) => a.type)).toEqual([
      0x0024,
      0x8029,
      ATTR.USERNAME,
      ATTR.MESSAGE_INTEGRITY,
    ]);
    const username = message.attributes.find(
      (a) => a.kind === 'unknown' && a.type === ATTR.USERNAME,
    );
    expect(username?.kind === 'unknown' && Buffer.from(username.value).toString()).toBe(
      'evtj:h6vY',
    );
  });

  it('decodes the IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853', () => {
    const decoded = decodeStun(SAMPLE_IPV4_RESPONSE);
    if (!decoded.ok) throw new Error(decoded.error.message);
    expect(decoded.value.cls).toBe('success');
    expect(decoded.value.fingerprint).toBe(true);
    expect(findAttribute(decoded.value, 'software')?.value).toBe('test vector');
    expect(mappedAddressOf(decoded.value)).toEqual({
      address: '192.0.2.1',
      port: 32853,
      family: 4,
    });
  });

  it('decodes the IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853', () => {
    const decoded = decodeStun(SAMPLE_IPV6_RESPONSE);
    if (!decoded.ok) throw new Error(decoded.error.message);
    expect(decoded.value.fingerprint).toBe(true);
    expect(mappedAddressOf(decoded.value)).toEqual({
      address: '2001:db8:1234:5678:11:2233:4455:6677',
      port: 32853,
      family: 6,
    });
  });

  it('decodes the long-term-credential request (no FINGERPRINT; credentials left raw)', () => {
    const decoded = decodeStun(SAMPLE_LONG_TERM_REQUEST);
    if (!decoded.ok) throw new Error(decoded.error.message);
    expect(decoded.value.fingerprint).toBe(false);
    expect(decoded.value.transactionId).toEqual(hex('78ad3433 c6ad72c0 29da412e'));
    const types = decoded.value.attributes.map((a) => (a.kind === 'unknown' ? a.type : a.kind));
    expect(types).toEqual([ATTR.USERNAME, ATTR.NONCE, ATTR.REALM, ATTR.MESSAGE_INTEGRITY]);
  });

  it('re-encodes every vector byte for byte except padding, which we zero', () => {
    for (const vector of [
      SAMPLE_REQUEST,
      SAMPLE_IPV4_RESPONSE,
      SAMPLE_IPV6_RESPONSE,
      SAMPLE_LONG_TERM_REQUEST,
    ]) {
      const decoded = decodeStun(vector);
      if (!decoded.ok) throw new Error(decoded.error.message);
      const reencoded = encodeStun(decoded.value as StunMessage);
      expect(reencoded.length).toBe(vector.length);
      const roundTrip = decodeStun(reencoded);
      expect(roundTrip.ok && roundTrip.value).toEqual(decoded.value);
    }
  });

  it('reproduces the IPv4 response exactly when its space padding is zeroed and FINGERPRINT recomputed', () => {
    const decoded = decodeStun(SAMPLE_IPV4_RESPONSE);
    if (!decoded.ok) throw new Error(decoded.error.message);
    const expected = Uint8Array.from(SAMPLE_IPV4_RESPONSE);
    expected[20 + 4 + 11] = 0; // the RFC pads "test vector" with 0x20; RFC 8489 senders pad with 0
    const reencoded = encodeStun(decoded.value);
    expect(Buffer.from(reencoded.subarray(0, -4)).toString('hex')).toBe(
      Buffer.from(expected.subarray(0, -4)).toString('hex'),
    );
  });
});
