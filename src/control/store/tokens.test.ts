import { describe, expect, it } from 'vitest';
import { base32, newId } from './ids.js';
import { hashToken, newToken, TOKEN_PREFIXES, tokenDisplayPrefix } from './tokens.js';

describe('tokens', () => {
  it('makes 256-bit base64url tokens behind a readable prefix', () => {
    for (const prefix of Object.values(TOKEN_PREFIXES)) {
      const t = newToken(prefix);
      expect(t.startsWith(prefix)).toBe(true);
      const body = t.slice(prefix.length);
      expect(body).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(body, 'base64url')).toHaveLength(32);
    }
    const many = new Set(Array.from({ length: 1000 }, () => newToken('tr_sess_')));
    expect(many.size).toBe(1000);
  });

  it('hashes with SHA-256 hex', () => {
    // FIPS 180-2 test vector for "abc".
    expect(hashToken('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    const t = newToken('tr_node_');
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(t)).not.toBe(hashToken(`${t}x`));
  });

  it('shows only the prefix and six characters', () => {
    const t = newToken('tr_auth_');
    expect(tokenDisplayPrefix(t)).toBe(t.slice(0, 14));
    expect(tokenDisplayPrefix('tr_api_abcdefghij')).toBe('tr_api_abcdef');
    expect(tokenDisplayPrefix('unprefixed-token')).toBe('unpref');
  });
});

describe('ids', () => {
  it('encodes RFC 4648 base32 in lower case without padding', () => {
    const enc = (s: string) => base32(Buffer.from(s));
    expect(enc('')).toBe('');
    expect(enc('f')).toBe('my');
    expect(enc('fo')).toBe('mzxq');
    expect(enc('foo')).toBe('mzxw6');
    expect(enc('foob')).toBe('mzxw6yq');
    expect(enc('fooba')).toBe('mzxw6ytb');
    expect(enc('foobar')).toBe('mzxw6ytboi');
  });

  it('prefixes 128 random bits with the kind', () => {
    const id = newId('dev');
    expect(id).toMatch(/^dev_[a-z2-7]{26}$/);
    expect(new Set(Array.from({ length: 1000 }, () => newId('usr'))).size).toBe(1000);
  });
});
