/** ICMP reachability between lab namespaces, with iputils `ping`. */
import { ExecError } from '../../src/helper/exec.js';
import { parsePingRtt } from '../../src/helper/daemon/ping.js';
import type { LabProcess } from './process.js';
import type { NatLab } from './topology.js';

/** Attempts per check: one lost echo on a busy machine must not fail a reachability test. */
const PING_COUNT = 3;
/** Seconds between attempts (ping's -i; root may go below its 1 s default). */
const PING_INTERVAL_S = '0.2';
/** Seconds to wait for a reply: lab round trips are sub-millisecond. */
const PING_REPLY_WAIT_S = '1';

/** Whether `address` answers an ICMP echo from namespace `ns` (any one of a few attempts). */
export async function pings(lab: NatLab, ns: string, address: string): Promise<boolean> {
  try {
    await lab.exec(ns, 'ping', [
      '-n',
      '-q',
      '-c',
      String(PING_COUNT),
      '-i',
      PING_INTERVAL_S,
      '-W',
      PING_REPLY_WAIT_S,
      address,
    ]);
    return true;
  } catch (e) {
    // Without -w, ping exits 0 when any reply came back and 1 when none did; anything else
    // (2: bad address; ping missing) is a real error.
    if (e instanceof ExecError && e.reason === 'exit_status' && e.exitCode === 1) return false;
    throw e;
  }
}

/** One echo reply as `ping -D` prints it. */
export interface PingReply {
  readonly seq: number;
  readonly rttMs: number;
  /** When it arrived (Unix ms, from ping's -D timestamp); null without -D. */
  readonly atMs: number | null;
}

export interface PingRun {
  /** Echo requests sent (from ping's summary; the highest seq seen when it printed none). */
  readonly transmitted: number;
  /** Replies in arrival order, duplicates dropped. */
  readonly replies: readonly PingReply[];
}

/** "[1732500000.123456] 64 bytes from 100.64.0.3: icmp_seq=7 ttl=64 time=0.532 ms" */
const REPLY_RE = /^(?:\[(\d+(?:\.\d+)?)\]\s+)?\d+ bytes from \S+: icmp_seq=(\d+)\b/;
const SUMMARY_RE = /^(\d+) packets transmitted, (\d+) (?:packets )?received/;

/** Parses iputils ping's output (any mix of reply, error and summary lines). */
export function parsePingOutput(output: string): PingRun {
  const replies: PingReply[] = [];
  const seen = new Set<number>();
  let transmitted: number | null = null;
  for (const line of output.split('\n')) {
    const summary = SUMMARY_RE.exec(line.trim());
    if (summary) {
      transmitted = Number(summary[1]);
      continue;
    }
    const m = REPLY_RE.exec(line.trim());
    const rttMs = m ? parsePingRtt(line) : null;
    if (!m || rttMs === null) continue;
    const seq = Number(m[2]);
    if (seen.has(seq)) continue; // "(DUP!)"
    seen.add(seq);
    replies.push({ seq, rttMs, atMs: m[1] === undefined ? null : Math.round(Number(m[1]) * 1000) });
  }
  return {
    transmitted: transmitted ?? replies.reduce((max, r) => Math.max(max, r.seq), 0),
    replies,
  };
}

export interface PingOptions {
  /**
   * Stop after this many requests, or with deadlineS after this many answers, where iputils
   * counts errors (e.g. "Network is unreachable" while a route is missing) as answers too: to
   * wait for the first real reply, use pingUntilReply().
   */
  readonly count?: number;
  /** Seconds between requests; root may go down to 0.002. */
  readonly intervalS?: number;
  /** Give up after this many seconds whatever came back (ping's -w). */
  readonly deadlineS?: number;
  /** Seconds to wait for the last reply when there is no deadline (ping's -W). */
  readonly replyWaitS?: number;
  /**
   * Source address (ping's -I). Without it ping picks the source once, at start: started before
   * a tunnel's route exists, it keeps the LAN address, which the peer's WireGuard drops.
   */
  readonly source?: string;
}

/** A ping running in a namespace; stop() ends it (SIGINT, as Ctrl-C) and parses what came back. */
export interface RunningPing {
  /** The first reply (already in or yet to come); null if ping ends or `timeoutMs` passes first. */
  firstReply(timeoutMs: number): Promise<PingReply | null>;
  /** Resolves when ping ends by itself (count or deadline reached). */
  done(): Promise<PingRun>;
  stop(): Promise<PingRun>;
}

/** Exit 0: all wanted replies; 1: fewer (or none); anything else is an error, not a loss. */
async function finish(p: LabProcess): Promise<PingRun> {
  const { code, signal } = await p.exited;
  await p.outputEnded;
  if (code !== 0 && code !== 1 && !(code === null && signal === 'SIGINT')) {
    throw new Error(`ping in ${p.ns} failed (code ${code}, signal ${signal}):\n${p.output()}`);
  }
  return parsePingOutput(p.output());
}

/** Starts `ping -n -D` from namespace `ns`; replies carry their arrival time. */
export async function startPing(
  lab: NatLab,
  ns: string,
  address: string,
  options: PingOptions = {},
): Promise<RunningPing> {
  const args = ['-n', '-D'];
  if (options.count !== undefined) args.push('-c', String(options.count));
  if (options.intervalS !== undefined) args.push('-i', String(options.intervalS));
  if (options.deadlineS !== undefined) args.push('-w', String(options.deadlineS));
  if (options.replyWaitS !== undefined) args.push('-W', String(options.replyWaitS));
  if (options.source !== undefined) args.push('-I', options.source);
  const p = await lab.spawn(ns, 'ping', [...args, address], { label: `ping ${address}` });
  return {
    firstReply: (timeoutMs) =>
      p.waitForLine(REPLY_RE, timeoutMs).then(
        (line) => parsePingOutput(line).replies[0] ?? null,
        () => null,
      ),
    done: () => finish(p),
    stop: () => {
      p.kill('SIGINT');
      return finish(p);
    },
  };
}

/** Runs ping to its end (count or deadline) and returns what came back. */
export async function runPing(
  lab: NatLab,
  ns: string,
  address: string,
  options: PingOptions,
): Promise<PingRun> {
  return (await startPing(lab, ns, address, options)).done();
}

/**
 * Pings every `intervalS` until the first reply or `deadlineS`, whatever errors come back in
 * between (a missing route, an unreachable host); resolves with that reply or null.
 */
export async function pingUntilReply(
  lab: NatLab,
  ns: string,
  address: string,
  options: { readonly intervalS: number; readonly deadlineS: number },
): Promise<PingReply | null> {
  const ping = await startPing(lab, ns, address, options);
  const reply = await ping.firstReply(options.deadlineS * 1000);
  await ping.stop();
  return reply;
}

/** The longest time without a reply between `fromMs` and the last reply (or `toMs`). */
export function longestReplyGapMs(
  replies: readonly PingReply[],
  fromMs: number,
  toMs: number,
): number {
  const times = replies
    .map((r) => r.atMs)
    .filter((t): t is number => t !== null && t >= fromMs && t <= toMs)
    .sort((a, b) => a - b);
  let gap = 0;
  let prev = fromMs;
  for (const t of [...times, toMs]) {
    gap = Math.max(gap, t - prev);
    prev = t;
  }
  return gap;
}
