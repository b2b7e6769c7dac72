/** Reconnect delays: exponential with jitter, so a relay restart isn't met by a thundering herd. */

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

/**
 * First retry after ~0.5 s (a relay restart or a network change usually heals that fast);
 * doubling up to 30 s, so a relay that is down for long costs each client ~2 attempts a minute.
 */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

/**
 * Delay before reconnect attempt `attempt` (0-based): the exponential cap, scaled by a random
 * factor in [0.5, 1) ("equal jitter": spread out, but never an instant retry loop).
 */
export function backoffDelayMs(
  attempt: number,
  random: () => number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const exp = Math.min(Math.max(0, attempt), 30); // 2^30 × anything is past any sane max
  const cap = Math.min(policy.maxMs, policy.initialMs * 2 ** exp);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(cap * (0.5 + r / 2));
}
