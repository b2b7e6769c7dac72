/**
 * CLI output: aligned tables for people, JSON (`--json`) for scripts. Results go to stdout;
 * notes, warnings and prompts go to stderr so a pipe receives only the result.
 */
export interface Output {
  readonly json: boolean;
  /** Prints `value` as JSON with --json, else the human rendering. */
  emit(value: unknown, human: () => string): void;
  /** A note for the person at the terminal (stderr). */
  note(text: string): void;
}

export function createOutput(
  json: boolean,
  stdout: (s: string) => void = (s) => void process.stdout.write(s),
  stderr: (s: string) => void = (s) => void process.stderr.write(s),
): Output {
  return {
    json,
    emit: (value, human) => {
      const text = json ? JSON.stringify(value, null, 2) : human();
      if (text !== '') stdout(text.endsWith('\n') ? text : `${text}\n`);
    },
    note: (text) => stderr(text.endsWith('\n') ? text : `${text}\n`),
  };
}

/** Column-aligned table; cells are single-line (newlines and tabs become spaces). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const clean = (s: string) => s.replace(/[\r\n\t]+/g, ' ');
  const all = [headers.map(clean), ...rows.map((r) => r.map(clean))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** "2026-01-31 12:00" (UTC, minutes) or "-" for none. */
export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '-' : `${d.toISOString().slice(0, 16).replace('T', ' ')}`;
}

export const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
