/**
 * Which desktop notifications a state change deserves, decided purely from the previous and the
 * next AppState (and the time), so the rules are unit-tested and the Electron adapter only shows
 * what it is handed. A memo carries what was already said, so nothing is repeated on every event.
 */
import type { AppNotice, AppState } from '../../shared/schema/ipc.js';
import type { TrayAction } from './tray-model.js';

/**
 * Warn a week before the node key expires: enough to re-authenticate during a working week (the
 * default key lifetime is 180 days, as in Tailscale, which also warns days ahead).
 */
export const KEY_EXPIRY_WARNING_MS = 7 * 24 * 60 * 60 * 1000;

/** `helper`: a notification the helper itself sent on the watch stream (login denied, ...). */
export type NotificationKind = AppNotice['kind'];

export interface DesktopNotification {
  readonly kind: NotificationKind;
  readonly title: string;
  readonly body: string;
  /** What clicking the notification does. */
  readonly action: TrayAction | null;
}

export interface NotificationMemo {
  /** The key expiry instant already warned about (a new expiry after re-login warns again). */
  readonly keyExpiryWarned: string | null;
}

export const EMPTY_MEMO: NotificationMemo = { keyExpiryWarned: null };

const DAY_MS = 24 * 60 * 60 * 1000;

function approved(prev: AppState | null, next: AppState): DesktopNotification | null {
  if (prev?.connection.state !== 'needs-approval') return null;
  const s = next.connection.state;
  if (s !== 'connected' && s !== 'connecting' && s !== 'disconnected') return null;
  return {
    kind: 'device-approved',
    title: 'Device approved',
    body: next.self
      ? `${next.self.name} may now join the network${next.account ? ` ${next.account.network.name}` : ''}.`
      : 'This device may now join the network.',
    action: { type: 'open-window', view: 'home' },
  };
}

function keyExpiring(
  next: AppState,
  now: Date,
  memo: NotificationMemo,
): { n: DesktopNotification | null; memo: NotificationMemo } {
  const expiry = next.self?.keyExpiry ?? null;
  if (!expiry || memo.keyExpiryWarned === expiry) return { n: null, memo };
  const left = Date.parse(expiry) - now.getTime();
  if (!(left > 0 && left <= KEY_EXPIRY_WARNING_MS)) return { n: null, memo };
  const days = Math.ceil(left / DAY_MS);
  return {
    n: {
      kind: 'key-expiring',
      title: 'Sign in again soon',
      body: `This device's key expires in ${days === 1 ? 'less than a day' : `${days} days`}. Sign in again to keep it connected.`,
      action: { type: 'sign-in' },
    },
    memo: { ...memo, keyExpiryWarned: expiry },
  };
}

function exitNodeOffline(prev: AppState | null, next: AppState): DesktopNotification | null {
  if (!prev) return null;
  const before = prev.exitNodes.find((o) => o.active && o.online);
  if (!before) return null;
  const after = next.exitNodes.find((o) => o.id === before.id);
  // Gone from the netmap entirely counts as offline too: traffic has nowhere to go.
  if (after && after.online) return null;
  const usingExit = next.prefs?.exitNode !== null && next.prefs?.exitNode !== undefined;
  if (!usingExit) return null;
  return {
    kind: 'exit-node-offline',
    title: 'Exit node offline',
    body: `${before.name} went offline. Internet traffic through it stops until it is back or you pick another exit node.`,
    action: { type: 'open-window', view: 'exit-node' },
  };
}

export function decideNotifications(
  prev: AppState | null,
  next: AppState,
  now: Date,
  memo: NotificationMemo,
): { notifications: DesktopNotification[]; memo: NotificationMemo } {
  const out: DesktopNotification[] = [];
  const a = approved(prev, next);
  if (a) out.push(a);
  const k = keyExpiring(next, now, memo);
  if (k.n) out.push(k.n);
  const x = exitNodeOffline(prev, next);
  if (x) out.push(x);
  return { notifications: out, memo: k.memo };
}

/** The notification as the page shows it (web bridge): clicking leads to a view, if any. */
export function toAppNotice(n: DesktopNotification): AppNotice {
  return {
    kind: n.kind,
    title: n.title,
    body: n.body,
    view:
      n.action?.type === 'open-window'
        ? n.action.view
        : n.action?.type === 'sign-in'
          ? 'sign-in'
          : null,
  };
}
