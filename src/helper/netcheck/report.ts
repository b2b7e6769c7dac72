/**
 * Measurements in, NetcheckReport out: pure functions, so the rules (which reflexive address we
 * advertise, when the NAT counts as "hard", which region we prefer) are tested without sockets.
 */
import { ipPortToString } from '../../shared/ip.js';
import type { NetcheckReport } from '../../shared/schema/netcheck.js';
import type { Addr } from '../../shared/stun/index.js';

/** One STUN server's answer to one of our probes. */
export interface StunAnswer {
  readonly regionId: number;
  readonly family: 4 | 6;
  /** Our address and port as that server saw them. */
  readonly mapped: Addr;
  readonly rttMs: number;
}

export interface ReportInput {
  readonly answers: readonly StunAnswer[];
  /** Region id → HTTP(S) latency to its relay; used only when no STUN server answered. */
  readonly httpLatencies: ReadonlyMap<number, number>;
  /** The previous report's preferred region, for hysteresis. */
  readonly previousPreferred: number | null;
  readonly measuredAt: Date;
}

/**
 * A new region must be this much faster than the current preferred one to replace it
 * (Tailscale's netcheck uses the same 2/3): latencies jitter from run to run, and every change of
 * preferred region moves the home relay connection, so near-ties keep the old choice.
 */
export const PREFERRED_REGION_SWITCH_RATIO = 2 / 3;
/** Largest latency the report schema accepts (an hour); anything slower is clamped. */
const MAX_LATENCY_MS = 3_600_000;

export function buildReport(input: ReportInput): NetcheckReport {
  const v4 = input.answers.filter((a) => a.family === 4);
  const v6 = input.answers.filter((a) => a.family === 6);
  const udp = input.answers.length > 0;
  const latencies = udp ? stunLatencies(input.answers) : input.httpLatencies;
  const regionLatencies: Record<string, number> = {};
  for (const [id, ms] of [...latencies].sort((a, b) => a[0] - b[0])) {
    regionLatencies[String(id)] = roundLatency(ms);
  }
  return {
    udp,
    ipv4: v4.length > 0,
    ipv6: v6.length > 0,
    globalV4: reflexive(v4),
    globalV6: reflexive(v6),
    mappingVariesByDest: mappingVariesByDest(input.answers),
    preferredRegion: choosePreferredRegion(latencies, input.previousPreferred),
    regionLatencies,
    portMapping: null,
    measuredAt: input.measuredAt.toISOString(),
  };
}

/** Best (lowest) STUN round trip per region, over every probe and family. */
function stunLatencies(answers: readonly StunAnswer[]): Map<number, number> {
  const best = new Map<number, number>();
  for (const a of answers) {
    const old = best.get(a.regionId);
    if (old === undefined || a.rttMs < old) best.set(a.regionId, a.rttMs);
  }
  return best;
}

/** Tenths of a millisecond: finer is noise, and it keeps the JSON short. */
function roundLatency(ms: number): number {
  return Math.min(MAX_LATENCY_MS, Math.max(0, Math.round(ms * 10) / 10));
}

/**
 * The reflexive address to advertise for one family: the one the fastest server saw. Behind a
 * hard NAT servers disagree and none of them predicts what a peer will see; we still advertise
 * one, since a peer behind an easy NAT can reach us through it after we send to that peer first.
 */
function reflexive(answers: readonly StunAnswer[]): string | null {
  let best: StunAnswer | undefined;
  for (const a of answers) if (best === undefined || a.rttMs < best.rttMs) best = a;
  return best ? ipPortToString(best.mapped.address, best.mapped.port) : null;
}

/**
 * True when servers saw different public endpoints for the same local socket (the NAT maps per
 * destination: "hard", symmetric NAT); false when at least two servers of one family agree and no
 * family disagrees; null until two answers of one family arrived.
 */
export function mappingVariesByDest(answers: readonly StunAnswer[]): boolean | null {
  let known = false;
  for (const family of [4, 6] as const) {
    const seen = answers.filter((a) => a.family === family);
    if (seen.length < 2) continue;
    known = true;
    const distinct = new Set(seen.map((a) => `${a.mapped.address}|${a.mapped.port}`));
    if (distinct.size > 1) return true;
  }
  return known ? false : null;
}

/**
 * The region with the lowest latency (ties: the lower id), except that the previous preferred
 * region stays while it is still reachable and the best is not clearly faster.
 */
export function choosePreferredRegion(
  latencies: ReadonlyMap<number, number>,
  previous: number | null,
): number | null {
  let best: [number, number] | undefined;
  for (const [id, ms] of latencies) {
    if (best === undefined || ms < best[1] || (ms === best[1] && id < best[0])) best = [id, ms];
  }
  if (best === undefined) return null;
  const old = previous === null ? undefined : latencies.get(previous);
  if (previous !== null && old !== undefined && best[1] >= old * PREFERRED_REGION_SWITCH_RATIO) {
    return previous;
  }
  return best[0];
}

/**
 * Whether two reports say the same thing to control and magicsock: everything but the time and
 * the latency values (which jitter on every run; Tailscale's NetInfo.BasicallyEqual ignores them
 * too). A change of region set or of preferred region still counts.
 */
export function sameReport(a: NetcheckReport | null, b: NetcheckReport | null): boolean {
  if (a === null || b === null) return a === b;
  const gist = (r: NetcheckReport) =>
    JSON.stringify({
      ...r,
      measuredAt: null,
      regionLatencies: Object.keys(r.regionLatencies).sort(),
    });
  return gist(a) === gist(b);
}
