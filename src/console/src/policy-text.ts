/** The policy editor's view of HuJSON text: positions of problems, and the tests it declares. */
import JSON5 from 'json5';

/**
 * The character offset of a 1-based line and column, as control reports them (lines end at
 * "\n", columns count UTF-16 units). Clamped into the text.
 */
export function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  const end = text.indexOf('\n', offset);
  const lineEnd = end < 0 ? text.length : end;
  return Math.min(offset + Math.max(0, column - 1), lineEnd);
}

/**
 * How many entries the document's `tests` section has, or null when the text does not parse
 * (control says why when it is saved).
 */
export function countPolicyTests(text: string): number | null {
  try {
    const doc: unknown = JSON5.parse(text);
    if (typeof doc !== 'object' || doc === null) return null;
    const tests = (doc as { tests?: unknown }).tests;
    return Array.isArray(tests) ? tests.length : 0;
  } catch {
    return null;
  }
}

export function problemLocation(p: { line?: number; column?: number }): string | null {
  if (p.line === undefined) return null;
  return `Line ${p.line}, column ${p.column ?? 1}`;
}
