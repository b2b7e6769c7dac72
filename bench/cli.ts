/** Command-line options and the machine record shared by the lab benchmarks. */
import os from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export interface BenchCliSpec<P extends string> {
  readonly parts: readonly P[];
  /** The one numeric option (per-part seconds, rounds): its name, default and range. */
  readonly count: { readonly name: string; readonly default: number; readonly max: number };
  readonly defaultOut: string;
}

export interface BenchCliOptions<P extends string> {
  readonly count: number;
  readonly parts: P[];
  readonly out: string;
}

/** Parses `--<count> N --parts a,b --out FILE`; 'help' for -h/--help; throws on bad input. */
export function parseBenchArgs<P extends string>(
  spec: BenchCliSpec<P>,
  argv: readonly string[] = process.argv.slice(2),
): BenchCliOptions<P> | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      [spec.count.name]: { type: 'string' },
      parts: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const raw = values[spec.count.name];
  const count = Number(typeof raw === 'string' ? raw : spec.count.default);
  if (!Number.isInteger(count) || count < 1 || count > spec.count.max) {
    throw new Error(`--${spec.count.name} must be a whole number from 1 to ${spec.count.max}`);
  }
  const partsText = typeof values.parts === 'string' ? values.parts : spec.parts.join(',');
  const parts = partsText
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of parts) {
    if (!(spec.parts as readonly string[]).includes(p)) throw new Error(`unknown part ${p}`);
  }
  const out = typeof values.out === 'string' ? values.out : spec.defaultOut;
  return { count, parts: parts as P[], out: resolve(out) };
}

/** What the figures were measured on, for the JSON result. */
export function machineInfo() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    kernel: os.release(),
    node: process.version,
  };
}

/**
 * The lab of the network benchmarks: two easy-NAT sites (a direct path, and plain WireGuard with
 * a static config, can connect them) and two hard-NAT sites (only the relay connects them).
 */
export const BENCH_LAB_SITES = [
  { name: 'ez1', nat: 'easy' },
  { name: 'ez2', nat: 'easy' },
  { name: 'hd1', nat: 'hard' },
  { name: 'hd2', nat: 'hard' },
] as const;
