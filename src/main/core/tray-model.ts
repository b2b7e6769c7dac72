/**
 * The tray: icon, tooltip and menu as a pure function of AppState, so every state's menu is
 * unit-tested without Electron. The Electron adapter only renders the template and routes each
 * item's `action` back through runTrayAction.
 */
import type { AppState, ExitNodeOption, View } from '../../shared/schema/ipc.js';
import type { ExitNodeSelector, PeerStatus, PrefsPatch } from '../../shared/schema/localapi.js';

export type TrayIcon =
  'needs-login' | 'disconnected' | 'connecting' | 'connected' | 'exit-node' | 'error';

export type TrayAction =
  | { readonly type: 'copy'; readonly text: string }
  | { readonly type: 'connect' }
  | { readonly type: 'disconnect' }
  | { readonly type: 'set-exit-node'; readonly selector: ExitNodeSelector }
  | { readonly type: 'set-prefs'; readonly patch: PrefsPatch }
  | { readonly type: 'open-window'; readonly view: View }
  | { readonly type: 'sign-in' }
  | { readonly type: 'sign-out' }
  | { readonly type: 'retry-helper' }
  | { readonly type: 'open-admin-console' }
  | { readonly type: 'about' }
  | { readonly type: 'quit' };

export type TrayMenuItem =
  | { readonly kind: 'separator' }
  /** Informational, not clickable. */
  | { readonly kind: 'label'; readonly label: string }
  | {
      readonly kind: 'action';
      readonly label: string;
      readonly enabled: boolean;
      readonly action: TrayAction;
    }
  | {
      readonly kind: 'checkbox' | 'radio';
      readonly label: string;
      readonly checked: boolean;
      readonly enabled: boolean;
      readonly action: TrayAction;
    }
  | { readonly kind: 'submenu'; readonly label: string; readonly items: readonly TrayMenuItem[] };

export interface TrayModel {
  readonly icon: TrayIcon;
  readonly tooltip: string;
  readonly menu: readonly TrayMenuItem[];
}

/**
 * Peers listed in the tray menu. Native menus build every entry up front (macOS NSMenu, GTK) and
 * become sluggish with thousands; past this many the menu ends with "All peers…", the window's
 * virtualized list.
 */
export const TRAY_MAX_PEERS = 40;
/** Tooltips are truncated by some shells (Windows: 127 characters). */
export const TRAY_TOOLTIP_MAX = 127;

const SEP: TrayMenuItem = { kind: 'separator' };
const action = (label: string, a: TrayAction, enabled = true): TrayMenuItem => ({
  kind: 'action',
  label,
  enabled,
  action: a,
});

export function trayIcon(s: AppState): TrayIcon {
  const c = s.connection;
  switch (c.state) {
    case 'helper-unavailable':
    case 'error':
      return 'error';
    case 'needs-login':
    case 'needs-approval':
      return 'needs-login';
    case 'disconnected':
      return 'disconnected';
    case 'connecting':
      return 'connecting';
    case 'connected':
      return c.exitNode ? 'exit-node' : 'connected';
  }
}

/** One line saying where things stand; the tooltip and the menu's first line. */
export function statusLine(s: AppState): string {
  const c = s.connection;
  switch (c.state) {
    case 'helper-unavailable':
      return 'Helper not available';
    case 'needs-login':
      return s.login?.state === 'waiting' ? 'Signing in…' : 'Signed out';
    case 'needs-approval':
      return 'Waiting for an admin to approve this device';
    case 'disconnected':
      return 'Disconnected';
    case 'connecting':
      return 'Connecting…';
    case 'connected':
      return c.exitNode ? `Connected via exit node ${c.exitNode.name}` : 'Connected';
    case 'error':
      return `Error: ${c.message}`;
  }
}

const fmtLatency = (ms: number | null): string => (ms === null ? '' : ` · ${Math.round(ms)} ms`);

function exitNodeItem(o: ExitNodeOption, selected: boolean): TrayMenuItem {
  return {
    kind: 'radio',
    label: `${o.name}${o.online ? '' : ' (offline)'}${fmtLatency(o.latencyMs)}`,
    checked: selected,
    // An offline exit node cannot carry traffic; keep the current choice visible though.
    enabled: o.online || selected,
    action: { type: 'set-exit-node', selector: { type: 'id', id: o.id } },
  };
}

function exitNodeMenu(s: AppState): TrayMenuItem {
  const sel = s.prefs?.exitNode ?? null;
  const usable = s.prefs !== null;
  const recommended = s.exitNodes.find((o) => o.recommended);
  const items: TrayMenuItem[] = [
    {
      kind: 'radio',
      label: 'None',
      checked: sel === null,
      enabled: usable,
      action: { type: 'set-exit-node', selector: null },
    },
    {
      kind: 'radio',
      label: recommended
        ? `Recommended (${recommended.name}${fmtLatency(recommended.latencyMs)})`
        : 'Recommended',
      checked: sel?.type === 'auto',
      enabled: usable && recommended !== undefined,
      action: { type: 'set-exit-node', selector: { type: 'auto' } },
    },
  ];
  if (s.exitNodes.length > 0) items.push(SEP);
  for (const o of s.exitNodes) {
    const selected =
      (sel?.type === 'id' && sel.id === o.id) ||
      (sel?.type === 'name' && (sel.name === o.name || sel.name === o.fqdn)) ||
      (sel?.type !== 'auto' && sel !== null && o.active);
    items.push(exitNodeItem(o, selected));
  }
  if (s.exitNodes.length === 0) items.push({ kind: 'label', label: 'No exit nodes offered' });
  items.push(SEP, {
    kind: 'checkbox',
    label: 'Allow local network access',
    checked: s.prefs?.exitNodeAllowLAN ?? false,
    enabled: usable && sel !== null,
    action: {
      type: 'set-prefs',
      patch: { exitNodeAllowLAN: !(s.prefs?.exitNodeAllowLAN ?? false) },
    },
  });
  const active = s.exitNodes.find((o) => o.active);
  return { kind: 'submenu', label: active ? `Exit node: ${active.name}` : 'Exit node', items };
}

