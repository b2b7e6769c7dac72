import fc from 'fast-check';
import JSON5 from 'json5';
import { describe, expect, it } from 'vitest';
import { indexPositions, MAX_INDEXED_DEPTH } from './locate.js';

/** The 1-based line/column of the first occurrence of `needle` in `text`. */
function at(text: string, needle: string, nth = 0): { line: number; column: number } {
  let i = -1;
  for (let k = 0; k <= nth; k++) i = text.indexOf(needle, i + 1);
  if (i < 0) throw new Error(`${needle} not in text`);
  const before = text.slice(0, i);
  const line = before.split('\n').length;
  return { line, column: i - before.lastIndexOf('\n') };
}

describe('indexPositions', () => {
  const text = `// leading comment
{
  /* block
     comment */ "groups": {
    'group:eng': ["alice@x.com", // trailing
      "bob@x.com",],
  },
  acls: [
    { action: "accept", src: ["*"], dst: ["a\\"b:22"] },
    {action:'accept'},
  ],
  "esc\\u0061ped": 1,
  unquoted\\u0041: 2,
}`;
  const idx = indexPositions(text);

  it('locates values and keys through comments, quotes and unquoted keys', () => {
    expect(idx.value(['groups'])).toEqual(at(text, "{\n    'group"));
    expect(idx.key(['groups'])).toEqual(at(text, '"groups"'));
    expect(idx.key(['groups', 'group:eng'])).toEqual(at(text, "'group:eng'"));
    expect(idx.value(['groups', 'group:eng', 1])).toEqual(at(text, '"bob@x.com"'));
    expect(idx.value(['acls', 0, 'dst', 0])).toEqual(at(text, '"a\\"b:22"'));
    expect(idx.key(['acls', 1, 'action'])).toEqual(at(text, 'action', 1));
    expect(idx.key(['escaped'])).toEqual(at(text, '"esc'));
    expect(idx.key(['unquotedA'])).toEqual(at(text, 'unquoted'));
  });

  it('falls back to the nearest indexed ancestor for unknown paths', () => {
    expect(idx.value(['acls', 0, 'nope', 3])).toEqual(idx.value(['acls', 0]));
    expect(idx.value(['missing'])).toEqual(at(text, '{\n  /*'));
  });

  it('reports duplicate keys at the second occurrence', () => {
    const t = '{\n  "a": 1,\n  "b": {"x": 1, "x": 2},\n  "a": 3\n}';
    const d = indexPositions(t).duplicates;
    expect(d.map((x) => x.path)).toEqual([['b', 'x'], ['a']]);
    expect(d[0]?.position).toEqual(at(t, '"x"', 1));
    expect(d[1]?.position).toEqual(at(t, '"a"', 1));
  });

  it('matches json5 line and column conventions (lines end at \\n, columns count UTF-16 units)', () => {
    const t = '{"ü😀": 1,\r\n "k": [1, 2]}';
    let json5Error: { lineNumber?: number; columnNumber?: number } = {};
    try {
      JSON5.parse(t.replace('2]', 'x]'));
    } catch (e) {
      json5Error = e as typeof json5Error;
    }
    expect(indexPositions(t).value(['k', 1])).toEqual({
      line: json5Error.lineNumber,
      column: json5Error.columnNumber,
    });
  });

  it('indexes deep nesting only down to MAX_INDEXED_DEPTH, in linear time', () => {
    const depth = 50_000;
    const t = '['.repeat(depth) + ']'.repeat(depth);
    const started = performance.now();
    const idx2 = indexPositions(t);
    const deep = Array.from({ length: depth - 1 }, () => 0);
    expect(idx2.value(deep)).toEqual({ line: 1, column: MAX_INDEXED_DEPTH + 1 });
    // Quadratic behaviour would take minutes here; linear takes milliseconds.
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('agrees with json5 on the keys of any JSON value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (value, pretty) => {
        const t = JSON.stringify(value, null, pretty ? 2 : undefined);
        const idx2 = indexPositions(t);
        // Every top-level member's key position must point at its quoted key.
        if (value && typeof value === 'object' && !Array.isArray(value)) {
          for (const k of Object.keys(value)) {
            const pos = idx2.key([k]);
            const line = t.split('\n')[pos.line - 1] ?? '';
            expect(line.slice(pos.column - 1)).toMatch(/^"/);
            expect(
              JSON5.parse(line.slice(pos.column - 1).match(/^"(?:[^"\\]|\\.)*"/)?.[0] ?? '""'),
            ).toBe(k);
          }
        }
        expect(idx2.duplicates).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
