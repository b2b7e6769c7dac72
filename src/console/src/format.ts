/** Text for times, owners and audit values, shared by the console's tables. Pure functions. */
import type { AdminDevice, AuditActor } from '../../shared/schema/control/admin.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 min ago", "3 h ago", "2 days ago"; future times as "in 3 days". */
export function relativeTime(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = now - t;
  const abs = Math.abs(d);
  const say = (n: number, unit: string) => (d >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`);
  if (abs < MINUTE) return 'just now';
  if (abs < HOUR) return say(Math.floor(abs / MINUTE), 'min');
  if (abs < DAY) return say(Math.floor(abs / HOUR), 'h');
  const days = Math.floor(abs / DAY);
  return say(days, days === 1 ? 'day' : 'days');
}

/** Local date and time, to the minute ("2026-01-31 14:05"). */
export function dateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function ownerText(owner: AdminDevice['owner']): string {
  return owner.type === 'user'
    ? (owner.user.email ?? owner.user.displayName)
    : owner.tags.join(', ');
}

export type KeyExpiryState =
  | { state: 'disabled' }
  | { state: 'expired'; at: string }
  | { state: 'expires'; at: string; soon: boolean }
  | { state: 'none' };

/** Within this, an expiry is worth a warning: the device must sign in again soon. */
export const EXPIRY_WARNING_MS = 14 * DAY;

export function keyExpiryState(
  d: Pick<AdminDevice, 'keyExpiry' | 'keyExpiryDisabled'>,
  now: number,
): KeyExpiryState {
  if (d.keyExpiryDisabled) return { state: 'disabled' };
  if (d.keyExpiry === null) return { state: 'none' };
  const t = Date.parse(d.keyExpiry);
  if (t <= now) return { state: 'expired', at: d.keyExpiry };
  return { state: 'expires', at: d.keyExpiry, soon: t - now < EXPIRY_WARNING_MS };
}

export function actorText(a: AuditActor): string {
  switch (a.type) {
    case 'user':
      return a.email ?? a.id;
    case 'api-key':
      return `API key ${a.id}`;
    case 'device':
      return `device ${a.id}`;
    case 'system':
      return 'system';
  }
}

/** An audit value as one short line: JSON arrays and objects stay as the API wrote them. */
export function auditValue(v: string | number | boolean | null): string {
  if (v === null) return '—';
  return typeof v === 'string' ? v : String(v);
}

/** "a, b , c" or one per line → trimmed, non-empty entries. */
export function splitList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Tags as typed ("db, tag:web") → policy tags ("tag:db", "tag:web"). */
export function parseTags(text: string): string[] {
  return splitList(text).map((t) => (t.startsWith('tag:') ? t : `tag:${t}`));
}
