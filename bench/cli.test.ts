import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from './cli.js';

const spec = {
  parts: ['a', 'b', 'c'] as const,
  count: { name: 'rounds', default: 5, max: 100 },
  defaultOut: 'out/bench/x.json',
};

describe('parseBenchArgs', () => {
  it('takes the defaults, and each option', () => {
    expect(parseBenchArgs(spec, [])).toMatchObject({ count: 5, parts: ['a', 'b', 'c'] });
    const o = parseBenchArgs(spec, ['--rounds', '9', '--parts', 'c, a', '--out', '/tmp/r.json']);
    expect(o).toEqual({ count: 9, parts: ['c', 'a'], out: '/tmp/r.json' });
    expect(parseBenchArgs(spec, ['-h'])).toBe('help');
  });

  it('refuses unknown parts, counts out of range and unknown flags', () => {
    expect(() => parseBenchArgs(spec, ['--parts', 'a,z'])).toThrow('unknown part z');
    for (const n of ['0', '101', '2.5', 'x']) {
      expect(() => parseBenchArgs(spec, ['--rounds', n])).toThrow('--rounds must be');
    }
    expect(() => parseBenchArgs(spec, ['--seconds', '3'])).toThrow();
  });
});
