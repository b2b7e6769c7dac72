/**
 * Choosing the home relay region: the one region a device stays connected to, which peers use to
 * reach it. Lowest latency wins, with hysteresis so two similar regions don't make the device
 * (and every peer that follows its home) flap between them.
 */

/**
 * A new region replaces the current home only when its latency is below this fraction of the
 * current one's (Tailscale's netcheck uses the same two-thirds rule).
 */
export const HOME_SWITCH_RATIO = 2 / 3;

export interface HomeRegionInput {
  /** Region ids in relay-map order. */
  readonly regions: readonly number[];
  readonly current: number | null;
  /** What netcheck prefers; taken over the current home only when clearly faster. */
  readonly preferred: number | null;
  /** Measured latency per region (ms); regions missing here were not measured. */
  readonly latencies: ReadonlyMap<number, number>;
  /** Regions whose relay failed recently: never chosen while another one is usable. */
  readonly failed: ReadonlySet<number>;
}

/** The home region to use, or null when the relay map is empty. Pure. */
export function chooseHomeRegion(input: HomeRegionInput): number | null {
  const { regions, current, preferred, latencies, failed } = input;
  if (regions.length === 0) return null;
  const usable = regions.filter((r) => !failed.has(r));
  const pool = usable.length > 0 ? usable : regions;
  const stay = current !== null && pool.includes(current) ? current : null;
  let best: number | null = null;
  if (preferred !== null && pool.includes(preferred)) best = preferred;
  else {
    for (const r of pool) {
      const l = latencies.get(r);
      if (l !== undefined && (best === null || l < (latencies.get(best) ?? Infinity))) best = r;
    }
  }
  if (best === null) return stay ?? pool[0] ?? null;
  if (stay === null || stay === best) return best;
  // Leave a working home only for a clearly faster region (or when we can't compare).
  const currentLatency = latencies.get(stay);
  const bestLatency = latencies.get(best);
  if (currentLatency === undefined || bestLatency === undefined) return best;
  return bestLatency < currentLatency * HOME_SWITCH_RATIO ? best : stay;
}
