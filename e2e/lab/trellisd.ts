/**
 * A trellisd per lab device: src/helper/trellisd.ts run with tsx inside the device's namespace,
 * with its own state directory, LocalAPI socket, WireGuard interface and UDP port. The interface
 * name carries the run's prefix because wireguard-go's UAPI sockets share one host directory.
 *
 * Tests drive it as a user does: the real `trellis` CLI for `up` and `ping`, and the typed
 * LocalAPI client (the one the CLI and the desktop app use) for status, ping and netcheck. The
 * socket is a file, so the test process reaches it from the host namespace.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ExecError, runCommand } from '../../src/helper/exec.js';
import { LocalApiClient, type LocalApiClientError } from '../../src/helper/localapi/client.js';
import type { Result } from '../../src/shared/result.js';
import type {
  NetcheckReport,
  PingAttempt,
  PingResponse,
  SelfStatus,
  Status,
} from '../../src/shared/schema/localapi.js';
import { netnsResolvConf } from './netns.js';
import { labEnv, nodeScriptCommand, REPO_ROOT, type LabProcess } from './process.js';
import type { Device, NatLab } from './topology.js';

const TRELLISD = join(REPO_ROOT, 'src/helper/trellisd.ts');
const TRELLIS_CLI = join(REPO_ROOT, 'src/helper/trellis.ts');
/** Node + tsx start in well under this even on a loaded two-core machine. */
const SOCKET_TIMEOUT_MS = 60_000;
const POLL_MS = 100;
/** `trellis up` registers with control and waits for the first netmap. */
export const UP_TIMEOUT_MS = 90_000;
/** CLI start-up on a loaded machine, on top of what the command itself waits. */
const CLI_SLACK_MS = 30_000;
/** The port every device's WireGuard/magicsock socket uses: each device has its own namespace. */
export const LAB_DEVICE_UDP_PORT = 41641;

export interface LabTrellisdOptions {
  readonly controlUrl: string;
  /** UDP port of the device's WireGuard/magicsock socket. */
  readonly port?: number;
  readonly logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /** Also append the daemon's whole log here (the in-memory tail keeps the last lines only). */
  readonly logFile?: string;
  /** More trellisd flags. */
  readonly extraArgs?: readonly string[];
}

/** Interface numbers per lab run, so names stay short (`<prefix>w<n>`) and unique. */
const tunnelCounters = new WeakMap<NatLab, number>();

function nextTunnelName(lab: NatLab): string {
  const n = (tunnelCounters.get(lab) ?? 0) + 1;
  tunnelCounters.set(lab, n);
  return lab.base.ifname(`w${n}`);
}

/** A Result from the LocalAPI client, or an Error naming the call and the daemon's answer. */
function unwrap<T>(r: Result<T, LocalApiClientError>, what: string): T {
  if (r.ok) return r.value;
  throw new Error(`${what}: ${r.error.code}: ${r.error.message}`);
}

/** The path of an answered ping: a direct ip:port or a relay region. */
export type PongPath = Extract<PingAttempt, { outcome: 'pong' }>['path'];

/** One `trellis ping` line: "pong from X via 1.2.3.4:5 in 0.4ms", or a timeout. */
export type CliPingLine =
  | { readonly outcome: 'pong'; readonly via: PongPath; readonly latencyMs: number }
  | { readonly outcome: 'timeout' };

