/**
 * Owns the WireGuard device and the OS config for it, and brings both to the desired state.
 * Desired states are applied one at a time, latest wins; a failed apply is retried with backoff
 * (the device and the configurator both diff, so a retry only does what is still missing). A
 * device whose process died is recreated. Nothing here ever tears the device down on a netmap
 * change: only close() does.
 */
import { backoffDelayMs, type BackoffPolicy } from '../relay/backoff.js';
import type { Clock } from '../control-client/clock.js';
import { downOsConfig, type OsConfigurator, type OsNetworkConfig } from '../os/types.js';
import {
  WgError,
  type WgDeviceStats,
  type WgInterfaceConfig,
  type WireGuardBackend,
  type WireGuardDevice,
} from '../wg/types.js';
import type { Logger } from './log.js';

export interface DesiredTunnel {
  readonly wg: WgInterfaceConfig;
  readonly os: OsNetworkConfig;
}

/**
 * Retries of a failed apply: the first after 1 s (a racing `ip` or a restarting wireguard-go
 * settles that fast), then doubling to a minute, so a broken system is not hammered.
 */
export const TUNNEL_RETRY_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 60_000 };

/** Device errors after which the handle is useless and a new device must be made. */
const DEAD_DEVICE_CODES = new Set(['closed', 'process_exited', 'uapi_unreachable']);

export interface TunnelOptions {
  readonly backend: WireGuardBackend;
  readonly os: OsConfigurator;
  readonly name: string;
  readonly mtu: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly random?: () => number;
  /** Called whenever the outcome of applying changes (success, or a new error). */
  readonly onChange?: () => void;
  /**
   * WireGuard has the desired peers and listens on `port`; the OS side (addresses, routes) comes
   * next. Packets that waited for WireGuard (a peer's handshake initiation) should reach it now,
   * before local traffic can: a local packet would make WireGuard send an initiation of its own,
   * and two crossing initiations leave both sides rejecting each other's response until
   * WireGuard's 5 s retry (each side's handshake state holds one exchange).
   */
  readonly onWireGuardApplied?: (port: number | null) => void;
}

export class Tunnel {
  private device: WireGuardDevice | null = null;
  private desired: DesiredTunnel | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private retryTimer: unknown = null;
  private failures = 0;
  private lastError: string | null = null;
  private closed = false;
  private listenPort: number | null = null;

  constructor(private readonly opts: TunnelOptions) {}

  /** The last apply's error, null when the device is in the desired state (or nothing is desired). */
  get error(): string | null {
    return this.lastError;
  }

  /** Whether a device exists (the interface is up under our control). */
  get hasDevice(): boolean {
    return this.device !== null;
  }

  /** The port WireGuard actually listens on (known after the first successful apply). */
  get actualListenPort(): number | null {
    return this.listenPort;
  }

  /** Sets the desired state; resolves once it (or a newer one) was applied or failed. */
  set(desired: DesiredTunnel): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.desired = desired;
    this.opts.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    return this.kick();
  }

  /** Peers, routes, addresses, exit routing, forwarding and DNS off; the device and the state stay. */
  async down(): Promise<void> {
    if (!this.device || !this.desired) {
      this.desired = null;
      return;
    }
    const { wg, os } = this.desired;
    await this.set({
      wg: { ...wg, peers: [] },
      os: downOsConfig(os),
    });
  }

  async stats(): Promise<WgDeviceStats | null> {
    if (!this.device) return null;
    try {
      return await this.device.stats();
    } catch {
      return null;
    }
  }

  /** Removes the interface and everything the configurator added: the machine as we found it. */
  async close(): Promise<void> {
    this.closed = true;
    this.opts.clock.clearTimeout(this.retryTimer);
    await this.running?.catch(() => undefined);
    const errors: string[] = [];
    await this.opts.os
      .teardown()
      .catch((e: unknown) => errors.push(`OS config: ${(e as Error).message}`));
    await this.device
      ?.close()
      .catch((e: unknown) => errors.push(`WireGuard: ${(e as Error).message}`));
    this.device = null;
    if (errors.length) this.opts.log.warn({ errors }, 'tearing down the tunnel left errors');
  }

  private kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.applyOnce();
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async applyOnce(): Promise<void> {
    const desired = this.desired;
    if (!desired) return;
    try {
      const device = await this.ensureDevice();
      await device.apply(desired.wg);
      const stats = await device.stats().catch(() => null);
      if (stats) this.listenPort = stats.listenPort;
      this.opts.onWireGuardApplied?.(this.listenPort);
      await this.opts.os.apply(desired.os);
      if (this.lastError !== null || this.failures > 0)
        this.opts.log.info({}, 'tunnel configured again');
      this.failures = 0;
      this.setError(null);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (e instanceof WgError && DEAD_DEVICE_CODES.has(e.code) && this.device) {
        this.opts.log.warn({ error: message }, 'WireGuard device is gone; recreating it');
        await this.device.close().catch(() => undefined);
        this.device = null;
      }
      this.failures += 1;
      this.setError(message);
      this.scheduleRetry();
    }
  }

  private async ensureDevice(): Promise<WireGuardDevice> {
    if (this.device) return this.device;
    const device = await this.opts.backend.create(this.opts.name, { mtu: this.opts.mtu });
    this.device = device;
    // A new interface has none of our addresses or routes: make the configurator forget what it
    // applied before (and remove leftovers of a crashed predecessor), so the apply adds them all.
    await this.opts.os.teardown();
    this.opts.log.info(
      { name: device.name, backend: this.opts.backend.kind },
      'WireGuard device ready',
    );
    return device;
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    const delay = backoffDelayMs(
      this.failures - 1,
      this.opts.random ?? Math.random,
      TUNNEL_RETRY_BACKOFF,
    );
    this.opts.log.warn(
      { error: this.lastError, retryInMs: delay },
      'applying the tunnel config failed',
    );
    this.opts.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.opts.clock.setTimeout(() => {
      this.retryTimer = null;
      void this.kick();
    }, delay);
  }

  private setError(e: string | null): void {
    if (this.lastError === e) return;
    this.lastError = e;
    this.opts.onChange?.();
  }
}
