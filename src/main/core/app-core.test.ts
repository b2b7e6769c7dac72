import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../helper/testing/manual-clock.js';
import { waitFor } from '../../helper/testing/wait.js';
import { AppState } from '../../shared/schema/ipc.js';
import { parseWith } from '../../shared/schema/parse.js';
import { AppCore } from './app-core.js';
import { HELPER_RECONNECT_BACKOFF } from './helper-link.js';
import { memoryKeychain } from './keychain.js';
import type { LoginWindowOpener } from './login-flow.js';
import type { DesktopNotification } from './notifications.js';
import { FakeControlAuth } from './testing/fake-control-auth.js';
import { FakeHelper } from './testing/fake-helper.js';

const SOCKET = '/run/trellis/test.sock';
const cores: AppCore[] = [];
afterEach(() => {
  for (const c of cores.splice(0)) c.stop();
});

const noWindow: LoginWindowOpener = { open: () => ({ close: () => undefined }) };

function setup(helper = new FakeHelper({ peers: 20 })) {
  const clock = new ManualClock();
  const notes: DesktopNotification[] = [];
  let random = 0.5;
  const core = new AppCore({
    helper: () => helper.api(),
    socketPath: SOCKET,
    keychain: memoryKeychain(),
    controlAuth: new FakeControlAuth(),
    loginWindow: noWindow,
    clock,
    random: () => random,
    notify: (n) => notes.push(n),
  });
  cores.push(core);
  return { core, helper, clock, notes, setRandom: (r: number) => (random = r) };
}

const conn = (core: AppCore) => core.store.getState().connection;

describe('AppCore state from the watch stream', () => {
  it('shows the helper state, peers and prefs once the stream delivers', async () => {
    const { core } = setup();
    expect(conn(core).state).toBe('connecting');
    core.start();
    await waitFor(() => conn(core).state === 'connected', 'connected');
    const s = core.store.getState();
    expect(s.peers).toHaveLength(20);
    expect(s.self?.name).toBe('alices-macbook');
    expect(s.prefs?.controlUrl).toBe('https://control.example.com');
    expect(parseWith(AppState, s).ok).toBe(true);
  });

  it('says the helper is not running, with a hint naming the socket, and recovers by itself', async () => {
    const helper = new FakeHelper();
    helper.unreachable = { code: 'daemon_not_running', message: 'nobody listening' };
    const { core, clock } = setup(helper);
    core.start();
    await waitFor(() => conn(core).state === 'helper-unavailable', 'unavailable');
    const c = conn(core);
    if (c.state !== 'helper-unavailable') throw new Error('unreachable');
    expect(c.reason).toBe('not-running');
    expect(c.hint).toContain(SOCKET);
    expect(c.hint).toMatch(/systemctl start trellisd/);
    expect(core.store.getState().peers).toEqual([]);

    helper.unreachable = null;
    clock.advance(HELPER_RECONNECT_BACKOFF.initialMs);
    await waitFor(() => conn(core).state === 'connected', 'reconnected');
  });

  it('tells the user how to get access when the socket refuses them', async () => {
    const helper = new FakeHelper();
    helper.unreachable = { code: 'permission_denied', message: 'EACCES' };
    const { core } = setup(helper);
    core.start();
    await waitFor(() => conn(core).state === 'helper-unavailable', 'unavailable');
    const c = conn(core);
    expect(c.state === 'helper-unavailable' && c.reason).toBe('permission-denied');
    expect(c.state === 'helper-unavailable' && c.hint).toMatch(/trellis" group/);
  });

  it('backs off exponentially with jitter while the helper stays away', async () => {
    const helper = new FakeHelper();
    helper.unreachable = { code: 'daemon_not_running', message: 'down' };
    const { core, clock, setRandom } = setup(helper);
    setRandom(1);
    core.start();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      await waitFor(() => clock.pending().length === 1, `retry ${i} scheduled`);
      const d = clock.pending()[0] ?? -1;
      delays.push(d);
      clock.advance(d);
    }
    // Doubling from 0.5 s, capped at 10 s (random = 1 → the cap of each step).
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
    setRandom(0);
    await waitFor(() => clock.pending().length === 1, 'next retry');
    expect(clock.pending()[0]).toBe(5000); // jitter: half the cap at random = 0
  });

  it('reconnects when the stream drops (a helper restart) and resets the backoff', async () => {
    const { core, helper, clock } = setup();
    core.start();
    await waitFor(() => helper.watcherCount === 1, 'watching');
    helper.dropWatchers();
    expect(clock.pending()).toHaveLength(1);
    clock.advance(clock.pending()[0] ?? 0);
    await waitFor(() => helper.watcherCount === 1, 'watching again');
    // The previous stream delivered, so the failure count restarted from zero.
    helper.dropWatchers();
    expect(clock.pending()[0]).toBeLessThanOrEqual(HELPER_RECONNECT_BACKOFF.initialMs);
  });

  it('stops retrying after stop()', async () => {
    const helper = new FakeHelper();
    helper.unreachable = { code: 'daemon_not_running', message: 'down' };
    const { core, clock } = setup(helper);
    core.start();
    await waitFor(() => clock.pending().length === 1, 'retry scheduled');
    core.stop();
    expect(clock.pending()).toEqual([]);
  });
});

