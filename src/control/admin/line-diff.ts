/**
 * A unified line diff of two texts (the audit log's record of a policy change). Common leading
 * and trailing lines are cut first, so a typical edit leaves a small middle for the LCS table;
 * a middle too large for the table is shown as a whole replacement instead of using unbounded
 * memory.
 */

/** Unchanged lines shown around each change, as `diff -u` does. */
export const DIFF_CONTEXT_LINES = 3;
/**
 * Largest LCS table (old middle lines × new middle lines). 4M cells of 4 bytes is 16 MiB, held
 * for one request; policies are edited a few rules at a time, far below this.
 */
export const MAX_LCS_CELLS = 4_000_000;

type Op = { readonly kind: ' ' | '-' | '+'; readonly line: string };

const splitLines = (text: string): string[] => (text === '' ? [] : text.split('\n'));

function middleOps(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  if (n * m > MAX_LCS_CELLS || n === 0 || m === 0) {
    return [
      ...a.map((line) => ({ kind: '-' as const, line })),
      ...b.map((line) => ({ kind: '+' as const, line })),
    ];
  }
  // lcs[i*(m+1)+j]: LCS length of a[i..] and b[j..].
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] =
        a[i] === b[j]
          ? (lcs[(i + 1) * w + j + 1] ?? 0) + 1
          : Math.max(lcs[(i + 1) * w + j] ?? 0, lcs[i * w + j + 1] ?? 0);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i] ?? '' });
      i++;
      j++;
    } else if ((lcs[(i + 1) * w + j] ?? 0) >= (lcs[i * w + j + 1] ?? 0)) {
      ops.push({ kind: '-', line: a[i++] ?? '' });
    } else {
      ops.push({ kind: '+', line: b[j++] ?? '' });
    }
  }
  while (i < n) ops.push({ kind: '-', line: a[i++] ?? '' });
  while (j < m) ops.push({ kind: '+', line: b[j++] ?? '' });
  return ops;
}

function diffOps(a: readonly string[], b: readonly string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (
    suf < a.length - pre &&
    suf < b.length - pre &&
    a[a.length - 1 - suf] === b[b.length - 1 - suf]
  )
    suf++;
  const same = (lines: readonly string[]): Op[] => lines.map((line) => ({ kind: ' ', line }));
  return [
    ...same(a.slice(0, pre)),
    ...middleOps(a.slice(pre, a.length - suf), b.slice(pre, b.length - suf)),
    ...same(a.slice(a.length - suf)),
  ];
}

/**
 * `--- old` / `+++ new` headers and `@@ -l,n +l,n @@` hunks; '' when the texts are equal.
 */
export function unifiedDiff(
  oldText: string,
  newText: string,
  labels: { old: string; new: string } = { old: 'old', new: 'new' },
): string {
  const ops = diffOps(splitLines(oldText), splitLines(newText));
  const changed = ops.flatMap((o, k) => (o.kind === ' ' ? [] : [k]));
  if (changed.length === 0) return '';
  // Ranges of op indexes to print: each change with its context, merged when they touch.
  const ranges: Array<[number, number]> = [];
  for (const k of changed) {
    const from = Math.max(0, k - DIFF_CONTEXT_LINES);
    const to = Math.min(ops.length, k + DIFF_CONTEXT_LINES + 1);
    const last = ranges[ranges.length - 1];
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else ranges.push([from, to]);
  }
  const out = [`--- ${labels.old}`, `+++ ${labels.new}`];
  // Line numbers (1-based) in each text at the start of op k.
  const aAt: number[] = [];
  const bAt: number[] = [];
  let ai = 1;
  let bi = 1;
  for (const o of ops) {
    aAt.push(ai);
    bAt.push(bi);
    if (o.kind !== '+') ai++;
    if (o.kind !== '-') bi++;
  }
  for (const [from, to] of ranges) {
    const slice = ops.slice(from, to);
    const aLen = slice.filter((o) => o.kind !== '+').length;
    const bLen = slice.filter((o) => o.kind !== '-').length;
    // diff -u numbers an empty side by the line before it.
    const aStart = aLen === 0 ? (aAt[from] ?? 1) - 1 : (aAt[from] ?? 1);
    const bStart = bLen === 0 ? (bAt[from] ?? 1) - 1 : (bAt[from] ?? 1);
    out.push(`@@ -${aStart},${aLen} +${bStart},${bLen} @@`);
    for (const o of slice) out.push(`${o.kind}${o.line}`);
  }
  return out.join('\n');
}
