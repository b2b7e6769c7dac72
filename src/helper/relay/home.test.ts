import { describe, expect, it } from 'vitest';
import { chooseHomeRegion, type HomeRegionInput } from './home.js';

const input = (over: Partial<HomeRegionInput>): HomeRegionInput => ({
  regions: [1, 2, 3],
  current: null,
  preferred: null,
  latencies: new Map(),
  failed: new Set(),
  ...over,
});

describe('chooseHomeRegion', () => {
  it('starts with the first region of the map until latencies are known', () => {
    expect(chooseHomeRegion(input({}))).toBe(1);
    expect(chooseHomeRegion(input({ regions: [] }))).toBeNull();
  });

  it('picks the fastest region, or what netcheck prefers', () => {
    const latencies = new Map([
      [1, 40],
      [2, 10],
      [3, 25],
    ]);
    expect(chooseHomeRegion(input({ latencies }))).toBe(2);
    expect(chooseHomeRegion(input({ latencies, preferred: 3 }))).toBe(3);
  });

  it('keeps the current home unless another region is clearly (a third) faster', () => {
    const similar = new Map([
      [1, 15.7],
      [2, 14.8],
    ]);
    expect(chooseHomeRegion(input({ current: 1, latencies: similar }))).toBe(1);
    expect(chooseHomeRegion(input({ current: 1, latencies: similar, preferred: 2 }))).toBe(1);
    const faster = new Map([
      [1, 30],
      [2, 19],
    ]);
    expect(chooseHomeRegion(input({ current: 1, latencies: faster }))).toBe(2);
    expect(chooseHomeRegion(input({ current: 1, latencies: faster, preferred: 2 }))).toBe(2);
  });

  it('leaves a failed region at once, and uses one anyway when all failed', () => {
    const latencies = new Map([
      [1, 5],
      [2, 50],
    ]);
    expect(chooseHomeRegion(input({ current: 1, latencies, failed: new Set([1]) }))).toBe(2);
    expect(chooseHomeRegion(input({ current: 1, preferred: 1, failed: new Set([1]) }))).toBe(2);
    expect(chooseHomeRegion(input({ current: 2, failed: new Set([1, 2, 3]) }))).toBe(2);
  });
});
