/**
 * The CLI's small command framework: each command declares its usage, options and argument
 * count; dispatch parses argv with node:util parseArgs (strict), prints usage on mistakes and
 * turns user errors into a message and an exit code, never a stack trace.
 */
import { parseArgs } from 'node:util';
import type * as z from 'zod';
import { ApiError } from '../http/errors.js';
import type { Output } from './output.js';

/** Exit codes: 0 success, 1 the operation failed or was refused, 2 the command line is wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A mistake the user can fix (bad argument, unknown user, server refused); printed, not thrown further. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
  ) {
    super(message);
  }
}

export const usageError = (message: string): CliError => new CliError(message, EXIT_USAGE);

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly description: string;
  /** Shown in help as `--name VALUE`. */
  readonly value?: string;
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS = {
  config: {
    type: 'string',
    short: 'c',
    value: 'FILE',
    description: 'configuration file (JSON5); TRELLIS_* variables override it',
  },
  json: { type: 'boolean', description: 'print JSON instead of tables' },
  server: {
    type: 'string',
    value: 'URL',
    description: "use a running server's admin API instead of the database (or TRELLIS_SERVER)",
  },
  'api-key': {
    type: 'string',
    value: 'KEY',
    description: 'admin API key for --server (prefer TRELLIS_API_KEY: argv shows in ps)',
  },
  help: { type: 'boolean', short: 'h', description: 'show help' },
} as const satisfies Record<string, OptionSpec>;

export type OptionValues = Record<string, string | boolean | undefined>;

export interface RunContext {
  readonly args: readonly string[];
  readonly opts: OptionValues;
  readonly out: Output;
}

export interface Command {
  /** Words after the program name, e.g. "users create". */
  readonly name: string;
  /** Positional arguments as shown in help, e.g. "EMAIL". */
  readonly argsUsage?: string;
  readonly summary: string;
  readonly options?: Record<string, OptionSpec>;
  readonly minArgs?: number;
  readonly maxArgs?: number;
  run(c: RunContext): Promise<void>;
}

export function str(opts: OptionValues, name: string): string | undefined {
  const v = opts[name];
  return typeof v === 'string' ? v : undefined;
}

export const flag = (opts: OptionValues, name: string): boolean => opts[name] === true;

export function onOff(value: string, what: string): boolean {
  if (value === 'on' || value === 'true' || value === 'yes') return true;
  if (value === 'off' || value === 'false' || value === 'no') return false;
  throw usageError(`${what}: expected on or off, got "${value}"`);
}

function optionHelp(options: Record<string, OptionSpec>): string {
  return Object.entries(options)
    .map(([name, o]) => {
      const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
      return `  ${left.padEnd(30)} ${o.description}`;
    })
    .join('\n');
}

export function commandHelp(program: string, c: Command): string {
  const own = c.options ?? {};
  return [
    `Usage: ${program} ${c.name}${c.argsUsage ? ` ${c.argsUsage}` : ''}${Object.keys(own).length ? ' [options]' : ''}`,
    '',
    c.summary,
    ...(Object.keys(own).length ? ['', 'Options:', optionHelp(own)] : []),
    '',
    'Global options:',
    optionHelp(GLOBAL_OPTIONS),
  ].join('\n');
}

export function programHelp(program: string, commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `Usage: ${program} <command> [arguments] [options]`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)} ${c.summary}`),
    '',
    `Run "${program} <command> --help" for a command's arguments and options.`,
  ].join('\n');
}

/** Finds the longest command name that prefixes argv ("users create" before "users"). */
export function findCommand(
  commands: readonly Command[],
  argv: readonly string[],
): { command: Command; rest: string[] } | null {
  let best: { command: Command; rest: string[] } | null = null;
  for (const c of commands) {
    const words = c.name.split(' ');
    if (
      words.every((w, i) => argv[i] === w) &&
      (!best || words.length > best.command.name.split(' ').length)
    )
      best = { command: c, rest: argv.slice(words.length) };
  }
  return best;
}

/** Parses one command's argv; a wrong option or argument count is a usage error. */
export function parseCommandArgs(
  c: Command,
  argv: string[],
): { args: string[]; opts: OptionValues } {
  const options: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, ...(c.options ?? {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(
        Object.entries(options).map(([k, o]) => [
          k,
          o.short ? { type: o.type, short: o.short } : { type: o.type },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw usageError((e as Error).message);
  }
  const args = parsed.positionals;
  const opts = parsed.values as OptionValues;
  if (opts.help) return { args, opts };
  const min = c.minArgs ?? 0;
  const max = c.maxArgs ?? min;
  if (args.length < min || args.length > max) {
    throw usageError(
      args.length < min
        ? `missing arguments: ${c.name} ${c.argsUsage ?? ''}`.trim()
        : `unexpected argument "${args[max] ?? ''}"`,
    );
  }
  return { args, opts };
}

/** A user-facing message for an error, or null when it is a bug (which gets the stack). */
export function describeError(e: unknown): { message: string; exitCode: number } | null {
  if (e instanceof CliError) return { message: e.message, exitCode: e.exitCode };
  if (e instanceof ApiError) return { message: `${e.message} (${e.code})`, exitCode: EXIT_FAILED };
  return null;
}

/** Parses a request built from the command line with the API's own schema: same rules, same messages. */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw usageError(`${where}${issue?.message ?? 'invalid input'}`);
}
