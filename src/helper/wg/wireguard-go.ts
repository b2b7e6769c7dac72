/**
 * The wireguard-go backend: the userspace implementation as a child process we own
 * (`wireguard-go -f <name>`, foreground), configured through its UAPI socket with one short
 * connection per operation — no process is spawned per change.
 *
 * Owning the process is the point: its exit is noticed at once (typed error, `onExit`), and
 * close() knows the interface is gone. A wireguard-go left running by a crashed helper is
 * therefore not adopted but replaced: deleting its interface makes it shut down (and remove its
 * socket), and the new device's first apply installs the full config; peers re-handshake within
 * one round trip. A socket file whose process is dead is simply removed.
 *
 * `netns` runs the process inside a network namespace (`ip netns exec`), for the lab and tests.
 * The UAPI socket directory is shared by all namespaces, so names must be unique machine-wide.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ExecError,
  runCommand,
  startProcess,
  type Exec,
  type ManagedProcess,
  type ProcessExit,
} from '../exec.js';
import { isValidInterfaceName, isValidNetnsName } from '../os/ifname.js';
import { IpCommand } from '../os/iproute.js';
import { createConfigApplier, type ConfigApplier } from './applier.js';
import {
  WgError,
  type WgDeviceStats,
  type WgInterfaceConfig,
  type WireGuardBackend,
  type WireGuardDevice,
} from './types.js';
import {
  encodeSetRequest,
  statsFromState,
  uapiGet,
  uapiSet,
  uapiSocketPath,
  type UapiDeviceState,
} from './uapi.js';

/** wireguard-go has its socket up within ~50 ms; 10 s allows for a machine under heavy load. */
export const WIREGUARD_GO_START_TIMEOUT_MS = 10_000;
/** How often to look for the socket while starting: short next to the start time it waits on. */
const SOCKET_POLL_MS = 20;
/** wireguard-go closes its device within milliseconds of SIGTERM; past 3 s it gets SIGKILL. */
export const WIREGUARD_GO_STOP_GRACE_MS = 3_000;
/** A live device answers get=1 in microseconds; a stale socket refuses at once. */
const STALE_PROBE_TIMEOUT_MS = 1_000;
/** How long an orphaned wireguard-go gets to exit after its interface is deleted. */
const ORPHAN_EXIT_WAIT_MS = 3_000;
/** IPv6 (which the tunnel carries) needs 1280; 65535 is the largest MTU Linux accepts. */
export const MIN_TUNNEL_MTU = 1280;
export const MAX_TUNNEL_MTU = 65535;

export interface WireGuardGoExitEvent {
  readonly name: string;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The error every later call on the device rejects with. */
  readonly error: WgError;
}

export interface WireGuardGoOptions {
  /** Run wireguard-go in this network namespace (tests and the lab). */
  readonly netns?: string;
  /** Program to run; default `wireguard-go` from PATH. */
  readonly binary?: string;
  /** For `ip` commands; tests may pass a recording wrapper. */
  readonly exec?: Exec;
  /** wireguard-go's LOG_LEVEL: its log ends up in error messages. Default 'error'. */
  readonly logLevel?: 'silent' | 'error' | 'verbose';
  readonly startTimeoutMs?: number;
  /** Called when a device's process dies without close() having been called. */
  readonly onExit?: (event: WireGuardGoExitEvent) => void;
}

const waitUntil = async (cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(SOCKET_POLL_MS);
  }
  return cond();
};

const removeFile = (path: string): void => {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
};

async function answers(socketPath: string, timeoutMs: number): Promise<boolean> {
  try {
    await uapiGet(socketPath, { timeoutMs });
    return true;
  } catch {
    return false;
  }
}

export class WireGuardGoBackend implements WireGuardBackend {
  readonly kind = 'wireguard-go' as const;
  private readonly ip: IpCommand;

