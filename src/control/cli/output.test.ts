import { describe, expect, it } from 'vitest';
import { createOutput, fmtTime, table } from './output.js';

describe('table', () => {
  it('aligns columns and keeps cells on one line', () => {
    const t = table(
      ['ID', 'NAME'],
      [
        ['a', 'x\ny'],
        ['longer-id', 'z'],
      ],
    );
    expect(t.split('\n')).toEqual(['ID         NAME', 'a          x y', 'longer-id  z']);
  });
});

describe('output', () => {
  it('prints JSON with --json and the human form otherwise', () => {
    const out: string[] = [];
    const err: string[] = [];
    createOutput(
      true,
      (s) => out.push(s),
      (s) => err.push(s),
    ).emit({ a: 1 }, () => 'human');
    createOutput(
      false,
      (s) => out.push(s),
      (s) => err.push(s),
    ).emit({ a: 1 }, () => 'human');
    createOutput(
      false,
      (s) => out.push(s),
      (s) => err.push(s),
    ).note('note');
    expect(out).toEqual(['{\n  "a": 1\n}\n', 'human\n']);
    expect(err).toEqual(['note\n']);
  });

  it('formats times in UTC minutes', () => {
    expect(fmtTime('2026-01-31T12:34:56.000Z')).toBe('2026-01-31 12:34');
    expect(fmtTime(null)).toBe('-');
  });
});
