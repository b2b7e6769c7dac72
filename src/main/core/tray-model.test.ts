import { describe, expect, it } from 'vitest';
import type { AppState, HelperConnection } from '../../shared/schema/ipc.js';
import { sampleAppState } from '../../shared/schema/samples.js';
import { initialAppState } from './app-state.js';
import { fakePeers } from './testing/fake-peers.js';
import { TRAY_MAX_PEERS, TRAY_TOOLTIP_MAX, trayModel, type TrayMenuItem } from './tray-model.js';

const withConnection = (connection: HelperConnection, over: Partial<AppState> = {}): AppState => ({
  ...sampleAppState(),
  connection,
  ...over,
});

/** Finds a menu item by label (prefix), searching submenus. */
function find(items: readonly TrayMenuItem[], label: string): TrayMenuItem | undefined {
  for (const i of items) {
    if ('label' in i && i.label.startsWith(label)) return i;
    if (i.kind === 'submenu') {
      const inner = find(i.items, label);
      if (inner) return inner;
    }
  }
  return undefined;
}
const labels = (items: readonly TrayMenuItem[]) =>
  items.map((i) => (i.kind === 'separator' ? '---' : i.label));
const submenu = (items: readonly TrayMenuItem[], label: string) => {
  const s = find(items, label);
  if (s?.kind !== 'submenu') throw new Error(`no submenu ${label}`);
  return s.items;
};

describe('tray icon and tooltip', () => {
  const cases: [HelperConnection, string, string][] = [
    [{ state: 'needs-login', loginUrl: null }, 'needs-login', 'Signed out'],
    [{ state: 'needs-approval' }, 'needs-login', 'Waiting for an admin to approve this device'],
    [{ state: 'disconnected' }, 'disconnected', 'Disconnected'],
    [{ state: 'connecting' }, 'connecting', 'Connecting…'],
    [{ state: 'connected', exitNode: null }, 'connected', 'Connected'],
    [
      { state: 'connected', exitNode: { id: 'dev-2', name: 'peer-2' } },
      'exit-node',
      'Connected via exit node peer-2',
    ],
    [{ state: 'error', message: 'wireguard-go exited' }, 'error', 'Error: wireguard-go exited'],
    [
      { state: 'helper-unavailable', reason: 'not-running', hint: 'Start trellisd.' },
      'error',
      'Helper not available',
    ],
  ];
  it.each(cases)('%o → %s', (connection, icon, tooltip) => {
    const m = trayModel(withConnection(connection));
    expect(m.icon).toBe(icon);
    expect(m.tooltip).toBe(`Trellis: ${tooltip}`.slice(0, TRAY_TOOLTIP_MAX));
    expect(m.menu[0]).toEqual({ kind: 'label', label: tooltip });
  });

  it('keeps long tooltips within what shells show', () => {
    const m = trayModel(withConnection({ state: 'error', message: 'x'.repeat(2000) }));
    expect(m.tooltip.length).toBe(TRAY_TOOLTIP_MAX);
  });
});