  constructor(private readonly options: WireGuardGoOptions = {}) {
    if (options.netns !== undefined && !isValidNetnsName(options.netns)) {
      throw new WgError(
        'bad_config',
        `invalid network namespace name ${JSON.stringify(options.netns)}`,
      );
    }
    this.ip = new IpCommand(options.exec ?? runCommand, options.netns);
  }

  async create(name: string, options: { readonly mtu: number }): Promise<WireGuardGoDevice> {
    if (!isValidInterfaceName(name)) {
      throw new WgError('create_failed', `invalid interface name ${JSON.stringify(name)}`);
    }
    const { mtu } = options;
    if (!Number.isInteger(mtu) || mtu < MIN_TUNNEL_MTU || mtu > MAX_TUNNEL_MTU) {
      throw new WgError(
        'bad_config',
        `MTU must be ${MIN_TUNNEL_MTU}-${MAX_TUNNEL_MTU}, got ${mtu}`,
      );
    }
    const socketPath = uapiSocketPath(name);
    await this.clearLeftovers(name, socketPath);
    const proc = await this.start(name);
    let ifindex: number;
    try {
      await this.waitForSocket(name, socketPath, proc);
      await this.ip.setMtu(name, mtu);
      const link = await this.ip.link(name);
      if (!link)
        throw new WgError('create_failed', `wireguard-go did not create interface ${name}`);
      ifindex = link.ifindex;
    } catch (e) {
      proc.kill('SIGKILL');
      await proc.exited;
      removeFile(socketPath);
      if (e instanceof WgError) throw e;
      throw new WgError('create_failed', `${name}: ${(e as Error).message}`);
    }
    return new WireGuardGoDevice(name, socketPath, ifindex, proc, this.ip, this.options.onExit);
  }

  /** Removes what a crashed predecessor left under this name (see the module comment). */
  private async clearLeftovers(name: string, socketPath: string): Promise<void> {
    if (existsSync(socketPath)) {
      if (await answers(socketPath, STALE_PROBE_TIMEOUT_MS)) {
        await this.ip.deleteLink(name);
        const gone = await waitUntil(
          async () =>
            !existsSync(socketPath) || !(await answers(socketPath, STALE_PROBE_TIMEOUT_MS)),
          ORPHAN_EXIT_WAIT_MS,
        );
        if (!gone) {
          throw new WgError(
            'create_failed',
            `${name}: a running wireguard-go owns ${socketPath} and its interface is not in this namespace`,
          );
        }
      }
      removeFile(socketPath);
    }
    const link = await this.ip.link(name);
    if (link) {
      const kind = link.linkinfo?.info_kind;
      if (kind !== 'tun' && kind !== 'wireguard') {
        throw new WgError(
          'create_failed',
          `an interface named ${name} exists and is not a WireGuard device (${kind ?? 'unknown kind'})`,
        );
      }
      await this.ip.deleteLink(name);
    }
  }

  private async start(name: string): Promise<ManagedProcess> {
    const binary = this.options.binary ?? 'wireguard-go';
    const netns = this.options.netns;
    const [command, args] =
      netns === undefined
        ? [binary, ['-f', name]]
        : ['ip', ['netns', 'exec', netns, binary, '-f', name]];
    try {
      return await startProcess(command, args, {
        env: {
          ...process.env,
          // We are the supervisor: never let it daemonize.
          WG_PROCESS_FOREGROUND: '1',
          LOG_LEVEL: this.options.logLevel ?? 'error',
        },
      });
    } catch (e) {
      const why =
        e instanceof ExecError && e.errno === 'ENOENT' ? ' (install the wireguard-go package)' : '';
      throw new WgError(
        'create_failed',
        `could not start ${binary}${why}: ${(e as Error).message}`,
      );
    }
  }

