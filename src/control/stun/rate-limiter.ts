/**
 * Per-source token buckets for the STUN server. Our IPv4 Binding response (64 bytes of STUN) is
 * about three times a minimal 20-byte request, so an open STUN server is a small reflection
 * amplifier: capping answers per source IP bounds what a spoofed-source flood can reflect at one
 * victim, and what one client can cost us.
 */

export interface RateLimitConfig {
  /** Sustained answers per second per source IP. */
  readonly ratePerSecond: number;
  /** Answers a source may get back to back after being idle. */
  readonly burst: number;
  /** Most sources tracked at once; the least recently seen is forgotten beyond this. */
  readonly maxTrackedSources: number;
}

/**
 * A device's netcheck sends a handful of probes per region (retries, both families) and
 * magicsock re-STUNs every few tens of seconds, so one device averages well under 1/s. 20/s per
 * IP leaves room for dozens of devices behind one NAT (an office, a CGNAT) while limiting a
 * reflected flood to ~20 × 92 bytes (64 of STUN plus IPv4/UDP headers) ≈ 1.8 KB/s per victim.
 */
export const DEFAULT_RATE_PER_SECOND = 20;
/** Two seconds' worth: absorbs a netcheck burst from many devices behind one NAT. */
export const DEFAULT_BURST = 40;
/**
 * Bounds the limiter's memory at roughly 150 bytes × 10 000 ≈ 1.5 MB. An attacker cycling
 * through more spoofed sources than this resets their buckets, but each spoofed victim still
 * receives at most one burst per cycle.
 */
export const DEFAULT_MAX_TRACKED_SOURCES = 10_000;

export const DEFAULT_RATE_LIMIT: RateLimitConfig = {
  ratePerSecond: DEFAULT_RATE_PER_SECOND,
  burst: DEFAULT_BURST,
  maxTrackedSources: DEFAULT_MAX_TRACKED_SOURCES,
};

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class SourceRateLimiter {
  /** Map iteration order is insertion order; re-inserting on use makes it least-recently-used. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly config: RateLimitConfig,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get trackedSources(): number {
    return this.buckets.size;
  }

  /** Takes one token for `source`; false when its bucket is empty. */
  allow(source: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(source);
    if (bucket === undefined) {
      this.evictIfFull();
      this.buckets.set(source, { tokens: this.config.burst - 1, updatedAt: now });
      return this.config.burst >= 1;
    }
    this.buckets.delete(source);
    this.buckets.set(source, bucket);
    const elapsedSeconds = Math.max(0, now - bucket.updatedAt) / 1000;
    bucket.tokens = Math.min(
      this.config.burst,
      bucket.tokens + elapsedSeconds * this.config.ratePerSecond,
    );
    bucket.updatedAt = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private evictIfFull(): void {
    while (this.buckets.size >= this.config.maxTrackedSources) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) return;
      this.buckets.delete(oldest.value);
    }
  }
}
