/**
 * Shared plumbing of the lab's helper scripts (they run as `node --import tsx <script>` inside a
 * namespace): argument errors exit with status 2, results go to stdout as one JSON line, and
 * servers stop cleanly on SIGTERM/SIGINT.
 */

/** Prints one JSON line on stdout. */
export function emit(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Exits with a usage error. */
export function usage(script: string, message: string, synopsis: string): never {
  process.stderr.write(`${script}: ${message}\nusage: ${synopsis}\n`);
  process.exit(2);
}

/** Runs `close` on the first SIGTERM or SIGINT, then exits 0 (or 1 if closing failed). */
export function closeOnSignal(close: () => Promise<void>): void {
  let closing = false;
  const onSignal = (): void => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`close failed: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** A decimal integer in [0, max], or undefined. */
export function parseIntArg(text: string | undefined, max: number): number | undefined {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/** A port number, or undefined. */
export const parsePort = (text: string | undefined): number | undefined => parseIntArg(text, 65535);
