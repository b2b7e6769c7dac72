import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing/manual-clock.js';
import { PathLostSignal } from './path-lost-signal.js';

function setup() {
  const clock = new ManualClock();
  const fired: number[] = [];
  const signal = new PathLostSignal(clock, 5_000, () => fired.push(clock.now()));
  return { clock, fired, signal };
}

describe('PathLostSignal', () => {
  it('fires at once, coalesces losses within the interval into one firing at its end', () => {
    const { clock, fired, signal } = setup();
    signal.raise();
    expect(fired).toEqual([0]);
    clock.advance(1_000);
    signal.raise(); // every other peer's path dies a moment later: one more re-STUN, not five
    clock.advance(500);
    signal.raise();
    signal.raise();
    expect(fired).toEqual([0]);
    clock.advance(3_500);
    expect(fired).toEqual([0, 5_000]);
    clock.advance(60_000);
    expect(fired).toEqual([0, 5_000]);
  });

  it('never drops a loss that comes inside the interval (the rebinding after an unrelated loss)', () => {
    const { clock, fired, signal } = setup();
    signal.raise();
    clock.advance(4_000);
    signal.raise();
    clock.advance(1_000);
    expect(fired).toEqual([0, 5_000]);
    clock.advance(20_000);
    signal.raise();
    expect(fired).toEqual([0, 5_000, 25_000]);
  });

  it('fires nothing after close', () => {
    const { clock, fired, signal } = setup();
    signal.raise();
    signal.raise();
    signal.close();
    clock.advance(10_000);
    signal.raise();
    expect(fired).toEqual([0]);
    expect(clock.pending()).toEqual([]);
  });
});
