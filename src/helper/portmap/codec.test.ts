import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeNatPmpResponse,
  encodeExternalAddressRequest,
  encodeMapUdpRequest,
} from './natpmp.js';
import { decodePcpResponse, encodeAnnounceRequest, encodeMapRequest } from './pcp.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

describe('NAT-PMP codec (RFC 6886)', () => {
  it('encodes the external address and UDP map requests byte for byte', () => {
    expect(hex(encodeExternalAddressRequest())).toBe('0000');
    // version 0, opcode 1 (UDP), reserved, internal 41641, suggested 41641, lifetime 7200.
    expect(hex(encodeMapUdpRequest(41641, 41641, 7200))).toBe('00010000a2a9a2a900001c20');
    expect(hex(encodeMapUdpRequest(41641, 0, 0))).toBe('00010000a2a9000000000000');
  });

  it('decodes the answers (what miniupnpd sends)', () => {
    expect(decodeNatPmpResponse(bytes('0080 0000 00000002 cb007178'))).toEqual({
      ok: true,
      value: { op: 'external-address', epoch: 2, address: '203.0.113.120' },
    });
    expect(decodeNatPmpResponse(bytes('0081 0000 00000005 a2a9 c350 00001c20'))).toEqual({
      ok: true,
      value: {
        op: 'map-udp',
        epoch: 5,
        internalPort: 41641,
        externalPort: 50000,
        lifetimeSec: 7200,
      },
    });
  });

  it('turns result codes and malformed packets into typed errors', () => {
    const code = (h: string) => {
      const r = decodeNatPmpResponse(bytes(h));
      return r.ok ? null : r.error.code;
    };
    const refused = decodeNatPmpResponse(bytes('0080 0003 00000002 00000000'));
    expect(refused).toMatchObject({ ok: false, error: { code: 'result-code', resultCode: 3 } });
    expect(code('0080')).toBe('too-short');
    expect(code('0280 0000 00000002 cb007178')).toBe('bad-version');
    expect(code('0001 0000 00000002 cb007178')).toBe('not-a-response');
    expect(code('0080 0000 00000002 cb0071')).toBe('bad-length');
    expect(code('0081 0000 00000002 a2a9c350')).toBe('bad-length');
    expect(code('0085 0000 00000002 00000000')).toBe('unknown-opcode');
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const r = decodeNatPmpResponse(b);
        expect(typeof r.ok).toBe('boolean');
      }),
    );
  });
});

describe('PCP codec (RFC 6887)', () => {
  const nonce = bytes('0102030405060708090a0b0c');

  it('encodes ANNOUNCE and MAP with IPv4-mapped addresses', () => {
    // version 2, opcode 0, reserved, lifetime 0, client ::ffff:10.1.0.10
    expect(hex(encodeAnnounceRequest('10.1.0.10'))).toBe(
      '02000000' + '00000000' + '00000000000000000000ffff0a01000a',
    );
    const map = encodeMapRequest({
      clientIpv4: '10.1.0.10',
      nonce,
      internalPort: 41641,
      suggestedExternalPort: 41641,
      suggestedExternalIpv4: null,
      lifetimeSec: 7200,
    });
    expect(map.length).toBe(60);
    expect(hex(map)).toBe(
      '02010000' +
        '00001c20' +
        '00000000000000000000ffff0a01000a' +
        hex(nonce) +
        '11000000' + // protocol UDP (17), reserved
        'a2a9a2a9' +
        '00000000000000000000ffff00000000',
    );
    expect(() =>
      encodeMapRequest({
        clientIpv4: '10.1.0.10',
        nonce: new Uint8Array(3),
        internalPort: 1,
        suggestedExternalPort: 1,
        suggestedExternalIpv4: null,
        lifetimeSec: 1,
      }),
    ).toThrow(RangeError);
  });

  const mapResponse = (result: string, addr: string) =>
    bytes(
      '0281 00' +
        result +
        '00001c20' + // lifetime
        '00000007' + // epoch
        '000000000000000000000000' + // reserved
        hex(nonce) +
        '11000000' +
        'a2a9c350' +
        addr,
    );

  it('decodes MAP and ANNOUNCE answers', () => {
    expect(decodePcpResponse(mapResponse('00', '00000000000000000000ffffcb007178'))).toEqual({
      ok: true,
      value: {
        op: 'map',
        epoch: 7,
        lifetimeSec: 7200,
        nonce,
        protocol: 17,
        internalPort: 41641,
        externalPort: 50000,
        externalAddress: '203.0.113.120',
      },
    });
    const announce = bytes('0280 0000 00000000 00000009 000000000000000000000000');
    expect(decodePcpResponse(announce)).toEqual({
      ok: true,
      value: { op: 'announce', epoch: 9, lifetimeSec: 0 },
    });
  });

  it('turns result codes and malformed packets into typed errors', () => {
    const code = (b: Uint8Array) => {
      const r = decodePcpResponse(b);
      return r.ok ? null : r.error.code;
    };
    expect(decodePcpResponse(mapResponse('02', '00'.repeat(16)))).toMatchObject({
      ok: false,
      error: { code: 'result-code', resultCode: 2 },
    });
    expect(code(bytes('0281'))).toBe('too-short');
    // A NAT-PMP-only server answers PCP with its own version 0 "unsupported version".
    expect(code(bytes('0080 0001 00000002 00000000 00000000 00000000'))).toBe('bad-version');
    expect(code(bytes('0201' + '00'.repeat(22)))).toBe('not-a-response');
    expect(code(mapResponse('00', '').subarray(0, 40))).toBe('bad-length');
    expect(code(mapResponse('00', '00000000000000000000ffff00000000'))).toBe('bad-address');
    expect(code(bytes('0285' + '00'.repeat(22)))).toBe('unknown-opcode');
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (b) => {
        const r = decodePcpResponse(b);
        expect(typeof r.ok).toBe('boolean');
      }),
    );
    // Valid headers with random bodies reach the MAP decoder.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (body) => {
        const b = new Uint8Array(24 + body.length);
        b.set([2, 0x81, 0, 0], 0);
        b.set(body, 24);
        expect(typeof decodePcpResponse(b).ok).toBe('boolean');
      }),
    );
  });
});
