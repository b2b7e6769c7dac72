import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadGeoCsvFile, parseGeoCsv } from './geo.js';

const FIXTURE = fileURLToPath(new URL('./testdata/geo.csv', import.meta.url));

describe('geo CSV', () => {
  it('loads the shipped fixture and answers by most specific prefix', async () => {
    const r = await loadGeoCsvFile(FIXTURE);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const geo = r.value;
    expect(geo.country('192.0.2.77')).toBe('DE');
    expect(geo.country('198.51.100.5')).toBe('FR');
    expect(geo.country('198.51.100.200')).toBe('US'); // the nested /25 wins
    expect(geo.country('2001:db8::1')).toBe('DE');
    expect(geo.country('2001:db8:ff12::1')).toBe('JP');
    expect(geo.country('8.8.8.8')).toBeNull();
    expect(geo.country('not an ip')).toBeNull();
  });

  it('reports the line of a bad row', () => {
    expect(parseGeoCsv('# c\n10.0.0.0/8,DE\n10.0.0.1/8,DE\n')).toEqual({
      ok: false,
      error: { line: 3, message: expect.stringMatching(/host bits/) },
    });
    expect(parseGeoCsv('10.0.0.0/8,de')).toMatchObject({ ok: false, error: { line: 1 } });
    expect(parseGeoCsv('10.0.0.0/8')).toMatchObject({ ok: false, error: { line: 1 } });
    expect(parseGeoCsv(`10.0.0.0/8,DE,${'x'.repeat(200)}`)).toMatchObject({
      ok: false,
      error: { line: 1, message: 'line too long' },
    });
  });

  it('reports a missing file as an error, not an exception', async () => {
    const r = await loadGeoCsvFile('/nonexistent/geo.csv');
    expect(r).toMatchObject({ ok: false, error: { line: 0 } });
  });

  it('never throws on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (t) => {
        const r = parseGeoCsv(t);
        if (!r.ok) expect(r.error.line).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });
});
