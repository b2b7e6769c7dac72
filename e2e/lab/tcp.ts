/**
 * TCP reachability in the lab: an echo server on an internet host and a probe from a device.
 * Used where only TCP may get through (the 'blocked' NAT kind lets TCP out, as relays need).
 */
import { fileURLToPath } from 'node:url';
import type { LabProcess } from './process.js';
import {
  formatHostPort,
  parseLastJsonLine,
  ReadyLine,
  TcpProbeOutput,
  type HostPort,
} from './script-output.js';
import type { NatLab, Service } from './topology.js';

const TCP_ECHO_SCRIPT = fileURLToPath(new URL('./tcp-echo.ts', import.meta.url));
const TCP_PROBE_SCRIPT = fileURLToPath(new URL('./tcp-probe.ts', import.meta.url));
/** Node's startup on a busy machine plus the probe's own deadline. */
const PROBE_STARTUP_ALLOWANCE_MS = 15_000;
const DEFAULT_PROBE_TIMEOUT_MS = 3_000;

export interface LabTcpEcho {
  readonly process: LabProcess;
  readonly endpoint: HostPort;
}

export async function startLabTcpEcho(
  lab: NatLab,
  service: Service,
  port: number,
): Promise<LabTcpEcho> {
  const p = await lab.spawnScript(
    service.ns,
    TCP_ECHO_SCRIPT,
    ['--host', service.address, '--port', String(port)],
    { label: `tcp-echo@${service.name}` },
  );
  const ready = await p.waitForJson(ReadyLine);
  const endpoint = ready.listening[0];
  if (!endpoint) throw new Error(`tcp-echo@${service.name} reported no address`);
  return { process: p, endpoint };
}

/** Connects from namespace `ns` to an echo server and reports whether a round trip worked. */
export async function tcpProbe(
  lab: NatLab,
  ns: string,
  server: HostPort,
  timeoutMs = DEFAULT_PROBE_TIMEOUT_MS,
): Promise<TcpProbeOutput> {
  const { stdout } = await lab.runScript(
    ns,
    TCP_PROBE_SCRIPT,
    ['--server', formatHostPort(server), '--timeout-ms', String(timeoutMs)],
    { timeoutMs: PROBE_STARTUP_ALLOWANCE_MS + timeoutMs },
  );
  return parseLastJsonLine(stdout, TcpProbeOutput, 'tcp-probe');
}
