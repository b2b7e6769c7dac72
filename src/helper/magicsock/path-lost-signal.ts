/**
 * "A direct path that was trusted stopped answering", raised at most once per interval and never
 * lost. When our NAT rebinds, every peer's path dies within a few seconds of each other; one
 * re-STUN then finds our new address for all of them, so the signal is coalesced. But a loss
 * inside the interval (a second rebinding, or a first one shortly after an unrelated peer went
 * away) must still lead to a re-STUN: it fires when the interval ends instead of being dropped,
 * else the peers behind address-dependent NATs only learn our new address at the next periodic
 * STUN, 20–26 s later.
 */
import type { Clock } from '../control-client/clock.js';

export class PathLostSignal {
  private lastAt: number | null = null;
  private timer: unknown = null;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly minIntervalMs: number,
    private readonly fire: () => void,
  ) {}

  /** A path was lost: fire now, or when the interval since the last firing ends. */
  raise(): void {
    if (this.closed || this.timer !== null) return;
    const now = this.clock.now();
    const wait = this.lastAt === null ? 0 : this.lastAt + this.minIntervalMs - now;
    if (wait <= 0) {
      this.fireNow();
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.fireNow();
    }, wait);
  }

  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private fireNow(): void {
    if (this.closed) return;
    this.lastAt = this.clock.now();
    this.fire();
  }
}
