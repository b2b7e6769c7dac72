/**
 * Bitsets for the compiler's two indexes: per device, the rules it is a source or destination
 * of (fixed size: the rule count), and per rule, the devices in it (growable: device slots).
 * Visibility of a pair is then an AND of a few words, whatever the network's size.
 */

/** A fixed-size set of rule indexes. */
export type RuleBits = Uint32Array;

export const ruleBits = (ruleCount: number): RuleBits => new Uint32Array((ruleCount + 31) >>> 5);

export const setBit = (b: Uint32Array, i: number): void => {
  b[i >>> 5] = (b[i >>> 5] ?? 0) | (1 << (i & 31));
};

export const hasBit = (b: Uint32Array, i: number): boolean =>
  (((b[i >>> 5] ?? 0) >>> (i & 31)) & 1) === 1;

/** Whether two rule sets share a rule. */
export function intersects(a: Uint32Array, b: Uint32Array): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (((a[i] ?? 0) & (b[i] ?? 0)) !== 0) return true;
  return false;
}

export function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isEmpty(a: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

/** Calls `fn` with each set index, in ascending order. */
export function forEachBit(b: Uint32Array, fn: (i: number) => void): void {
  for (let w = 0; w < b.length; w++) {
    let word = b[w] ?? 0;
    while (word !== 0) {
      const low = word & -word;
      fn((w << 5) + (31 - Math.clz32(low)));
      word ^= low;
    }
  }
}

/** Indexes set in `a` or `b` but not both. */
export function xorBits(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(Math.max(a.length, b.length));
  for (let i = 0; i < out.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

/** Indexes set in `a` or `b`. */
export function orBits(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(Math.max(a.length, b.length));
  for (let i = 0; i < out.length; i++) out[i] = (a[i] ?? 0) | (b[i] ?? 0);
  return out;
}

/** A compact text key of a bitset (for grouping devices with equal memberships). */
export const bitsKey = (b: Uint32Array): string => b.join(',');

/** A growable set of device slots. */
export class SlotSet {
  private words = new Uint32Array(8);

  add(i: number): void {
    const w = i >>> 5;
    if (w >= this.words.length) {
      const next = new Uint32Array(Math.max(this.words.length * 2, w + 1));
      next.set(this.words);
      this.words = next;
    }
    setBit(this.words, i);
  }

  delete(i: number): void {
    const w = i >>> 5;
    if (w < this.words.length) this.words[w] = (this.words[w] ?? 0) & ~(1 << (i & 31));
  }

  has(i: number): boolean {
    return hasBit(this.words, i);
  }

  forEach(fn: (i: number) => void): void {
    forEachBit(this.words, fn);
  }

  /** Equal sets give equal keys (trailing zero words do not count). */
  key(): string {
    let end = this.words.length;
    while (end > 0 && this.words[end - 1] === 0) end--;
    return this.words.subarray(0, end).join(',');
  }
}