  private async waitForSocket(
    name: string,
    socketPath: string,
    proc: ManagedProcess,
  ): Promise<void> {
    const timeout = this.options.startTimeoutMs ?? WIREGUARD_GO_START_TIMEOUT_MS;
    const ready = await waitUntil(
      async () =>
        proc.hasExited() ||
        (existsSync(socketPath) && (await answers(socketPath, STALE_PROBE_TIMEOUT_MS))),
      timeout,
    );
    if (proc.hasExited()) {
      const exit = await proc.exited;
      throw new WgError(
        'create_failed',
        `wireguard-go for ${name} exited (${exitText(exit)}) while starting: ${proc.outputTail().trim()}`,
      );
    }
    if (!ready) {
      throw new WgError(
        'create_failed',
        `wireguard-go for ${name} did not open ${socketPath} in ${timeout} ms`,
      );
    }
  }
}

const exitText = (e: ProcessExit): string => (e.signal ? `signal ${e.signal}` : `status ${e.code}`);

export class WireGuardGoDevice implements WireGuardDevice {
  /** Resolves when the process has exited, for whatever reason. */
  readonly exited: Promise<ProcessExit>;
  private readonly applier: ConfigApplier;
  private exitError: WgError | null = null;
  private closing = false;
  private closed = false;

  constructor(
    readonly name: string,
    readonly socketPath: string,
    /** Tells our interface apart from a later one of the same name. */
    readonly ifindex: number,
    private readonly proc: ManagedProcess,
    private readonly ip: IpCommand,
    onExit?: (event: WireGuardGoExitEvent) => void,
  ) {
    this.exited = proc.exited;
    this.applier = createConfigApplier(async (diff) => {
      const request = encodeSetRequest(diff);
      if (!request.ok) throw new WgError('bad_config', request.error.message);
      await this.call(() => uapiSet(this.socketPath, request.value));
    });
    void proc.exited.then(async (exit) => {
      if (this.closing) return;
      const error = new WgError(
        'process_exited',
        `wireguard-go for ${name} exited unexpectedly (${exitText(exit)}): ${proc.outputTail().trim().slice(-1000)}`,
      );
      this.exitError = error;
      await this.removeRemains().catch(() => undefined);
      onExit?.({ name, pid: proc.pid, code: exit.code, signal: exit.signal, error });
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  private check(): void {
    if (this.closed || this.closing) throw new WgError('closed', `${this.name} is closed`);
    if (this.exitError) throw this.exitError;
  }

  /** Runs a UAPI call, reporting the process's death rather than a refused socket. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    this.check();
    try {
      return await fn();
    } catch (e) {
      if (this.proc.hasExited()) {
        // Let the exit handler record the exit before we describe it.
        await this.proc.exited;
        await sleep(0);
        this.check();
      }
      throw e;
    }
  }

  async apply(config: WgInterfaceConfig): Promise<void> {
    this.check();
    await this.applier.apply(config);
  }

  async stats(): Promise<WgDeviceStats> {
    return statsFromState(await this.deviceState());
  }

  /** Everything the device reports (allowed IPs and keepalives too), private key removed. */
  async deviceState(): Promise<UapiDeviceState> {
    const state = await this.call(() => uapiGet(this.socketPath));
    return { ...state, privateKey: null };
  }

  close(): Promise<void> {
    return this.applier.exclusive(async () => {
      if (this.closed) return;
      this.closing = true;
      if (!this.proc.hasExited()) {
        this.proc.kill('SIGTERM');
        const timer = sleep(WIREGUARD_GO_STOP_GRACE_MS).then(() => 'timeout' as const);
        if ((await Promise.race([this.proc.exited, timer])) === 'timeout') {
          this.proc.kill('SIGKILL');
        }
        await this.proc.exited;
      }
      await this.removeRemains();
      this.closed = true;
    });
  }

  /**
   * The socket file and the interface must not outlive the process. Both checks guard against
   * removing a newer device of the same name: a socket someone answers on is not ours, nor is
   * an interface with another index.
   */
  private async removeRemains(): Promise<void> {
    if (existsSync(this.socketPath) && !(await answers(this.socketPath, STALE_PROBE_TIMEOUT_MS))) {
      removeFile(this.socketPath);
    }
    const link = await this.ip.link(this.name);
    if (link && link.ifindex === this.ifindex) await this.ip.deleteLink(this.name);
  }
}