const peerOrder = (a: PeerStatus, b: PeerStatus): number =>
  Number(b.online) - Number(a.online) || a.name.localeCompare(b.name);

function peersMenu(s: AppState): TrayMenuItem {
  const peers = [...s.peers].sort(peerOrder);
  const items: TrayMenuItem[] = peers.slice(0, TRAY_MAX_PEERS).map((p) =>
    action(`${p.online ? '●' : '○'} ${p.name}  ${p.addresses.ipv4}`, {
      type: 'copy',
      text: p.addresses.ipv4,
    }),
  );
  if (peers.length === 0) items.push({ kind: 'label', label: 'No peers' });
  if (peers.length > TRAY_MAX_PEERS) {
    items.push(SEP, action(`All ${peers.length} peers…`, { type: 'open-window', view: 'peers' }));
  }
  const online = peers.filter((p) => p.online).length;
  return { kind: 'submenu', label: `Peers (${online} online)`, items };
}

function settingsMenu(s: AppState): TrayMenuItem {
  const p = s.prefs;
  const toggle = (
    label: string,
    key: 'acceptRoutes' | 'acceptDNS' | 'blockIncoming',
  ): TrayMenuItem => ({
    kind: 'checkbox',
    label,
    checked: p?.[key] ?? false,
    enabled: p !== null,
    action: { type: 'set-prefs', patch: { [key]: !(p?.[key] ?? false) } },
  });
  return {
    kind: 'submenu',
    label: 'Settings',
    items: [
      toggle('Use subnet routes', 'acceptRoutes'),
      toggle('Use Trellis DNS', 'acceptDNS'),
      toggle('Block incoming connections', 'blockIncoming'),
      SEP,
      action('All settings…', { type: 'open-window', view: 'settings' }),
    ],
  };
}

function accountMenu(s: AppState): TrayMenuItem {
  const a = s.account;
  const signedIn = s.self !== null;
  const items: TrayMenuItem[] = [];
  if (a) {
    items.push({ kind: 'label', label: a.user.email ?? a.user.name });
    items.push({ kind: 'label', label: `Network: ${a.network.name}` });
  }
  if (signedIn) {
    items.push(action('Sign out', { type: 'sign-out' }));
    items.push(action('Switch account…', { type: 'open-window', view: 'sign-in' }));
  } else {
    items.push(action('Sign in…', { type: 'sign-in' }, s.login?.state !== 'waiting'));
  }
  return {
    kind: 'submenu',
    label: a ? `Account (${a.user.email ?? a.user.name})` : 'Account',
    items,
  };
}

function primaryItems(s: AppState): TrayMenuItem[] {
  const c = s.connection;
  switch (c.state) {
    case 'helper-unavailable':
      return [{ kind: 'label', label: c.hint }, action('Retry', { type: 'retry-helper' })];
    case 'needs-login':
      return [action('Sign in…', { type: 'sign-in' }, s.login?.state !== 'waiting')];
    case 'needs-approval':
      return [action('Open admin console', { type: 'open-admin-console' })];
    case 'disconnected':
    case 'error':
      return [action('Connect', { type: 'connect' })];
    case 'connecting':
    case 'connected':
      return [action('Disconnect', { type: 'disconnect' })];
  }
}

export function trayModel(s: AppState): TrayModel {
  const line = statusLine(s);
  const menu: TrayMenuItem[] = [{ kind: 'label', label: line }];
  if (s.self) {
    menu.push(
      action(`This device: ${s.self.name} (${s.self.addresses.ipv4})`, {
        type: 'copy',
        text: s.self.addresses.ipv4,
      }),
    );
  }
  menu.push(...primaryItems(s), SEP);
  const meshUsable = s.self !== null && s.connection.state !== 'helper-unavailable';
  if (meshUsable) menu.push(exitNodeMenu(s), peersMenu(s), SEP);
  menu.push(action('Open Trellis', { type: 'open-window', view: 'home' }));
  if (s.prefs) menu.push(settingsMenu(s));
  if (s.connection.state !== 'helper-unavailable') menu.push(accountMenu(s));
  menu.push(
    action('Admin console', { type: 'open-admin-console' }, s.prefs !== null),
    SEP,
    action('About Trellis', { type: 'about' }),
    action('Quit', { type: 'quit' }),
  );
  return { icon: trayIcon(s), tooltip: `Trellis: ${line}`.slice(0, TRAY_TOOLTIP_MAX), menu };
}
