import { describe, expect, it } from 'vitest';
import { AppState } from '../../shared/schema/ipc.js';
import type { BackendState, Status } from '../../shared/schema/localapi.js';
import { parseWith } from '../../shared/schema/parse.js';
import { samplePeerStatus, samplePrefs, sampleStatus } from '../../shared/schema/samples.js';
import {
  connectionFromStatus,
  deriveAppState,
  exitNodeOptions,
  initialAppState,
  routeOffers,
} from './app-state.js';
import { fakePeers } from './testing/fake-peers.js';

const NOW = new Date('2025-01-15T12:00:00.000Z');

const withBackend = (backend: BackendState, over: Partial<Status> = {}): Status => ({
  ...sampleStatus(2),
  backend,
  ...over,
});

describe('connectionFromStatus', () => {
  it('maps every backend state to the connection the tray draws', () => {
    expect(connectionFromStatus(withBackend({ state: 'needs-login', loginUrl: null }))).toEqual({
      state: 'needs-login',
      loginUrl: null,
    });
    expect(connectionFromStatus(withBackend({ state: 'needs-approval' })).state).toBe(
      'needs-approval',
    );
    expect(connectionFromStatus(withBackend({ state: 'stopped' })).state).toBe('disconnected');
    expect(connectionFromStatus(withBackend({ state: 'starting' })).state).toBe('connecting');
    expect(connectionFromStatus(withBackend({ state: 'error', message: 'wg failed' }))).toEqual({
      state: 'error',
      message: 'wg failed',
    });
    expect(connectionFromStatus(withBackend({ state: 'running' }))).toEqual({
      state: 'connected',
      exitNode: null,
    });
  });

  it('names the exit node in use when connected through one', () => {
    const s = withBackend(
      { state: 'running' },
      { exitNode: { id: 'dev-2', name: 'peer-2', online: true, allowLAN: false } },
    );
    expect(connectionFromStatus(s)).toEqual({
      state: 'connected',
      exitNode: { id: 'dev-2', name: 'peer-2' },
    });
  });
});

describe('exitNodeOptions', () => {
  it('recommends the online exit node with the lowest latency', () => {
    const mk = (n: number, latencyMs: number | null, online = true) => ({
      ...samplePeerStatus(n),
      exitNodeOption: true,
      latencyMs,
      online,
    });
    const status = {
      ...sampleStatus(0),
      peers: [mk(1, 40), mk(2, 12), mk(3, 5, false), mk(4, null), samplePeerStatus(5)],
    };
    const opts = exitNodeOptions(status);
    expect(opts.map((o) => o.name)).toEqual(['peer-1', 'peer-2', 'peer-3', 'peer-4']);
    expect(opts.filter((o) => o.recommended).map((o) => o.name)).toEqual(['peer-2']);
  });

  it('still recommends an online exit node before any latency is measured', () => {
    const status = {
      ...sampleStatus(0),
      peers: [2, 1].map((n) => ({ ...samplePeerStatus(n), exitNodeOption: true, latencyMs: null })),
    };
    expect(exitNodeOptions(status).find((o) => o.recommended)?.name).toBe('peer-1');
  });

  it('marks the exit node in use as active', () => {
    const status = {
      ...sampleStatus(2),
      exitNode: { id: 'dev-2', name: 'peer-2', online: true, allowLAN: false },
    };
    expect(exitNodeOptions(status)).toMatchObject([{ id: 'dev-2', active: true }]);
  });
});

describe('routeOffers', () => {
  it('lists each prefix per router: the first online router primary, online stand-bys next', () => {
    const a = { ...samplePeerStatus(1), name: 'router-a', routes: ['10.0.0.0/24'], online: false };
    const b = { ...samplePeerStatus(2), name: 'router-b', routes: ['10.0.0.0/24', '10.1.0.0/16'] };
    const c = { ...samplePeerStatus(3), name: 'router-c', routes: ['10.0.0.0/24'] };
    expect(routeOffers([a, b, c])).toEqual([
      { cidr: '10.0.0.0/24', viaId: b.id, viaName: 'router-b', primary: true },
      { cidr: '10.0.0.0/24', viaId: c.id, viaName: 'router-c', primary: false },
      { cidr: '10.0.0.0/24', viaId: a.id, viaName: 'router-a', primary: false },
      { cidr: '10.1.0.0/16', viaId: b.id, viaName: 'router-b', primary: true },
    ]);
  });
});

describe('deriveAppState', () => {
  it('produces states that satisfy the IPC schema, also with thousands of peers', () => {
    const status = { ...sampleStatus(0), peers: fakePeers(5000) };
    const prefs = { ...samplePrefs(), advertiseRoutes: ['192.168.7.0/24'] };
    const s = deriveAppState({ status, prefs, login: { state: 'idle' }, account: null, now: NOW });
    const parsed = parseWith(AppState, s);
    expect(parsed.ok ? 'valid' : parsed.error.message).toBe('valid');
    expect(s.peers).toHaveLength(5000);
    expect(s.routes.advertised).toEqual(['192.168.7.0/24']);
    expect(s.exitNodes.filter((o) => o.recommended)).toHaveLength(1);
    expect(s.account?.user.email).toBe('alice@example.com');
  });

  it('falls back to the app-known account when the helper does not know the user', () => {
    const status = { ...sampleStatus(1), user: null };
    const account = {
      user: { id: 'u9', email: 'bob@example.com', name: 'Bob' },
      network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
      controlUrl: 'https://control.example.com',
    };
    const s = deriveAppState({
      status,
      prefs: samplePrefs(),
      login: { state: 'idle' },
      account,
      now: NOW,
    });
    expect(s.account).toEqual(account);
    const other = { ...account, controlUrl: 'https://elsewhere.example.com' };
    const s2 = deriveAppState({
      status,
      prefs: samplePrefs(),
      login: { state: 'idle' },
      account: other,
      now: NOW,
    });
    expect(s2.account).toBeNull();
  });

  it('starts in a valid connecting state', () => {
    const s = initialAppState(NOW);
    expect(parseWith(AppState, s).ok).toBe(true);
    expect(s.connection.state).toBe('connecting');
  });
});
