/**
 * Durations and times on the command line: "90d", "12h", "30m", "45s" (or a sum such as
 * "1d12h"), and times as ISO 8601 or as a duration ago ("--since 24h").
 */
import { usageError } from './command.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
/** Anything beyond ten years is a typo, not a plan. */
const MAX_DURATION_SECONDS = 10 * 365 * 86_400;

/** Seconds in a duration such as "1d12h"; a usage error when it does not parse. */
export function parseDuration(text: string, what: string): number {
  const parts = /^(?:\d{1,6}[smhdw])+$/.test(text) ? text.match(/\d{1,6}[smhdw]/g) : null;
  if (!parts) throw usageError(`${what}: expected a duration such as 30m, 12h, 90d or 1d12h`);
  let total = 0;
  for (const p of parts) total += Number(p.slice(0, -1)) * (UNIT_SECONDS[p.slice(-1)] ?? 0);
  if (total <= 0 || total > MAX_DURATION_SECONDS)
    throw usageError(`${what}: must be between 1 second and 10 years`);
  return total;
}

/** An instant: ISO 8601 ("2026-01-31", "2026-01-31T12:00:00Z") or a duration before `now`. */
export function parseTime(text: string, what: string, now: number = Date.now()): string {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw usageError(`${what}: not a valid date or time`);
    return new Date(t).toISOString();
  }
  return new Date(now - parseDuration(text, what) * 1000).toISOString();
}
