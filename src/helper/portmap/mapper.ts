/**
 * The port-mapping lifecycle (Tailscale's portmapper): while running, keep one UDP mapping of
 * magicsock's port on the default gateway, renewed at half its lifetime; drop it when the gateway
 * changes, stops answering or reboots (its epoch goes back); delete it on stop. Probes run with
 * each netcheck, which also reports which protocols the gateway speaks. Timers go through the
 * Clock so tests drive renewals with a ManualClock.
 */
import type { PortMappingSupport } from '../../shared/schema/netcheck.js';
import { systemClock, type Clock } from '../control-client/clock.js';
import { silentLogger, type Logger } from '../daemon/log.js';
import type { PortMapClient, PortMapping } from './client.js';

/** Renew when half the granted lifetime is gone (RFC 6886 §3.3, RFC 6887 §11.2.1). */
export const RENEW_FRACTION = 0.5;
/**
 * A floor on the renewal delay, so a gateway granting absurdly short lifetimes (or 0) cannot make
 * us hammer it.
 */
export const MIN_RENEW_MS = 30_000;
/** After a failed renewal, try again this soon before giving the mapping up at expiry. */
export const RENEW_RETRY_MS = 15_000;

/**
 * Whether the server's epoch says it lost its state (RFC 6886 §3.6, RFC 6887 §8.5): its clock
 * must advance at least 7/8 as fast as ours, with a second of slack.
 */
export function epochWentBack(
  previous: { epoch: number; atMs: number },
  next: { epoch: number; atMs: number },
): boolean {
  const elapsedSec = Math.max(0, (next.atMs - previous.atMs) / 1000);
  return next.epoch + 1 < previous.epoch + (elapsedSec * 7) / 8;
}

export interface PortMapperOptions {
  readonly client: PortMapClient;
  readonly gateway: () => Promise<string | null>;
  /** The UDP port to map (magicsock's); null while unknown. */
  readonly localPort: () => number | null;
  /** Called whenever the mapping appears, changes or goes away. */
  readonly onChange: (mapping: PortMapping | null) => void;
  readonly clock?: Clock;
  readonly log?: Logger;
}

export class PortMapper {
  private readonly clock: Clock;
  private readonly log: Logger;
  private mapping: PortMapping | null = null;
  /** When the mapping's lifetime was granted, on the clock. */
  private grantedAt = 0;
  private lastEpoch: { epoch: number; atMs: number } | null = null;
  private renewTimer: unknown = null;
  private busy: Promise<unknown> = Promise.resolve();
  private active = true;

  constructor(private readonly options: PortMapperOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
  }

  get current(): PortMapping | null {
    return this.mapping;
  }

  /**
   * Probes the gateway and (re)establishes the mapping as needed; returns what it speaks, or null
   * without a gateway. Serialized with renewals.
   */
  probe(): Promise<PortMappingSupport | null> {
    return this.serialize(() => this.probeNow());
  }

  /** Cancels renewals and deletes the mapping. */
  async stop(): Promise<void> {
    this.active = false;
    this.clock.clearTimeout(this.renewTimer);
    this.renewTimer = null;
    await this.serialize(async () => {
      const m = this.mapping;
      if (m === null) return;
      this.setMapping(null);
      await this.options.client.unmap(m);
      this.log.info({ external: `${m.externalAddress}:${m.externalPort}` }, 'port mapping deleted');
    });
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async probeNow(): Promise<PortMappingSupport | null> {
    if (!this.active) return null;
    const gateway = await this.options.gateway();
    if (this.mapping !== null && this.mapping.gateway !== gateway) {
      this.log.info(
        { from: this.mapping.gateway, to: gateway },
        'gateway changed: mapping dropped',
      );
      // The old gateway may still be reachable (a second uplink): tidy up, best effort.
      void this.options.client.unmap(this.mapping);
      this.drop();
      this.lastEpoch = null;
    }
    if (gateway === null) return null;
    const probe = await this.options.client.probe(gateway);
    if (!this.active) return probe.support;
    const spoken = probe.support.natPmp || probe.support.pcp || probe.support.upnp;
    if (!spoken) {
      if (this.mapping !== null)
        this.log.info({ gateway }, 'gateway stopped answering: mapping dropped');
      this.drop();
      return probe.support;
    }
    if (probe.epoch !== null && this.noteEpoch(probe.epoch) && this.mapping !== null) {
      this.log.info({ gateway }, 'gateway restarted (epoch went back): mapping again');
      this.drop();
    }
    const port = this.options.localPort();
    if (this.mapping !== null && this.mapping.internalPort !== port) {
      void this.options.client.unmap(this.mapping);
      this.drop();
    }
    if (this.mapping === null && port !== null) await this.mapNow(gateway, port, null);
    return probe.support;
  }

  /** Records an epoch; true when it shows the server lost its mappings. */
  private noteEpoch(epoch: number): boolean {
    const now = { epoch, atMs: this.clock.now() };
    const reset = this.lastEpoch !== null && epochWentBack(this.lastEpoch, now);
    this.lastEpoch = now;
    return reset;
  }

  private async mapNow(gateway: string, port: number, previous: PortMapping | null): Promise<void> {
    const r = await this.options.client.map(gateway, port, previous);
    if (!this.active) {
      if (r.ok) await this.options.client.unmap(r.value);
      return;
    }
    if (!r.ok) {
      this.log.warn({ gateway, error: r.error.message }, 'port mapping failed');
      if (previous !== null) this.scheduleRetryOrExpire(previous);
      return;
    }
    const m = r.value;
    if (m.epoch !== null) this.noteEpoch(m.epoch);
    this.grantedAt = this.clock.now();
    if (
      previous === null ||
      previous.externalAddress !== m.externalAddress ||
      previous.externalPort !== m.externalPort
    ) {
      this.log.info(
        { protocol: m.protocol, external: `${m.externalAddress}:${m.externalPort}` },
        'port mapping established',
      );
    }
    this.setMapping(m);
    this.scheduleRenew(Math.max(MIN_RENEW_MS, m.lifetimeSec * 1000 * RENEW_FRACTION));
  }

  private scheduleRenew(delayMs: number): void {
    this.clock.clearTimeout(this.renewTimer);
    this.renewTimer = this.clock.setTimeout(() => {
      this.renewTimer = null;
      void this.serialize(() => this.renew());
    }, delayMs);
  }

  private async renew(): Promise<void> {
    const m = this.mapping;
    if (!this.active || m === null) return;
    await this.mapNow(m.gateway, m.internalPort, m);
  }

  /** A renewal failed: retry until the granted lifetime runs out, then give the mapping up. */
  private scheduleRetryOrExpire(m: PortMapping): void {
    const left = this.grantedAt + m.lifetimeSec * 1000 - this.clock.now();
    if (left <= RENEW_RETRY_MS) {
      this.log.info({ gateway: m.gateway }, 'port mapping could not be renewed: dropped');
      this.drop();
      return;
    }
    this.scheduleRenew(RENEW_RETRY_MS);
  }

  private drop(): void {
    this.clock.clearTimeout(this.renewTimer);
    this.renewTimer = null;
    this.setMapping(null);
  }

  private setMapping(m: PortMapping | null): void {
    const before = this.mapping;
    this.mapping = m;
    const key = (x: PortMapping | null) =>
      x === null ? null : `${x.gateway} ${x.externalAddress}:${x.externalPort}`;
    if (key(before) !== key(m)) this.options.onChange(m);
  }
}
