/**
 * iperf3 between two lab namespaces, and its `--json` report → the figures bench/throughput.ts
 * prints. iperf3 writes its report (or an `error` field) as one JSON document; anything else is a
 * typed error, never a throw.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { NatLab } from '../e2e/lab/topology.js';
import { ExecError } from '../src/helper/exec.js';
import { err, ok, type Result } from '../src/shared/result.js';

const Sum = z.object({
  seconds: z.number().nonnegative(),
  bytes: z.number().nonnegative(),
  bits_per_second: z.number().nonnegative(),
  retransmits: z.number().int().nonnegative().optional(),
});

const Report = z.object({
  error: z.string().optional(),
  end: z.object({ sum_sent: Sum.optional(), sum_received: Sum.optional() }).optional(),
});

export interface IperfResult {
  /** Goodput as the receiver counted it, in Mbit/s (10^6 bits). */
  readonly receivedMbps: number;
  /** What the sender pushed, in Mbit/s. */
  readonly sentMbps: number;
  readonly seconds: number;
  readonly bytesReceived: number;
  /** TCP retransmissions (Linux senders report them); null when absent. */
  readonly retransmits: number | null;
}

export type IperfErrorCode = 'not_json' | 'bad_report' | 'iperf_error' | 'timeout';
export interface IperfError {
  readonly code: IperfErrorCode;
  readonly message: string;
}

/** Reports larger than this are not iperf3's (a long run with intervals is a few hundred KiB). */
const MAX_REPORT_CHARS = 16 * 1024 * 1024;

const mbps = (bitsPerSecond: number): number => bitsPerSecond / 1e6;

export function parseIperf3Json(text: string): Result<IperfResult, IperfError> {
  if (text.length > MAX_REPORT_CHARS) {
    return err({ code: 'bad_report', message: `report is ${text.length} characters` });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return err({ code: 'not_json', message: `iperf3 printed no JSON: ${(e as Error).message}` });
  }
  const parsed = Report.safeParse(raw);
  if (!parsed.success) {
    return err({
      code: 'bad_report',
      message: `unexpected iperf3 report: ${parsed.error.message}`,
    });
  }
  const { error, end } = parsed.data;
  if (error !== undefined) return err({ code: 'iperf_error', message: error });
  const sent = end?.sum_sent;
  const received = end?.sum_received;
  if (!sent || !received) {
    return err({ code: 'bad_report', message: 'the report has no end.sum_sent/sum_received' });
  }
  return ok({
    receivedMbps: mbps(received.bits_per_second),
    sentMbps: mbps(sent.bits_per_second),
    seconds: received.seconds,
    bytesReceived: received.bytes,
    retransmits: sent.retransmits ?? null,
  });
}

/** iperf3's default port; each device has its own namespace, so it is free everywhere. */
export const IPERF_PORT = 5201;
/** Connection set-up and the report on top of the measured seconds. */
const IPERF_SLACK_MS = 30_000;

export interface IperfRun {
  /** The namespace and address the server listens on. */
  readonly server: { readonly ns: string; readonly address: string };
  /**
   * The namespace the client (the sender) runs in, and the address it sends from: a device's
   * own tunnel address, so the measurement does not depend on the kernel's choice of source.
   */
  readonly client: { readonly ns: string; readonly address: string };
  readonly seconds: number;
}

/** One TCP stream from client to server for `seconds`; the report (or why there is none). */
export async function runIperf(
  lab: NatLab,
  run: IperfRun,
): Promise<Result<IperfResult, IperfError>> {
  const port = String(IPERF_PORT);
  // --forceflush: its stdout is a pipe, and the ready line must not sit in a buffer.
  const server = await lab.spawn(
    run.server.ns,
    'iperf3',
    ['-s', '-1', '--forceflush', '-B', run.server.address, '-p', port],
    { label: `iperf3 -s ${run.server.address}` },
  );
  const report = join(lab.workDir(), `iperf3-${server.pid}.json`);
  const timeoutMs = run.seconds * 1000 + IPERF_SLACK_MS;
  try {
    await server.waitForLine(/Server listening on/);
    try {
      await lab.exec(
        run.client.ns,
        'iperf3',
        [
          '-c',
          run.server.address,
          '-B',
          run.client.address,
          '-p',
          port,
          '-t',
          String(run.seconds),
          '-i',
          '0',
          '--json',
          '--logfile',
          report,
        ],
        { timeoutMs },
      );
    } catch (e) {
      if (e instanceof ExecError && e.reason === 'timeout') {
        return err({ code: 'timeout', message: `iperf3 did not finish in ${timeoutMs} ms` });
      }
      // A failed run still writes its JSON report (with `error`); a missing one is reported below.
      if (!(e instanceof ExecError && e.reason === 'exit_status')) throw e;
    }
    let text: string;
    try {
      text = readFileSync(report, 'utf8');
    } catch {
      return err({ code: 'not_json', message: 'iperf3 wrote no report' });
    }
    return parseIperf3Json(text);
  } finally {
    await server.stop();
    rmSync(report, { force: true });
  }
}