const CLI_PONG_RE =
  /^pong from \S+ via (?:relay #(\d+)|(\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}|\[[0-9a-fA-F:.]+\]:\d{1,5})) in ([0-9.]+)ms$/;
const CLI_TIMEOUT_RE = /^timeout waiting for \S+ \(seq \d+\)$/;

/**
 * Parses `trellis ping` output, one attempt per line; throws on a line it does not know, so a
 * change of the CLI's wording fails loudly instead of reading as "no path".
 */
export function parseCliPing(stdout: string): CliPingLine[] {
  const out: CliPingLine[] = [];
  for (const line of stdout.split('\n').map((l) => l.trim())) {
    if (line === '') continue;
    const pong = CLI_PONG_RE.exec(line);
    if (pong) {
      const latencyMs = Number(pong[3]);
      out.push(
        pong[1] !== undefined
          ? { outcome: 'pong', via: { type: 'relay', region: Number(pong[1]) }, latencyMs }
          : { outcome: 'pong', via: { type: 'direct', endpoint: pong[2] ?? '' }, latencyMs },
      );
      continue;
    }
    if (CLI_TIMEOUT_RE.test(line)) {
      out.push({ outcome: 'timeout' });
      continue;
    }
    throw new Error(`unexpected \`trellis ping\` output line: ${JSON.stringify(line)}`);
  }
  return out;
}

export class LabTrellisd {
  readonly dir: string;
  readonly socket: string;
  readonly tunName: string;
  readonly port: number;
  readonly client: LocalApiClient;
  private proc: LabProcess | null = null;

  constructor(
    readonly lab: NatLab,
    readonly device: Device,
    private readonly options: LabTrellisdOptions,
  ) {
    this.dir = join(lab.workDir(), `trellisd-${device.name}`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.socket = join(this.dir, 'trellisd.sock');
    this.tunName = nextTunnelName(lab);
    this.port = options.port ?? LAB_DEVICE_UDP_PORT;
    this.client = new LocalApiClient({ socketPath: this.socket, clientName: 'lab' });
  }

  get name(): string {
    return this.device.name;
  }

  get running(): boolean {
    return this.proc !== null && !this.proc.hasExited();
  }

  /** The last lines of its log, for error messages. */
  output(): string {
    return this.proc?.output() ?? '(never started)';
  }

  /** Starts the daemon (on the state of any earlier run) and waits until its LocalAPI answers. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`trellisd on ${this.name} is already running`);
    // The device's own resolv.conf (bind-mounted over /etc/resolv.conf by `ip netns exec`), so
    // that MagicDNS's system DNS setting changes the namespace's file, never the host's.
    if (!existsSync(netnsResolvConf(this.device.ns))) {
      this.lab.base.setResolvConf(this.device.ns, '# trellis lab device: no upstream resolver\n');
    }
    const node = nodeScriptCommand(TRELLISD);
    const args = [
      ...node.args,
      '--state-dir',
      join(this.dir, 'state'),
      '--socket',
      this.socket,
      '--control-url',
      this.options.controlUrl,
      '--tun-name',
      this.tunName,
      '--backend',
      'wireguard-go',
      '--port',
      String(this.port),
      '--log-level',
      this.options.logLevel ?? 'info',
      ...(this.options.extraArgs ?? []),
    ];
    this.proc = await this.lab.spawn(this.device.ns, node.command, args, {
      label: `trellisd@${this.name}`,
      ...(this.options.logFile ? { logFile: this.options.logFile } : {}),
    });
    const deadline = Date.now() + SOCKET_TIMEOUT_MS;
    for (;;) {
      if (this.proc.hasExited()) {
        throw new Error(`trellisd on ${this.name} exited while starting:\n${this.output()}`);
      }
      if (existsSync(this.socket) && (await this.client.hello()).ok) return;
      if (Date.now() > deadline) {
        throw new Error(`trellisd on ${this.name}: no LocalAPI after ${SOCKET_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** SIGTERM: trellisd removes its interface and OS config and exits; its state stays. */
  async stop(): Promise<void> {
    await this.proc?.stop();
  }

  /** Runs the real `trellis` CLI against this daemon. */
  async cli(args: readonly string[], timeoutMs: number): Promise<string> {
    const node = nodeScriptCommand(TRELLIS_CLI);
    try {
      const { stdout } = await runCommand(node.command, [...node.args, ...args], {
        env: labEnv({ TRELLIS_SOCKET: this.socket }),
        timeoutMs: timeoutMs + CLI_SLACK_MS,
      });
      return stdout;
    } catch (e) {
      // Not e.message: it repeats the command line, which may hold the auth key.
      const why =
        e instanceof ExecError
          ? `${e.reason} ${e.exitCode ?? e.signal ?? ''}: ${e.stderr.trim()}`
          : String(e);
      throw new Error(`trellis ${args[0]} on ${this.name}: ${why}\n${this.output()}`, {
        cause: e,
      });
    }
  }

  /** `trellis up --auth-key KEY --hostname <device>`: registers and waits until running. */
  async up(authKey: string, timeoutMs = UP_TIMEOUT_MS): Promise<void> {
    await this.cli(
      [
        'up',
        '--auth-key',
        authKey,
        '--hostname',
        this.name,
        '--timeout',
        `${Math.ceil(timeoutMs / 1000)}s`,
      ],
      timeoutMs,
    );
  }

  /** `trellis ping PEER -c COUNT`: each attempt's path, as the user sees it. */
  async cliPing(peer: string, count: number, timeoutMs = 2_000): Promise<CliPingLine[]> {
    const node = nodeScriptCommand(TRELLIS_CLI);
    const args = ['ping', peer, '-c', String(count), '--timeout', `${timeoutMs}ms`];
    try {
      const { stdout } = await runCommand(node.command, [...node.args, ...args], {
        env: labEnv({ TRELLIS_SOCKET: this.socket }),
        timeoutMs: count * timeoutMs + CLI_SLACK_MS,
      });
      return parseCliPing(stdout);
    } catch (e) {
      // Exit status 1 with nothing but timeouts is an answer ("no reply"), not a failure.
      if (e instanceof ExecError && e.reason === 'exit_status' && /no reply/.test(e.stderr)) {
        return Array.from({ length: count }, () => ({ outcome: 'timeout' as const }));
      }
      throw e;
    }
  }

  async status(): Promise<Status> {
    return unwrap(await this.client.status(), `status of ${this.name}`);
  }

  /** This device as control registered it (throws before `up`). */
  async self(): Promise<SelfStatus> {
    const s = await this.status();
    if (!s.self) throw new Error(`${this.name} has no netmap yet (backend ${s.backend.state})`);
    return s.self;
  }

  /** LocalAPI POST /ping: each attempt's outcome, path and latency. */
  async ping(peer: string, count = 3, timeoutMs = 2_000): Promise<PingResponse> {
    return unwrap(
      await this.client.ping({ peer, count, timeoutMs }),
      `ping ${peer} from ${this.name}`,
    );
  }

  async netcheck(): Promise<NetcheckReport> {
    return unwrap(await this.client.netcheck(), `netcheck on ${this.name}`);
  }
}
