/**
 * Fans daemon events out to watch-stream subscribers. Status changes are coalesced: however
 * often the daemon says "something changed", subscribers get at most one status per
 * WATCH_STATUS_MIN_INTERVAL_MS, always the newest. Other events go out at once.
 */
import {
  WATCH_STATUS_MIN_INTERVAL_MS,
  type Notification,
  type NetmapSummary,
  type Prefs,
  type Status,
  type WatchEvent,
} from '../../shared/schema/localapi.js';
import { systemClock, type Clock } from '../control-client/clock.js';

type Distribute<T> = T extends unknown ? Omit<T, 'seq'> : never;
/** A watch event before the connection numbers it. */
export type WatchEventBody = Distribute<WatchEvent>;
export type LogLevel = Extract<WatchEvent, { type: 'log' }>['level'];

export interface WatchSubscriber {
  /** Whether this subscriber asked for log events (`logs=1`). */
  readonly logs: boolean;
  deliver(ev: WatchEventBody): void;
}

export interface WatchSources {
  status(): Promise<Status>;
  prefs(): Prefs;
}

export interface WatchHubLog {
  warn(obj: object, msg: string): void;
}

export class WatchHub {
  private readonly subs = new Set<WatchSubscriber>();
  private timer: unknown = null;
  /** A status flush is scheduled or being built. */
  private pending = false;
  /** Something changed after the pending flush started building its status. */
  private changedAgain = false;
  private lastStatusAt = -Infinity;
  /** The last status sent, minus its timestamp: an unchanged status is not sent again. */
  private lastStatusKey = '';
  private readonly clock: Clock;
  private readonly minIntervalMs: number;
  private readonly log: WatchHubLog | undefined;

  constructor(
    private readonly sources: WatchSources,
    opts: { clock?: Clock; minIntervalMs?: number; log?: WatchHubLog } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.minIntervalMs = opts.minIntervalMs ?? WATCH_STATUS_MIN_INTERVAL_MS;
    this.log = opts.log;
  }

  get size(): number {
    return this.subs.size;
  }

  /**
   * Adds a subscriber; with `initial` it first gets the current status and prefs (so a new
   * client needs no separate GETs). Returns the unsubscribe function.
   */
  async subscribe(sub: WatchSubscriber, initial: boolean): Promise<() => void> {
    if (initial) {
      const status = await this.sources.status();
      sub.deliver({ type: 'status', status });
      sub.deliver({ type: 'prefs', prefs: this.sources.prefs() });
    }
    this.subs.add(sub);
    return () => this.subs.delete(sub);
  }

  /** Something in the status changed; subscribers hear about it within the coalescing window. */
  statusChanged(): void {
    if (this.subs.size === 0) return;
    if (this.pending) {
      this.changedAgain = true;
      return;
    }
    this.pending = true;
    const wait = Math.max(0, this.lastStatusAt + this.minIntervalMs - this.clock.now());
    this.timer = this.clock.setTimeout(() => void this.flushStatus(), wait);
  }

  prefsChanged(prefs: Prefs): void {
    this.broadcast({ type: 'prefs', prefs });
  }

  netmapSummary(summary: NetmapSummary): void {
    this.broadcast({ type: 'netmap-summary', summary });
  }

  notify(notification: Notification): void {
    this.broadcast({ type: 'notification', notification });
  }

  logLine(level: LogLevel, message: string, time: Date): void {
    const ev: WatchEventBody = {
      type: 'log',
      level,
      message: message.slice(0, 2048),
      time: time.toISOString(),
    };
    for (const s of this.subs) if (s.logs) s.deliver(ev);
  }

  close(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.subs.clear();
  }

  private async flushStatus(): Promise<void> {
    this.timer = null;
    this.lastStatusAt = this.clock.now();
    // The status built below includes every change made until now.
    this.changedAgain = false;
    try {
      const status = await this.sources.status();
      const key = JSON.stringify({ ...status, updatedAt: null });
      if (key !== this.lastStatusKey) {
        this.lastStatusKey = key;
        this.broadcast({ type: 'status', status });
      }
    } catch (e) {
      this.log?.warn({ err: e }, 'building the status for watchers failed');
    }
    this.pending = false;
    if (this.changedAgain) this.statusChanged();
  }

  private broadcast(ev: WatchEventBody): void {
    for (const s of this.subs) s.deliver(ev);
  }
}
