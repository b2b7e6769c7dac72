/**
 * Where a JSON path sits in HuJSON/JSON5 source text, so validation errors can say "line 12,
 * column 9". json5 builds the value but forgets positions; this scanner walks the same text
 * (already accepted by json5) once and records, for every object member and array element up to
 * MAX_INDEXED_DEPTH, where its key and its value start. It also reports duplicate object keys,
 * which json5 silently resolves to the last one — in a policy that is almost always a mistake.
 *
 * The scanner never throws: on anything it does not expect it stops, and later lookups fall back
 * to the nearest indexed ancestor (ultimately line 1, column 1).
 */
import JSON5 from 'json5';

export type JsonPath = readonly (string | number)[];

/** 1-based line and column; lines end at "\n" and columns count UTF-16 units, as json5 reports. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/**
 * Values deeper than this are skipped, not indexed. A policy's deepest meaningful value is six
 * levels down (postures → name → check → processes → entry → OS); indexing every level of a
 * hostile 100,000-deep array would cost quadratic time for paths nobody asks about.
 */
export const MAX_INDEXED_DEPTH = 16;

interface Entry {
  readonly key: number | null;
  readonly value: number;
}

export interface DuplicateKey {
  readonly path: JsonPath;
  readonly position: SourcePosition;
}

export class PositionIndex {
  private readonly lineStarts: number[] = [0];
  /** Object keys that appear twice in one object, at their second occurrence. */
  readonly duplicates: readonly DuplicateKey[];
  constructor(
    private readonly text: string,
    private readonly entries: ReadonlyMap<string, Entry>,
    duplicateOffsets: ReadonlyArray<{ path: JsonPath; offset: number }> = [],
  ) {
    for (let i = 0; i < text.length; i++)
      if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    this.duplicates = duplicateOffsets.map((d) => ({
      path: d.path,
      position: this.position(d.offset),
    }));
  }

  /** Where the value at `path` starts, or the nearest ancestor that was indexed. */
  value(path: JsonPath): SourcePosition {
    return this.at(path, false);
  }

  /** Where the key of the member at `path` starts (its value's position for array elements). */
  key(path: JsonPath): SourcePosition {
    return this.at(path, true);
  }

  /** 1-based line and column of a character offset. */
  position(offset: number): SourcePosition {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: o - (this.lineStarts[lo] ?? 0) + 1 };
  }

  private at(path: JsonPath, preferKey: boolean): SourcePosition {
    for (let n = Math.min(path.length, MAX_INDEXED_DEPTH); n >= 0; n--) {
      const e = this.entries.get(pathKey(path.slice(0, n)));
      if (e)
        return this.position(preferKey && n === path.length && e.key !== null ? e.key : e.value);
    }
    return { line: 1, column: 1 };
  }
}

const pathKey = (path: JsonPath): string => JSON.stringify(path);

const isSpace = (c: string): boolean => /\s/.test(c);
const DELIMITERS = new Set([',', ']', '}', ':', '/', '"', "'", '[', '{']);

interface Frame {
  readonly kind: 'object' | 'array';
  readonly path: JsonPath | null; // null below MAX_INDEXED_DEPTH
  readonly keys: Set<string>;
  next: number;
}

/** Indexes text that json5 has already parsed successfully. */
export function indexPositions(text: string): PositionIndex {
  const entries = new Map<string, Entry>();
  const dupOffsets: Array<{ path: JsonPath; offset: number }> = [];
  const stack: Frame[] = [];
  let i = 0;

  const skipTrivia = (): void => {
    while (i < text.length) {
      const c = text[i] ?? '';
      if (isSpace(c)) i++;
      else if (c === '/' && text[i + 1] === '/') {
        i += 2;
        while (i < text.length && !'\n\r\u2028\u2029'.includes(text[i] ?? '')) i++;
      } else if (c === '/' && text[i + 1] === '*') {
        const end = text.indexOf('*/', i + 2);
        i = end < 0 ? text.length : end + 2;
      } else return;
    }
  };
  const skipString = (): void => {
    const quote = text[i];
    i++;
    while (i < text.length && text[i] !== quote) i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const skipAtom = (): void => {
    const start = i;
    while (i < text.length && !DELIMITERS.has(text[i] ?? '') && !isSpace(text[i] ?? '')) i++;
    if (i === start) i++; // never stall on an unexpected character
  };
  const readKey = (): string => {
    const start = i;
    const c = text[i];
    if (c === '"' || c === "'") {
      skipString();
      try {
        return String(JSON5.parse(text.slice(start, i)));
      } catch {
        return text.slice(start + 1, i - 1);
      }
    }
    skipAtom();
    return text
      .slice(start, i)
      .replace(/\\u([0-9a-fA-F]{4})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  };

  let pending: { path: JsonPath | null; key: number | null } | null = { path: [], key: null };
  while (i < text.length || pending) {
    const before = i;
    skipTrivia();
    if (pending) {
      if (i >= text.length) break;
      const { path, key } = pending;
      pending = null;
      if (path) entries.set(pathKey(path), { key, value: i });
      const c = text[i];
      const childPath = path && path.length < MAX_INDEXED_DEPTH ? path : null;
      if (c === '{' || c === '[') {
        stack.push({
          kind: c === '{' ? 'object' : 'array',
          path: childPath,
          keys: new Set(),
          next: 0,
        });
        i++;
      } else if (c === '"' || c === "'") skipString();
      else skipAtom();
      continue;
    }
    const top = stack[stack.length - 1];
    if (!top || i >= text.length) break;
    const c = text[i];
    if (c === ',') {
      i++;
      continue;
    }
    if ((top.kind === 'object' && c === '}') || (top.kind === 'array' && c === ']')) {
      stack.pop();
      i++;
      continue;
    }
    if (top.kind === 'array') {
      pending = { path: top.path ? [...top.path, top.next] : null, key: null };
      top.next++;
      continue;
    }
    const keyStart = i;
    const key = readKey();
    skipTrivia();
    if (text[i] !== ':') break;
    i++;
    const path = top.path ? [...top.path, key] : null;
    if (path) {
      if (top.keys.has(key)) dupOffsets.push({ path, offset: keyStart });
      top.keys.add(key);
    }
    pending = { path, key: keyStart };
    if (i === before) break;
  }
  return new PositionIndex(text, entries, dupOffsets);
}
