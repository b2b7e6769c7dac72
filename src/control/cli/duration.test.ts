import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CliError, EXIT_USAGE } from './command.js';
import { parseDuration, parseTime } from './duration.js';

describe('parseDuration', () => {
  it('reads single units and sums', () => {
    expect(parseDuration('45s', 'x')).toBe(45);
    expect(parseDuration('30m', 'x')).toBe(1800);
    expect(parseDuration('12h', 'x')).toBe(43_200);
    expect(parseDuration('90d', 'x')).toBe(90 * 86_400);
    expect(parseDuration('1d12h', 'x')).toBe(129_600);
    expect(parseDuration('2w', 'x')).toBe(1_209_600);
  });

  it('refuses junk, zero and absurd lengths with a usage error naming the option', () => {
    for (const bad of ['', '10', 'h', '1x', '-1d', '1.5h', '0s', '99999w', '1d 2h']) {
      let caught: unknown;
      try {
        parseDuration(bad, '--expires');
      } catch (e) {
        caught = e;
      }
      expect(caught, bad).toBeInstanceOf(CliError);
      expect((caught as CliError).exitCode).toBe(EXIT_USAGE);
      expect((caught as CliError).message).toContain('--expires');
    }
  });

  it('either returns a positive bounded number or a CliError for any input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          const n = parseDuration(s, 'x');
          return Number.isInteger(n) && n > 0 && n <= 10 * 365 * 86_400;
        } catch (e) {
          return e instanceof CliError;
        }
      }),
    );
  });
});

describe('parseTime', () => {
  it('takes ISO times and durations ago', () => {
    expect(parseTime('2026-01-31T12:00:00Z', 'x')).toBe('2026-01-31T12:00:00.000Z');
    expect(parseTime('24h', 'x', Date.parse('2026-02-01T00:00:00Z'))).toBe(
      '2026-01-31T00:00:00.000Z',
    );
    expect(() => parseTime('2026-13-45', 'x')).toThrow(CliError);
  });
});
