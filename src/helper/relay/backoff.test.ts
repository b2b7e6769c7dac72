import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF } from './backoff.js';

describe('reconnect backoff', () => {
  it('doubles from the initial delay up to the cap', () => {
    const lo = () => 0;
    const hi = () => 0.999999;
    expect(backoffDelayMs(0, lo)).toBe(250);
    expect(backoffDelayMs(0, hi)).toBe(500);
    expect(backoffDelayMs(1, hi)).toBe(1000);
    expect(backoffDelayMs(3, hi)).toBe(4000);
    expect(backoffDelayMs(20, hi)).toBe(30_000);
    expect(backoffDelayMs(20, lo)).toBe(15_000);
    expect(backoffDelayMs(Number.MAX_SAFE_INTEGER, hi)).toBe(30_000);
  });

  it('stays within [cap/2, cap] for any attempt and random value', () => {
    fc.assert(
      fc.property(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, r) => {
        const d = backoffDelayMs(attempt, () => r);
        const cap = Math.min(
          DEFAULT_BACKOFF.maxMs,
          DEFAULT_BACKOFF.initialMs * 2 ** Math.min(attempt, 30),
        );
        return d >= Math.floor(cap / 2) && d <= cap;
      }),
    );
  });

  it('spreads clients out: different random draws give different delays', () => {
    const delays = new Set([0.1, 0.4, 0.7, 0.95].map((r) => backoffDelayMs(4, () => r)));
    expect(delays.size).toBe(4);
  });
});
