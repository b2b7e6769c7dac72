import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_RESOLV_CONF_BYTES,
  nameserversOf,
  parseOwnResolvConf,
  renderResolvConf,
  RESOLV_CONF_HEADER,
  ResolvConfError,
  systemNameservers,
} from './resolv-conf.js';

const settings = {
  nameservers: ['100.100.100.100'],
  searchDomains: ['acme.trellis.', 'corp.example'],
};

describe('resolv.conf of ours', () => {
  it('points at our nameservers and carries the original, which parses back exactly', () => {
    const original = '# from DHCP\nnameserver 192.168.1.1\nnameserver fe80::1%eth0\nsearch home\n';
    const text = renderResolvConf(settings, original);
    expect(text.split('\n').slice(-3)).toEqual([
      'nameserver 100.100.100.100',
      'search acme.trellis corp.example',
      '',
    ]);
    expect(parseOwnResolvConf(text)).toEqual({ original });
    // The resolver falls back to the original's servers (a scoped one cannot be used).
    expect(systemNameservers(text)).toEqual(['192.168.1.1']);
  });

  it('records that there was no file', () => {
    const text = renderResolvConf(settings, null);
    expect(parseOwnResolvConf(text)).toEqual({ original: null });
    expect(systemNameservers(text)).toEqual([]);
  });

  it('does not take a file that is not ours for ours', () => {
    expect(parseOwnResolvConf('nameserver 1.1.1.1\n')).toBeNull();
    expect(parseOwnResolvConf(`${RESOLV_CONF_HEADER}\n# trellisd-original: maybe\n`)).toBeNull();
    expect(
      systemNameservers('nameserver 1.1.1.1\nnameserver bogus\n  nameserver 2001:db8::1'),
    ).toEqual(['1.1.1.1', '2001:db8::1']);
  });

  it('refuses values that would inject lines, and originals too large to carry', () => {
    expect(() =>
      renderResolvConf({ nameservers: ['1.1.1.1\nnameserver 6.6.6.6'], searchDomains: [] }, null),
    ).toThrow(ResolvConfError);
    expect(() => renderResolvConf({ nameservers: [], searchDomains: ['a b'] }, null)).toThrow(
      ResolvConfError,
    );
    expect(() => renderResolvConf(settings, 'x'.repeat(MAX_RESOLV_CONF_BYTES + 1))).toThrow(
      ResolvConfError,
    );
  });

  it('restores any original byte for byte (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (original) => {
        const own = parseOwnResolvConf(renderResolvConf(settings, original));
        expect(own).toEqual({ original });
      }),
    );
  });

  it('reads nameservers from arbitrary text without throwing (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 4000 }), (text) => {
        for (const ns of nameserversOf(text)) expect(ns).not.toMatch(/\s/);
        systemNameservers(text);
      }),
    );
  });
});
