/**
 * Keeps the app attached to the helper: opens the LocalAPI watch stream, tracks the latest Status
 * and Prefs it reports, and reconnects with jittered exponential backoff when the helper is not
 * running, restarts or refuses us. Timers come from an injected clock so tests drive time.
 */
import type { Clock } from '../../helper/control-client/clock.js';
import { backoffDelayMs, type BackoffPolicy } from '../../helper/relay/backoff.js';
import type { HelperConnection } from '../../shared/schema/ipc.js';
import type { Notification, Prefs, Status } from '../../shared/schema/localapi.js';
import type { HelperApi, HelperApiFactory, HelperError, WatchHandle } from './helper-api.js';
import { unavailableConnection } from './helper-errors.js';

/**
 * The helper is local: once the user starts it they expect the app to notice within seconds, so
 * retries start at ~0.5 s and stop growing at 10 s (a few cheap connect() calls per minute while
 * it stays down). Jitter keeps many desktop sessions on one machine from retrying in lockstep.
 */
export const HELPER_RECONNECT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 10_000 };

type Unavailable = Extract<HelperConnection, { state: 'helper-unavailable' }>;

export interface HelperSnapshot {
  readonly status: Status | null;
  readonly prefs: Prefs | null;
  /** Set while the helper cannot be used; status and prefs are then stale and ignored. */
  readonly unavailable: Unavailable | null;
  /** A helper failure that is not about reachability (e.g. the watch was refused with 500). */
  readonly error: string | null;
}

export interface HelperLinkOptions {
  readonly factory: HelperApiFactory;
  readonly socketPath: string;
  readonly clock: Clock;
  readonly random?: () => number;
  readonly backoff?: BackoffPolicy;
  readonly onChange: (s: HelperSnapshot) => void;
  readonly onNotification?: (n: Notification) => void;
}

export class HelperLink {
  private api: HelperApi | null = null;
  private watch: WatchHandle | null = null;
  private snapshot: HelperSnapshot = { status: null, prefs: null, unavailable: null, error: null };
  private failures = 0;
  private timer: unknown = null;
  private running = false;
  /** Bumped on every (re)connect so late callbacks from an old stream are ignored. */
  private generation = 0;

  constructor(private readonly opts: HelperLinkOptions) {}

  get current(): HelperSnapshot {
    return this.snapshot;
  }

  /** The client of the live stream, or a fresh one (which may fail) while there is none. */
  client(): HelperApi {
    return this.api ?? this.opts.factory();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect();
  }

  stop(): void {
    this.running = false;
    this.generation++;
    this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
    this.watch?.close();
    this.watch = null;
    this.api = null;
  }

  /** Adopts prefs a command just got back, without waiting for the stream to echo them. */
  adoptPrefs(prefs: Prefs): void {
    if (this.snapshot.unavailable) return;
    this.update({ prefs });
  }

  /** Reconnects now (e.g. the user pressed "Retry"), skipping the remaining backoff. */
  retryNow(): void {
    if (!this.running || this.watch) return;
    this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
    void this.connect();
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    const api = this.opts.factory();
    let gotEvent = false;
    const r = await api.watch(
      {
        event: (ev) => {
          if (gen !== this.generation) return;
          if (!gotEvent) {
            gotEvent = true;
            // Only a stream that delivers counts as success: one that opens and drops at
            // once (a daemon crash-looping) keeps backing off.
            this.failures = 0;
          }
          switch (ev.type) {
            case 'status':
              this.update({ status: ev.status, unavailable: null, error: null });
              break;
            case 'prefs':
              this.update({ prefs: ev.prefs, unavailable: null, error: null });
              break;
            case 'notification':
              this.opts.onNotification?.(ev.notification);
              break;
            case 'netmap-summary':
            case 'log':
              break;
          }
        },
        // However the stream ended, the next attempt decides what to show: a daemon restart
        // heals within one retry, so the UI does not flash "helper unavailable" for it.
        closed: () => {
          if (gen !== this.generation) return;
          this.watch = null;
          this.api = null;
          this.scheduleRetry();
        },
      },
      { initial: true, logs: false },
    );
    if (gen !== this.generation) {
      if (r.ok) r.value.close();
      return;
    }
    if (!r.ok) {
      this.markFailed(r.error);
      this.scheduleRetry();
      return;
    }
    this.api = api;
    this.watch = r.value;
  }

  private markFailed(e: HelperError): void {
    const unavailable = unavailableConnection(e, this.opts.socketPath);
    if (unavailable) this.update({ unavailable, error: null });
    else this.update({ error: `${e.code}: ${e.message}`.slice(0, 2048) });
  }

  private scheduleRetry(): void {
    if (!this.running) return;
    const delay = backoffDelayMs(
      this.failures++,
      this.opts.random ?? Math.random,
      this.opts.backoff ?? HELPER_RECONNECT_BACKOFF,
    );
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = null;
      if (this.running) void this.connect();
    }, delay);
  }

  private update(patch: Partial<HelperSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    this.opts.onChange(this.snapshot);
  }
}
