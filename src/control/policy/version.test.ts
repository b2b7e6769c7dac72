import { describe, expect, it } from 'vitest';
import { compareOsVersions, compareSemver, parseOsVersion, parseSemver } from './version.js';

const sv = (t: string) => {
  const p = parseSemver(t);
  if (!p) throw new Error(t);
  return p;
};

describe('semver precedence (SemVer 2.0.0 §11)', () => {
  it('orders the specification example', () => {
    const order = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.2.0',
      '1.10.0',
      '2.0.0',
    ];
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) {
        const c = compareSemver(sv(order[i] ?? ''), sv(order[j] ?? ''));
        expect(Math.sign(c), `${order[i]} vs ${order[j]}`).toBe(Math.sign(i - j));
      }
    }
  });

  it('ignores build metadata and rejects non-semver', () => {
    expect(compareSemver(sv('1.4.0+build.7'), sv('1.4.0'))).toBe(0);
    expect(parseSemver('1.4')).toBeNull();
    expect(parseSemver('v1.4.0')).toBeNull();
  });
});

describe('OS versions', () => {
  it('reads the leading dotted number of each OS spelling', () => {
    expect(parseOsVersion('6.1.0-18-amd64')).toEqual([6, 1, 0]);
    expect(parseOsVersion('10.0.22631.3155')).toEqual([10, 0, 22631, 3155]);
    expect(parseOsVersion('14')).toEqual([14]);
    expect(parseOsVersion('Darwin')).toBeNull();
  });

  it('compares numerically with missing parts as zero', () => {
    expect(compareOsVersions([5, 15], [5, 9])).toBeGreaterThan(0);
    expect(compareOsVersions([14], [14, 0, 0])).toBe(0);
    expect(compareOsVersions([10, 0, 19045], [10, 0, 22631])).toBeLessThan(0);
  });
});