describe('tray menu', () => {
  it('has the full menu when connected', () => {
    const m = trayModel(sampleAppState());
    expect(labels(m.menu)).toEqual([
      'Connected',
      'This device: alices-macbook (100.64.0.1)',
      'Disconnect',
      '---',
      'Exit node',
      'Peers (2 online)',
      '---',
      'Open Trellis',
      'Settings',
      'Account (alice@example.com)',
      'Admin console',
      '---',
      'About Trellis',
      'Quit',
    ]);
    expect(find(m.menu, 'This device')).toMatchObject({
      kind: 'action',
      action: { type: 'copy', text: '100.64.0.1' },
    });
    expect(find(m.menu, 'Disconnect')).toMatchObject({ action: { type: 'disconnect' } });
  });

  it('offers None, Recommended, each exit node with its status, and allow LAN access', () => {
    const s = sampleAppState();
    s.exitNodes.push({
      id: 'dev-9',
      name: 'far-away',
      fqdn: 'far-away.acme.trellis',
      os: 'linux',
      online: false,
      latencyMs: null,
      recommended: false,
      active: false,
    });
    const items = submenu(trayModel(s).menu, 'Exit node');
    expect(labels(items)).toEqual([
      'None',
      'Recommended (peer-2 · 13 ms)',
      '---',
      'peer-2 · 13 ms',
      'far-away (offline)',
      '---',
      'Allow local network access',
    ]);
    expect(items[0]).toMatchObject({ kind: 'radio', checked: true, action: { selector: null } });
    expect(items[1]).toMatchObject({
      kind: 'radio',
      checked: false,
      action: { selector: { type: 'auto' } },
    });
    expect(find(items, 'far-away')).toMatchObject({ enabled: false });
    expect(find(items, 'peer-2 ·')).toMatchObject({
      action: { selector: { type: 'id', id: 'dev-2' } },
    });
    // Allow LAN only makes sense with an exit node chosen.
    expect(find(items, 'Allow local')).toMatchObject({
      kind: 'checkbox',
      enabled: false,
      checked: false,
    });
  });

  it('checks the chosen exit node and lets allow-LAN toggle', () => {
    const s = sampleAppState();
    s.prefs = { ...s.prefs!, exitNode: { type: 'id', id: 'dev-2' }, exitNodeAllowLAN: true };
    s.exitNodes[0] = { ...s.exitNodes[0]!, active: true };
    const m = trayModel(s);
    const items = submenu(m.menu, 'Exit node: peer-2');
    expect(find(items, 'peer-2 ·')).toMatchObject({ checked: true });
    expect(find(items, 'None')).toMatchObject({ checked: false });
    expect(find(items, 'Allow local')).toMatchObject({
      enabled: true,
      checked: true,
      action: { type: 'set-prefs', patch: { exitNodeAllowLAN: false } },
    });
  });

  it('lists peers online first with copy-IP items, and caps the list', () => {
    const s = { ...sampleAppState(), peers: fakePeers(500) };
    const items = submenu(trayModel(s).menu, 'Peers');
    expect(items).toHaveLength(TRAY_MAX_PEERS + 2);
    expect(labels(items).at(-1)).toBe('All 500 peers…');
    expect(items.at(-1)).toMatchObject({ action: { type: 'open-window', view: 'peers' } });
    const first = items[0];
    expect(first?.kind === 'action' && first.label.startsWith('●')).toBe(true);
    expect(first).toMatchObject({
      action: { type: 'copy', text: expect.stringMatching(/^100\./) },
    });
  });

  it('offers sign-in when signed out, and no mesh submenus', () => {
    const s = withConnection(
      { state: 'needs-login', loginUrl: null },
      { self: null, account: null, peers: [] },
    );
    const m = trayModel(s);
    expect(find(m.menu, 'Sign in…')).toMatchObject({ enabled: true, action: { type: 'sign-in' } });
    expect(find(m.menu, 'Exit node')).toBeUndefined();
    expect(find(m.menu, 'Peers')).toBeUndefined();
    const busy = trayModel({
      ...s,
      login: { state: 'waiting', url: 'https://c.example.com/login/x' },
    });
    expect(find(busy.menu, 'Sign in…')).toMatchObject({ enabled: false });
    expect(busy.menu[0]).toEqual({ kind: 'label', label: 'Signing in…' });
  });

  it('shows the hint and a retry when the helper is unavailable', () => {
    const hint = 'Start it with "sudo systemctl start trellisd".';
    const s = initialAppState(new Date());
    const m = trayModel({
      ...s,
      connection: { state: 'helper-unavailable', reason: 'not-running', hint },
    });
    expect(labels(m.menu).slice(0, 3)).toEqual(['Helper not available', hint, 'Retry']);
    expect(find(m.menu, 'Account')).toBeUndefined();
    expect(find(m.menu, 'Settings')).toBeUndefined();
    expect(find(m.menu, 'Quit')).toMatchObject({ action: { type: 'quit' } });
  });

  it('toggles settings from their current values', () => {
    const s = sampleAppState();
    const items = submenu(trayModel(s).menu, 'Settings');
    expect(find(items, 'Use subnet routes')).toMatchObject({
      checked: true,
      action: { type: 'set-prefs', patch: { acceptRoutes: false } },
    });
    expect(find(items, 'Block incoming')).toMatchObject({
      checked: false,
      action: { type: 'set-prefs', patch: { blockIncoming: true } },
    });
  });

  it('offers connect when disconnected and sign out in the account menu', () => {
    const m = trayModel(withConnection({ state: 'disconnected' }));
    expect(find(m.menu, 'Connect')).toMatchObject({ action: { type: 'connect' } });
    expect(find(submenu(m.menu, 'Account'), 'Sign out')).toMatchObject({
      action: { type: 'sign-out' },
    });
  });
});
