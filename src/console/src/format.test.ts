import { describe, expect, it } from 'vitest';
import {
  actorText,
  EXPIRY_WARNING_MS,
  keyExpiryState,
  ownerText,
  parseTags,
  relativeTime,
  splitList,
} from './format.js';

const NOW = Date.UTC(2026, 0, 31, 12);
const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe('console text', () => {
  it('says how long ago, or how soon', () => {
    expect(relativeTime(ago(10_000), NOW)).toBe('just now');
    expect(relativeTime(ago(5 * 60_000), NOW)).toBe('5 min ago');
    expect(relativeTime(ago(3 * 3_600_000), NOW)).toBe('3 h ago');
    expect(relativeTime(ago(86_400_000), NOW)).toBe('1 day ago');
    expect(relativeTime(ago(-2 * 86_400_000), NOW)).toBe('in 2 days');
    expect(relativeTime('not a time', NOW)).toBe('not a time');
  });

  it('tells a device’s key expiry state', () => {
    expect(keyExpiryState({ keyExpiry: ago(-1), keyExpiryDisabled: true }, NOW)).toEqual({
      state: 'disabled',
    });
    expect(keyExpiryState({ keyExpiry: null, keyExpiryDisabled: false }, NOW)).toEqual({
      state: 'none',
    });
    expect(keyExpiryState({ keyExpiry: ago(1), keyExpiryDisabled: false }, NOW).state).toBe(
      'expired',
    );
    expect(
      keyExpiryState({ keyExpiry: ago(-EXPIRY_WARNING_MS + 1), keyExpiryDisabled: false }, NOW),
    ).toMatchObject({
      state: 'expires',
      soon: true,
    });
    expect(
      keyExpiryState({ keyExpiry: ago(-EXPIRY_WARNING_MS - 1), keyExpiryDisabled: false }, NOW),
    ).toMatchObject({
      state: 'expires',
      soon: false,
    });
  });

  it('names owners and actors', () => {
    expect(
      ownerText({ type: 'user', user: { id: 'u1', displayName: 'Ada', email: 'ada@x.io' } }),
    ).toBe('ada@x.io');
    expect(ownerText({ type: 'user', user: { id: 'u1', displayName: 'Ada', email: null } })).toBe(
      'Ada',
    );
    expect(ownerText({ type: 'tagged', tags: ['tag:a', 'tag:b'] })).toBe('tag:a, tag:b');
    expect(actorText({ type: 'user', id: 'usr_1', email: null })).toBe('usr_1');
    expect(actorText({ type: 'api-key', id: 'api_1' })).toBe('API key api_1');
    expect(actorText({ type: 'system' })).toBe('system');
  });

  it('reads lists and tags as typed', () => {
    expect(splitList(' a, b\n\nc ,')).toEqual(['a', 'b', 'c']);
    expect(parseTags('db, tag:web ,')).toEqual(['tag:db', 'tag:web']);
    expect(parseTags('')).toEqual([]);
  });
});
