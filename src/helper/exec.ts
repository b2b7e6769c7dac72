/**
 * Running OS tools (`ip`, `wg`, `wireguard-go`) without a shell: a program name and an argument
 * array, never a command line, so no value (an interface name, a prefix from the netmap) can be
 * read as shell syntax. Every run has a timeout and an output cap, and failures are one typed
 * error that names the command, its exit code and its stderr.
 *
 * Secrets (private keys) go through `input` (stdin), never through arguments, which any local
 * user can read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** Long enough for `ip`/`wg` on a loaded machine; short enough that a hung tool surfaces as an error. */
export const DEFAULT_EXEC_TIMEOUT_MS = 15_000;
/** `ip -json route show table all` on a busy router is a few hundred KiB; 8 MiB is far beyond it. */
export const DEFAULT_MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
/** Error messages carry at most this much stderr, so one chatty failure cannot flood the log. */
const MAX_STDERR_IN_MESSAGE = 2048;

export interface ExecOptions {
  readonly timeoutMs?: number;
  /** Written to the program's stdin, which is then closed. */
  readonly input?: string;
  /** Limit for stdout and stderr each; past it the program is killed. */
  readonly maxOutputBytes?: number;
  /** Environment; defaults to the helper's own. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
}

export type ExecErrorReason =
  /** The program could not be started (not installed: errno ENOENT). */
  | 'spawn_failed'
  /** It ran and exited with a non-zero status. */
  | 'exit_status'
  /** It was killed by a signal we did not send. */
  | 'signal'
  | 'timeout'
  | 'output_too_large';

export class ExecError extends Error {
  constructor(
    readonly reason: ExecErrorReason,
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
    /** The Node errno code (e.g. ENOENT) for spawn failures. */
    readonly errno: string | null = null,
  ) {
    super(describe(reason, command, args, exitCode, signal, stderr, errno));
    this.name = 'ExecError';
  }
}

function describe(
  reason: ExecErrorReason,
  command: string,
  args: readonly string[],
  exitCode: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
  errno: string | null,
): string {
  const cmd = [command, ...args].join(' ');
  const tail = stderr.trim().slice(0, MAX_STDERR_IN_MESSAGE);
  const why =
    reason === 'spawn_failed'
      ? `could not start (${errno ?? 'unknown error'})`
      : reason === 'exit_status'
        ? `exited with status ${exitCode}`
        : reason === 'signal'
          ? `killed by ${signal}`
          : reason === 'timeout'
            ? 'timed out'
            : 'produced too much output';
  return `\`${cmd}\` ${why}${tail ? `: ${tail}` : ''}`;
}

/** The signature every OS-touching module receives, so tests can pass a fake. */
export type Exec = (
  command: string,
  args: readonly string[],
  options?: ExecOptions,
) => Promise<ExecResult>;

/** Runs a program to completion. Rejects with {@link ExecError}. */
export const runCommand: Exec = (command, args, options = {}) =>
  new Promise<ExecResult>((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const argv = [...args];
    let child: ChildProcess;
    try {
      child = spawn(command, argv, {
        shell: false,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: options.env ?? process.env,
      });
    } catch (e) {
      reject(new ExecError('spawn_failed', command, argv, null, null, '', errnoOf(e)));
      return;
    }
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let killedFor: 'timeout' | 'output_too_large' | null = null;
    let settled = false;
    const stderrText = (): string => Buffer.concat(errOut).toString('utf8');

    const killFor = (why: 'timeout' | 'output_too_large'): void => {
      if (killedFor) return;
      killedFor = why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => killFor('timeout'), timeoutMs);

    child.stdout?.on('data', (chunk: Buffer) => {
      outLen += chunk.length;
      if (outLen > maxOutput) return killFor('output_too_large');
      out.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      errLen += chunk.length;
      if (errLen > maxOutput) return killFor('output_too_large');
      errOut.push(chunk);
    });
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new ExecError('spawn_failed', command, argv, null, null, stderrText(), errnoOf(e)));
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const stderr = stderrText();
      if (killedFor) {
        reject(new ExecError(killedFor, command, argv, code, signal, stderr));
      } else if (signal) {
        reject(new ExecError('signal', command, argv, code, signal, stderr));
      } else if (code !== 0) {
        reject(new ExecError('exit_status', command, argv, code, null, stderr));
      } else {
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr });
      }
    });
    // A program that exits without reading its stdin makes the write fail with EPIPE; its exit
    // status is what matters, so the stdin error is ignored.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });

function errnoOf(e: unknown): string | null {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string'
    ? e.code
    : null;
}

/** How a long-running process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A long-running program we own (e.g. `wireguard-go -f`). */
export interface ManagedProcess {
  readonly pid: number;
  /** Resolves once, when the process has exited (or failed to start: code null, signal null). */
  readonly exited: Promise<ProcessExit>;
  /** Whether `exited` has resolved. */
  hasExited(): boolean;
  /** Last bytes of its stdout and stderr interleaved, for error messages. */
  outputTail(): string;
  kill(signal?: NodeJS.Signals): void;
}

/** Output kept from a long-running process: enough for its last few log lines. */
export const PROCESS_OUTPUT_TAIL_BYTES = 8 * 1024;

export interface StartProcessOptions {
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Starts a long-running program. Its output is drained into a bounded tail (a full pipe would
 * block it; Go programs also die on SIGPIPE if we closed the pipe). Rejects with ExecError
 * ('spawn_failed') when the program cannot be started at all.
 */
export function startProcess(
  command: string,
  args: readonly string[],
  options: StartProcessOptions = {},
): Promise<ManagedProcess> {
  return new Promise((resolve, reject) => {
    const argv = [...args];
    let child: ChildProcess;
    try {
      child = spawn(command, argv, {
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: options.env ?? process.env,
      });
    } catch (e) {
      reject(new ExecError('spawn_failed', command, argv, null, null, '', errnoOf(e)));
      return;
    }
    let tail = Buffer.alloc(0);
    const keep = (chunk: Buffer): void => {
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > PROCESS_OUTPUT_TAIL_BYTES) {
        tail = tail.subarray(tail.length - PROCESS_OUTPUT_TAIL_BYTES);
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exitedFlag = false;
    let resolveExit: (e: ProcessExit) => void = () => undefined;
    const exited = new Promise<ProcessExit>((r) => (resolveExit = r));
    child.on('exit', (code, signal) => {
      exitedFlag = true;
      resolveExit({ code, signal });
    });
    child.on('error', (e) => {
      if (child.pid === undefined) {
        exitedFlag = true;
        resolveExit({ code: null, signal: null });
        reject(new ExecError('spawn_failed', command, argv, null, null, '', errnoOf(e)));
      }
    });
    child.on('spawn', () => {
      const pid = child.pid ?? -1;
      resolve({
        pid,
        exited,
        hasExited: () => exitedFlag,
        outputTail: () => tail.toString('utf8'),
        kill: (signal: NodeJS.Signals = 'SIGTERM') => {
          if (!exitedFlag) child.kill(signal);
        },
      });
    });
  });
}
