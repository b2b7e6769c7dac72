/**
 * Primary routers: when several devices offer the same subnet prefix, peers route it through
 * exactly one of them (the primary), so WireGuard's allowed IPs never name one prefix twice.
 *
 * Election, per prefix, among the approved devices whose route is enabled (advertised and
 * approved):
 *   1. the current primary stays while it is online (no flapping: a router that comes back does
 *      not take the prefix back from the one that took over);
 *   2. otherwise the online router that has been online longest (ties: the oldest device, then
 *      the smallest id, so every control replica picks the same one);
 *   3. with no router online, the current primary keeps the prefix (a router that only lost its
 *      control connection may still carry traffic), else the oldest device gets it.
 *
 * Exit nodes have no primary: each client picks its exit node itself.
 */

/** What the election needs to know about a router. */
export interface RouterState {
  readonly online: boolean;
  /** When it came online (ms), or null when offline or unknown. */
  readonly onlineSince: number | null;
  /** Device registration time (ISO); the tie-breaker. */
  readonly created: string;
}

export class PrimaryRoutes {
  /** prefix → devices offering it. */
  private readonly routers = new Map<string, Set<string>>();
  /** device → prefixes it offers. */
  private readonly offered = new Map<string, readonly string[]>();
  /** prefix → its primary router. */
  private readonly primary = new Map<string, string>();
  /** device → prefixes it is primary for. */
  private readonly primaryOf = new Map<string, Set<string>>();

  /**
   * Records the prefixes a device offers (empty: none, or the device is gone) and re-elects
   * every prefix it gained or lost. Returns the devices whose primary prefixes changed.
   */
  setOffered(
    id: string,
    prefixes: readonly string[],
    state: (id: string) => RouterState | undefined,
  ): Set<string> {
    const before = this.offered.get(id) ?? [];
    const next = [...new Set(prefixes)];
    const touched = new Set<string>();
    for (const p of before) {
      if (next.includes(p)) continue;
      const set = this.routers.get(p);
      set?.delete(id);
      if (set?.size === 0) this.routers.delete(p);
      touched.add(p);
    }
    for (const p of next) {
      if (before.includes(p)) continue;
      let set = this.routers.get(p);
      if (!set) this.routers.set(p, (set = new Set()));
      set.add(id);
      touched.add(p);
    }
    if (next.length) this.offered.set(id, next);
    else this.offered.delete(id);
    return this.elect(touched, state);
  }

  /** The device's presence changed: re-elects the prefixes it offers. */
  presenceChanged(id: string, state: (id: string) => RouterState | undefined): Set<string> {
    return this.elect(this.offered.get(id) ?? [], state);
  }

  /** Prefixes the device is primary for, sorted (what goes into peers' allowed IPs). */
  primariesOf(id: string): string[] {
    const set = this.primaryOf.get(id);
    return set ? [...set].sort() : [];
  }

  /** The primary router of a prefix, if any. */
  primaryFor(prefix: string): string | undefined {
    return this.primary.get(prefix);
  }

  private elect(
    prefixes: Iterable<string>,
    state: (id: string) => RouterState | undefined,
  ): Set<string> {
    const changed = new Set<string>();
    for (const p of prefixes) {
      const current = this.primary.get(p);
      const winner = chooseRouter(this.routers.get(p), current, state);
      if (winner === current) continue;
      if (current !== undefined) {
        this.primaryOf.get(current)?.delete(p);
        if (this.primaryOf.get(current)?.size === 0) this.primaryOf.delete(current);
        changed.add(current);
      }
      if (winner === undefined) {
        this.primary.delete(p);
        continue;
      }
      this.primary.set(p, winner);
      let set = this.primaryOf.get(winner);
      if (!set) this.primaryOf.set(winner, (set = new Set()));
      set.add(p);
      changed.add(winner);
    }
    return changed;
  }
}

/** The election rules of the module comment, for one prefix. */
function chooseRouter(
  candidates: ReadonlySet<string> | undefined,
  current: string | undefined,
  state: (id: string) => RouterState | undefined,
): string | undefined {
  if (!candidates || candidates.size === 0) return undefined;
  const cur = current !== undefined && candidates.has(current) ? state(current) : undefined;
  if (cur?.online) return current;
  let best: { id: string; s: RouterState } | undefined;
  for (const id of candidates) {
    const s = state(id);
    if (!s?.online) continue;
    if (!best || onlineLonger(id, s, best.id, best.s)) best = { id, s };
  }
  if (best) return best.id;
  if (cur) return current;
  for (const id of candidates) {
    const s = state(id);
    if (!s) continue;
    if (!best || older(id, s, best.id, best.s)) best = { id, s };
  }
  return best?.id;
}

function onlineLonger(a: string, sa: RouterState, b: string, sb: RouterState): boolean {
  const ta = sa.onlineSince ?? Number.MAX_SAFE_INTEGER;
  const tb = sb.onlineSince ?? Number.MAX_SAFE_INTEGER;
  return ta !== tb ? ta < tb : older(a, sa, b, sb);
}

function older(a: string, sa: RouterState, b: string, sb: RouterState): boolean {
  return sa.created !== sb.created ? sa.created < sb.created : a < b;
}
