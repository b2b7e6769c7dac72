import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_LCS_CELLS, unifiedDiff } from './line-diff.js';

/** Rebuilds both texts from a diff's hunks and the unchanged lines between them. */
function sides(diff: string): { old: string[]; new: string[] } {
  const body = diff.split('\n').filter((l) => !/^(---|\+\+\+|@@) /.test(l));
  return {
    old: body.filter((l) => !l.startsWith('+')).map((l) => l.slice(1)),
    new: body.filter((l) => !l.startsWith('-')).map((l) => l.slice(1)),
  };
}

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedDiff('a\nb', 'a\nb')).toBe('');
  });

  it('prints one hunk with context and diff -u numbering', () => {
    const old = ['1', '2', '3', '4', '5', '6', '7', '8'].join('\n');
    const next = ['1', '2', '3', '4', 'five', '6', '7', '8'].join('\n');
    expect(unifiedDiff(old, next, { old: 'v1', new: 'v2' })).toBe(
      [
        '--- v1',
        '+++ v2',
        '@@ -2,7 +2,7 @@',
        ' 2',
        ' 3',
        ' 4',
        '-5',
        '+five',
        ' 6',
        ' 7',
        ' 8',
      ].join('\n'),
    );
  });

  it('numbers an insertion into an empty text from 0', () => {
    expect(unifiedDiff('', 'x')).toBe(['--- old', '+++ new', '@@ -0,0 +1,1 @@', '+x'].join('\n'));
  });

  it('splits distant changes into separate hunks', () => {
    const old = Array.from({ length: 30 }, (_, i) => `l${i}`);
    const next = old.map((l, i) => (i === 2 || i === 25 ? `${l}!` : l));
    const d = unifiedDiff(old.join('\n'), next.join('\n'));
    expect(d.split('\n').filter((l) => l.startsWith('@@'))).toEqual([
      '@@ -1,6 +1,6 @@',
      '@@ -23,7 +23,7 @@',
    ]);
  });

  it('replaces whole when the changed middle is too large for the table', () => {
    const n = Math.ceil(Math.sqrt(MAX_LCS_CELLS)) + 1;
    const old = Array.from({ length: n }, (_, i) => `a${i}`).join('\n');
    const next = Array.from({ length: n }, (_, i) => `b${i}`).join('\n');
    const d = unifiedDiff(old, next);
    expect(d.split('\n').filter((l) => l.startsWith('-a')).length).toBe(n);
    expect(sides(d).new.join('\n')).toBe(next);
  });

  it('patches the old text into the new one (property)', () => {
    const text = fc
      .array(fc.constantFrom('a', 'b', 'c', '', '{', '}'), { maxLength: 40 })
      .map((ls) => ls.join('\n'));
    fc.assert(
      fc.property(text, text, (a, b) => {
        const d = unifiedDiff(a, b);
        if (a === b) return d === '';
        return patch(a, d) === b;
      }),
    );
  });
});

/** Applies a unified diff, checking every context and removed line against the old text. */
function patch(oldText: string, diff: string): string {
  const a = oldText === '' ? [] : oldText.split('\n');
  const out: string[] = [];
  let ai = 0;
  const lines = diff.split('\n').slice(2);
  for (const l of lines) {
    const hunk = /^@@ -(\d+),(\d+) \+\d+,\d+ @@$/.exec(l);
    if (hunk) {
      const start = Number(hunk[2]) === 0 ? Number(hunk[1]) : Number(hunk[1]) - 1;
      while (ai < start) out.push(a[ai++] ?? '');
      continue;
    }
    const kind = l[0];
    const line = l.slice(1);
    if (kind === '+') out.push(line);
    else {
      if (a[ai] !== line) throw new Error(`line ${ai + 1} is not ${JSON.stringify(line)}`);
      if (kind === ' ') out.push(line);
      ai++;
    }
  }
  while (ai < a.length) out.push(a[ai++] ?? '');
  return out.join('\n');
}
