/**
 * STUN in the lab: our STUN server on an internet host, and a probe run on a device that reports
 * the device's mapped (reflexive) address as each server sees it, so tests can check what its NAT
 * does. Both are small scripts run with `node --import tsx` inside the namespace, because a
 * socket is always opened in the namespace of the process that opens it.
 */
import { fileURLToPath } from 'node:url';
import type { LabProcess } from './process.js';
import {
  formatHostPort,
  parseLastJsonLine,
  ReadyLine,
  StunListenOutput,
  StunProbeOutput,
  type HostPort,
} from './script-output.js';
import type { NatLab, Service } from './topology.js';

/** The IANA STUN port. */
export const STUN_PORT = 3478;

const STUN_SERVER_SCRIPT = fileURLToPath(new URL('./stun-server.ts', import.meta.url));
const STUN_PROBE_SCRIPT = fileURLToPath(new URL('./stun-probe.ts', import.meta.url));
/** The probe starts Node (~1 s on a busy machine) and waits up to its own timeout per server. */
const PROBE_STARTUP_ALLOWANCE_MS = 15_000;

export interface LabStunServer {
  readonly process: LabProcess;
  readonly endpoint: HostPort;
}

/** Starts a STUN server on `service`'s address; resolves once it answers. */
export async function startLabStunServer(
  lab: NatLab,
  service: Service,
  port = STUN_PORT,
): Promise<LabStunServer> {
  const p = await lab.spawnScript(
    service.ns,
    STUN_SERVER_SCRIPT,
    ['--host', service.address, '--port', String(port)],
    { label: `stun-server@${service.name}` },
  );
  const ready = await p.waitForJson(ReadyLine);
  const endpoint = ready.listening[0];
  if (!endpoint) throw new Error(`stun-server@${service.name} reported no address`);
  return { process: p, endpoint };
}

export interface StunProbeOptions {
  /** Local UDP port to send from; 0 (default) lets the kernel pick. */
  readonly localPort?: number;
  /** Per-server deadline. */
  readonly timeoutMs?: number;
}

/**
 * From namespace `ns`, sends a Binding request to each server from one socket and returns the
 * local address and each server's answer (mapped address or error), in order.
 */
export async function stunProbe(
  lab: NatLab,
  ns: string,
  servers: readonly HostPort[],
  options: StunProbeOptions = {},
): Promise<StunProbeOutput> {
  const args = servers.flatMap((s) => ['--server', formatHostPort(s)]);
  if (options.localPort !== undefined) args.push('--local-port', String(options.localPort));
  if (options.timeoutMs !== undefined) args.push('--timeout-ms', String(options.timeoutMs));
  const perServer = options.timeoutMs ?? 2_000;
  const { stdout } = await lab.runScript(ns, STUN_PROBE_SCRIPT, args, {
    timeoutMs: PROBE_STARTUP_ALLOWANCE_MS + perServer * servers.length,
  });
  return parseLastJsonLine(stdout, StunProbeOutput, 'stun-probe');
}

export interface StunListener {
  /** The bindings, as from stunProbe(). */
  readonly probe: StunProbeOutput;
  /** Every datagram that reached the probe's socket in the listening window after them. */
  readonly received: Promise<StunListenOutput['received']>;
}

/**
 * stunProbe(), after which the probe's socket stays open for `listenMs`: send datagrams to the
 * mapped address in the meantime to see which senders the NAT lets through.
 */
export async function stunProbeAndListen(
  lab: NatLab,
  ns: string,
  servers: readonly HostPort[],
  listenMs: number,
  options: StunProbeOptions = {},
): Promise<StunListener> {
  const args = servers.flatMap((s) => ['--server', formatHostPort(s)]);
  args.push('--listen-ms', String(listenMs));
  if (options.localPort !== undefined) args.push('--local-port', String(options.localPort));
  if (options.timeoutMs !== undefined) args.push('--timeout-ms', String(options.timeoutMs));
  const p = await lab.spawnScript(ns, STUN_PROBE_SCRIPT, args, { label: 'stun-probe' });
  const probe = await p.waitForJson(StunProbeOutput);
  const received = p
    .waitForJson(StunListenOutput, listenMs + PROBE_STARTUP_ALLOWANCE_MS)
    .then((r) => r.received);
  // Callers may not await it when an earlier assertion fails; the rejection is theirs to see.
  received.catch(() => undefined);
  return { probe, received };
}
