/**
 * Long-running programs inside lab namespaces (servers, daemons). Each one is `ip netns exec
 * <ns> <program>`, which enters the namespace and execs the program under the same pid, so the
 * namespace teardown (which kills every pid in it) also ends anything we lost track of.
 *
 * Programs report readiness by printing one JSON line on stdout; `waitForJson` finds it. Output is
 * kept as a bounded list of lines, for readiness and for error messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import type { ProcessExit } from '../../src/helper/exec.js';

/** The repository root: spawned scripts run from here. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A program that has not printed its ready line within this is broken, not slow. */
export const DEFAULT_READY_TIMEOUT_MS = 30_000;
/** SIGTERM first; a server that has not exited after this is killed. */
export const DEFAULT_STOP_GRACE_MS = 3_000;
/** Enough lines for a server's startup and its last errors. */
const MAX_KEPT_LINES = 500;
/** One line longer than this is cut: nothing we parse comes close. */
const MAX_LINE_CHARS = 64 * 1024;

/** `node --import tsx <script>`: how lab TypeScript scripts run in a namespace. */
export function nodeScriptCommand(script: string): { command: string; args: string[] } {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { command: process.execPath, args: ['--import', tsx, script] };
}

/** Environment for lab programs: ours, minus settings meant for this process only (vitest's). */
export function labEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

export interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Shown in error messages; defaults to the program name. */
  readonly label?: string;
  /**
   * Also appends every output line (stdout and stderr) to this file, unbounded: for logs that
   * must outlive the bounded in-memory tail, e.g. a daemon's log kept outside the work directory.
   */
  readonly logFile?: string;
}

export interface LabProcess {
  readonly ns: string;
  readonly pid: number;
  readonly label: string;
  /** Resolves once, when the process has exited. */
  readonly exited: Promise<ProcessExit>;
  hasExited(): boolean;
  /** The last lines of stdout and stderr, interleaved. */
  output(): string;
  /**
   * The first stdout line (already printed or yet to come) that is JSON matching `schema`.
   * Rejects if the process exits first or nothing matches within the timeout.
   */
  waitForJson<T>(schema: z.ZodType<T>, timeoutMs?: number): Promise<T>;
  /** The first stdout line (already printed or yet to come) matching `pattern`; as waitForJson. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /**
   * Resolves once stdout and stderr have both ended, so output() holds everything the process
   * printed (`exited` can come before the last lines have been read).
   */
  readonly outputEnded: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<ProcessExit>;
  /** Sends a signal (no-op once it has exited). */
  kill(signal: NodeJS.Signals): void;
}

type LineListener = (line: string, stream: 'stdout' | 'stderr') => void;

class LabProcessImpl implements LabProcess {
  readonly exited: Promise<ProcessExit>;
  readonly outputEnded: Promise<void>;
  private readonly lines: { stream: 'stdout' | 'stderr'; text: string }[] = [];
  private readonly listeners = new Set<LineListener>();
  private exitedFlag = false;

  constructor(
    readonly ns: string,
    readonly pid: number,
    readonly label: string,
    private readonly child: ChildProcess,
    private readonly log: WriteStream | null,
  ) {
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitedFlag = true;
        log?.end();
        resolve({ code, signal });
      });
    });
    this.outputEnded = Promise.all([this.follow('stdout'), this.follow('stderr')]).then(
      () => undefined,
    );
  }

  /** Splits a stream into lines; resolves when it has ended (its last partial line pushed). */
  private follow(stream: 'stdout' | 'stderr'): Promise<void> {
    let partial = '';
    const source = this.child[stream];
    if (!source) return Promise.resolve();
    const ended = new Promise<void>((resolve) => {
      source.once('close', () => {
        if (partial !== '') this.push(stream, partial);
        partial = '';
        resolve();
      });
    });
    source.setEncoding('utf8');
    source.on('data', (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        this.push(stream, partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
      if (partial.length > MAX_LINE_CHARS) {
        this.push(stream, partial.slice(0, MAX_LINE_CHARS));
        partial = '';
      }
    });
    return ended;
  }

  private push(stream: 'stdout' | 'stderr', text: string): void {
    this.log?.write(`${text}\n`);
    this.lines.push({ stream, text });
    if (this.lines.length > MAX_KEPT_LINES) this.lines.shift();
    for (const l of this.listeners) l(text, stream);
  }

  hasExited(): boolean {
    return this.exitedFlag;
  }

  output(): string {
    return this.lines.map((l) => l.text).join('\n');
  }

  waitForJson<T>(schema: z.ZodType<T>, timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<T> {
    return this.waitForStdout((line) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        return undefined;
      }
      const parsed = schema.safeParse(value);
      return parsed.success ? parsed.data : undefined;
    }, timeoutMs);
  }

  waitForLine(pattern: RegExp, timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<string> {
    return this.waitForStdout((line) => (pattern.test(line) ? line : undefined), timeoutMs);
  }

  /** The first stdout line `match` accepts, among those kept and those yet to come. */
  private waitForStdout<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
    for (const l of this.lines) {
      const found = l.stream === 'stdout' ? match(l.text) : undefined;
      if (found !== undefined) return Promise.resolve(found);
    }
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener: LineListener = (line, stream) => {
        const found = stream === 'stdout' ? match(line) : undefined;
        if (found === undefined) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `${this.label} in ${this.ns}: not ready after ${timeoutMs} ms\n${this.output()}`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(listener);
      void this.exited.then((e) => {
        if (!this.listeners.has(listener)) return;
        done();
        reject(
          new Error(
            `${this.label} in ${this.ns} exited (code ${e.code}, signal ${e.signal}) before it was ready\n${this.output()}`,
          ),
        );
      });
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.exitedFlag) this.child.kill(signal);
  }

  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<ProcessExit> {
    if (!this.exitedFlag) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!this.exitedFlag) this.child.kill('SIGKILL');
      }, graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }
}

function launch(
  ns: string,
  command: string,
  argv: readonly string[],
  label: string,
  options: SpawnOptions,
): Promise<LabProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...argv], {
      cwd: REPO_ROOT,
      env: options.env ?? labEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.once('error', (e) =>
      reject(new Error(`could not start ${label} in ${ns}: ${e.message}`)),
    );
    child.once('spawn', () => {
      if (child.pid === undefined) {
        reject(new Error(`could not start ${label} in ${ns}: no pid`));
        return;
      }
      const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : null;
      // A log file that cannot be written must not take the process (or the test) down with it.
      log?.on('error', () => undefined);
      resolve(new LabProcessImpl(ns, child.pid, label, child, log));
    });
  });
}

/** Starts `command args` inside namespace `ns`; resolves once it is running. */
export function spawnInNamespace(
  ns: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<LabProcess> {
  return launch(
    ns,
    'ip',
    ['netns', 'exec', ns, command, ...args],
    options.label ?? command,
    options,
  );
}

/**
 * Starts a lab TypeScript script in the caller's own namespace: for orchestration only (a lab
 * run in a separate process, as the cleanup tests need), never for anything that sends packets.
 */
export function spawnOrchestrator(
  script: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<LabProcess> {
  const node = nodeScriptCommand(script);
  return launch('(host)', node.command, [...node.args, ...args], options.label ?? script, options);
}