describe('AppCore commands', () => {
  it('connects and disconnects through the helper', async () => {
    const { core, helper } = setup();
    core.start();
    await waitFor(() => conn(core).state === 'connected', 'connected');
    expect((await core.commands.disconnect()).ok).toBe(true);
    await waitFor(() => conn(core).state === 'disconnected', 'disconnected');
    expect((await core.commands.connect()).ok).toBe(true);
    await waitFor(() => conn(core).state === 'connected', 'connected again');
    expect(helper.calls).toEqual(['down', 'up']);
  });

  it('sets the recommended exit node and allow-LAN, and the state follows', async () => {
    const { core, helper } = setup(new FakeHelper({ peers: 600 }));
    core.start();
    await waitFor(() => conn(core).state === 'connected', 'connected');
    expect((await core.commands.setExitNode({ type: 'auto' })).ok).toBe(true);
    expect((await core.commands.setAllowLan(true)).ok).toBe(true);
    // Adopted from the answer, before the stream echoes it.
    expect(core.store.getState().prefs?.exitNode).toEqual({ type: 'auto' });
    await waitFor(() => {
      const c = conn(core);
      return c.state === 'connected' && c.exitNode !== null;
    }, 'exit node in use');
    const s = core.store.getState();
    const recommended = s.exitNodes.find((o) => o.recommended);
    const c = s.connection;
    expect(c.state === 'connected' && c.exitNode?.id).toBe(recommended?.id);
    expect(s.prefs?.exitNodeAllowLAN).toBe(true);
    expect(helper.calls).toEqual([
      'patchPrefs {"exitNode":{"type":"auto"}}',
      'patchPrefs {"exitNodeAllowLAN":true}',
    ]);
  });

  it('changes routes prefs and passes ping and netcheck through', async () => {
    const { core, helper } = setup();
    core.start();
    await waitFor(() => conn(core).state === 'connected', 'connected');
    await core.commands.setAcceptRoutes(false);
    await core.commands.setAdvertisedRoutes(['192.168.1.0/24']);
    await core.commands.setAdvertiseExitNode(true);
    const s = core.store.getState();
    expect(s.routes.acceptRoutes).toBe(false);
    expect(s.routes.advertised).toEqual(['192.168.1.0/24']);
    expect(s.routes.advertiseExitNode).toBe(true);
    const ping = await core.commands.ping({
      peer: helper.peers[0]?.name ?? '',
      count: 2,
      timeoutMs: 1000,
    });
    expect(ping.ok && ping.value.results).toHaveLength(2);
    const nc = await core.commands.netcheck();
    expect(nc.ok && nc.value.udp).toBe(true);
  });

  it('turns helper failures into typed IPC errors', async () => {
    const { core, helper } = setup();
    core.start();
    await waitFor(() => conn(core).state === 'connected', 'connected');
    const missing = await core.commands.ping({ peer: 'nope', count: 1, timeoutMs: 1000 });
    expect(!missing.ok && missing.error.code).toBe('helper_error');
    helper.unreachable = { code: 'daemon_not_running', message: 'gone' };
    const r = await core.commands.connect();
    expect(!r.ok && r.error.code).toBe('helper_unavailable');
  });
});

describe('AppCore notifications', () => {
  it('notifies when the exit node in use goes offline, once', async () => {
    const { core, helper, notes } = setup(new FakeHelper({ peers: 600 }));
    core.start();
    await waitFor(() => conn(core).state === 'connected', 'connected');
    const exit = helper.peers.find((p) => p.exitNodeOption && p.online);
    if (!exit) throw new Error('no exit node among fake peers');
    await core.commands.setExitNode({ type: 'id', id: exit.id });
    await waitFor(() => core.store.getState().exitNodes.some((o) => o.active), 'active');
    helper.patchPeer(exit.id, { online: false });
    await waitFor(() => notes.length > 0, 'notification');
    expect(notes.map((n) => n.kind)).toEqual(['exit-node-offline']);
    helper.patchPeer(exit.id, { latencyMs: 99 });
    expect(notes).toHaveLength(1);
  });

  it('passes the helper own notifications on', async () => {
    const { core, helper, notes } = setup();
    core.start();
    await waitFor(() => helper.watcherCount === 1, 'watching');
    helper.notify('Login denied', 'domain not allowed');
    expect(notes).toEqual([
      { kind: 'helper', title: 'Login denied', body: 'domain not allowed', action: null },
    ]);
  });
});
