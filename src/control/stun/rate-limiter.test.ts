import { describe, expect, it } from 'vitest';
import { SourceRateLimiter } from './rate-limiter.js';

function limiter(config: { ratePerSecond: number; burst: number; maxTrackedSources: number }) {
  let now = 0;
  return {
    limiter: new SourceRateLimiter(config, () => now),
    advance: (ms: number) => (now += ms),
  };
}

describe('SourceRateLimiter', () => {
  it('allows a burst, then the sustained rate', () => {
    const { limiter: l, advance } = limiter({
      ratePerSecond: 10,
      burst: 3,
      maxTrackedSources: 100,
    });
    expect([l.allow('a'), l.allow('a'), l.allow('a'), l.allow('a')]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    advance(100); // one token at 10/s
    expect([l.allow('a'), l.allow('a')]).toEqual([true, false]);
    advance(10_000); // refill is capped at the burst
    expect(Array.from({ length: 5 }, () => l.allow('a'))).toEqual([true, true, true, false, false]);
  });

  it('keeps separate buckets per source', () => {
    const { limiter: l } = limiter({ ratePerSecond: 1, burst: 1, maxTrackedSources: 100 });
    expect(l.allow('a')).toBe(true);
    expect(l.allow('a')).toBe(false);
    expect(l.allow('b')).toBe(true);
  });

  it('bounds memory by forgetting the least recently seen source', () => {
    const { limiter: l } = limiter({ ratePerSecond: 1, burst: 1, maxTrackedSources: 2 });
    l.allow('a');
    l.allow('b');
    l.allow('a'); // refreshes a; b is now the least recently seen
    l.allow('c');
    expect(l.trackedSources).toBe(2);
    expect(l.allow('a')).toBe(false); // a was kept with its empty bucket
    expect(l.allow('b')).toBe(true); // b was forgotten, so it starts with a fresh bucket
    for (let i = 0; i < 1000; i++) l.allow(`s${i}`);
    expect(l.trackedSources).toBe(2);
  });
});
