import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../helper/testing/manual-clock.js';
import { waitFor } from '../../helper/testing/wait.js';
import { err, ok } from '../../shared/result.js';
import type { LoginProgress } from '../../shared/schema/ipc.js';
import { AppCore } from './app-core.js';
import { memoryKeychain, type Keychain } from './keychain.js';
import { LOGIN_POLL_BACKOFF, type LoginMode, type LoginWindowOpener } from './login-flow.js';
import { Secret } from './secret.js';
import {
  completePoll,
  FAKE_LOGIN_URL,
  FAKE_SESSION_TOKEN,
  FakeControlAuth,
} from './testing/fake-control-auth.js';
import { FakeHelper } from './testing/fake-helper.js';

const CONTROL = 'https://control.example.com';
const cores: AppCore[] = [];
afterEach(() => {
  for (const c of cores.splice(0)) c.stop();
});

/** A login window double: records what it showed, and can be "closed by the user". */
class FakeWindows implements LoginWindowOpener {
  readonly opened: string[] = [];
  closed = 0;
  private onClosed: (() => void) | null = null;
  open(url: string, onClosed: () => void) {
    this.opened.push(url);
    this.onClosed = onClosed;
    return { close: () => void this.closed++ };
  }
  userCloses(): void {
    this.onClosed?.();
  }
}

function setup(opts: { mode?: LoginMode; keychain?: Keychain; loggedIn?: boolean } = {}) {
  const helper = new FakeHelper({
    loggedIn: opts.loggedIn ?? false,
    acceptTokens: [FAKE_SESSION_TOKEN],
  });
  const control = new FakeControlAuth();
  const windows = new FakeWindows();
  const keychain = opts.keychain ?? memoryKeychain();
  const clock = new ManualClock();
  const progress: LoginProgress[] = [];
  const core = new AppCore({
    helper: () => helper.api(),
    socketPath: '/tmp/x.sock',
    keychain,
    controlAuth: control,
    loginWindow: windows,
    clock,
    random: () => 0.5,
    ...(opts.mode ? { loginMode: opts.mode } : {}),
  });
  core.store.subscribe((s) => {
    const p = s.login ?? { state: 'idle' };
    if (JSON.stringify(progress.at(-1)) !== JSON.stringify(p)) progress.push(p);
  });
  cores.push(core);
  return { core, helper, control, windows, keychain, clock, progress };
}

describe('sign-in through an app login session', () => {
  it('opens the SSO window, keeps the session in the keychain and closes once the helper registered', async () => {
    const { core, helper, control, windows, keychain, progress } = setup();
    core.start();
    await waitFor(() => core.store.getState().connection.state === 'needs-login', 'needs login');
    control.polls.push(ok({ status: 'pending' }), ok(completePoll()));
    const r = await core.commands.signIn(CONTROL);
    expect(r.ok && r.value).toEqual({
      outcome: 'complete',
      user: { id: 'u1', email: 'alice@example.com', name: 'Alice' },
      network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
    });
    expect(windows.opened).toEqual([FAKE_LOGIN_URL]);
    expect(windows.closed).toBe(1);
    expect(helper.calls).toContain('login session');
    expect(progress.map((p) => p.state)).toEqual([
      'idle',
      'starting',
      'waiting',
      'registering',
      'idle',
    ]);
    const stored = await keychain.list(CONTROL);
    expect(stored.ok && stored.value.map((s) => s.token.reveal())).toEqual([FAKE_SESSION_TOKEN]);
    await waitFor(() => core.store.getState().connection.state === 'connected', 'connected');
    expect(core.store.getState().account?.user.email).toBe('alice@example.com');
  });

  it('reports a denial with control reason and closes the window', async () => {
    const { core, control, windows } = setup();
    control.polls.push(ok({ status: 'denied', reason: 'example.org is not an allowed domain' }));
    const r = await core.commands.signIn(CONTROL);
    expect(r.ok && r.value).toEqual({
      outcome: 'failed',
      message: 'Sign-in was denied: example.org is not an allowed domain',
    });
    expect(windows.closed).toBe(1);
    expect(core.store.getState().login).toEqual({
      state: 'failed',
      message: expect.stringContaining('denied'),
    });
  });

  it('is cancelled when the user closes the window', async () => {
    const { core, windows, helper } = setup();
    const pending = core.commands.signIn(CONTROL);
    await waitFor(() => windows.opened.length === 1, 'window open');
    windows.userCloses();
    const r = await pending;
    expect(r.ok && r.value).toEqual({ outcome: 'cancelled' });
    expect(helper.calls).not.toContain('login session');
    expect(core.store.getState().login).toEqual({ state: 'idle' });
  });

  it('retries the poll with backoff when control is briefly unreachable', async () => {
    const { core, control, clock } = setup();
    control.polls.push(err({ code: 'network', message: 'ECONNREFUSED' }), ok(completePoll()));
    const pending = core.commands.signIn(CONTROL);
    await waitFor(() => clock.pending().length === 1, 'retry scheduled');
    const d = clock.pending()[0] ?? 0;
    expect(d).toBeGreaterThanOrEqual(LOGIN_POLL_BACKOFF.initialMs / 2);
    expect(d).toBeLessThanOrEqual(LOGIN_POLL_BACKOFF.initialMs);
    clock.advance(d);
    const r = await pending;
    expect(r.ok && r.value.outcome).toBe('complete');
  });

  it('fails with the reason when control cannot start a login', async () => {
    const { core, control, windows } = setup();
    control.startError = { code: 'network', message: 'cannot reach control' };
    const r = await core.commands.signIn(CONTROL);
    expect(r.ok && r.value.outcome === 'failed' && r.value.message).toMatch(/cannot reach control/);
    expect(windows.opened).toEqual([]);
  });

  it('signs in again from the keychain without a window when the helper needs a login', async () => {
    const keychain = memoryKeychain();
    await keychain.save({
      controlUrl: CONTROL,
      token: new Secret(FAKE_SESSION_TOKEN),
      expiresAt: '2099-01-01T00:00:00.000Z',
      user: { id: 'u1', email: 'alice@example.com', name: 'Alice' },
      network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
      savedAt: '2025-01-01T00:00:00.000Z',
    });
    const { core, helper, windows } = setup({ keychain });
    core.start();
    await waitFor(() => core.store.getState().connection.state === 'connected', 'resumed');
    expect(helper.calls).toEqual(['login session']);
    expect(windows.opened).toEqual([]);
  });

  it('does not loop on a stored session control refuses', async () => {
    const keychain = memoryKeychain();
    await keychain.save({
      controlUrl: CONTROL,
      token: new Secret('tr_sess_revoked_0123456789'),
      expiresAt: null,
      user: { id: 'u1', email: null, name: 'Alice' },
      network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
      savedAt: '2025-01-01T00:00:00.000Z',
    });
    const { core, helper } = setup({ keychain });
    core.start();
    await waitFor(() => helper.calls.length === 1, 'one attempt');
    helper.rebuild();
    helper.rebuild();
    await new Promise((r) => setTimeout(r, 20));
    expect(helper.calls).toEqual(['login session']);
    expect(core.store.getState().connection.state).toBe('needs-login');
  });

  it('signs out: forgets the session, logs the device out, ends the session at control', async () => {
    const { core, helper, control, keychain } = setup();
    core.start();
    control.polls.push(ok(completePoll()));
    await core.commands.signIn(CONTROL);
    await waitFor(() => core.store.getState().connection.state === 'connected', 'connected');
    expect((await core.commands.signOut()).ok).toBe(true);
    const left = await keychain.list(CONTROL);
    expect(left.ok && left.value).toEqual([]);
    expect(helper.calls.at(-1)).toBe('logout');
    expect(control.calls).toContain(`end ${FAKE_SESSION_TOKEN}`);
    await waitFor(() => core.store.getState().connection.state === 'needs-login', 'signed out');
    expect(core.store.getState().account).toBeNull();
  });
});

describe('sign-in through the helper interactive login', () => {
  it('shows the helper login URL and closes when the helper reports completion', async () => {
    const { core, helper, windows, keychain } = setup({ mode: 'helper-interactive' });
    core.start();
    await waitFor(() => core.store.getState().connection.state === 'needs-login', 'needs login');
    const pending = core.commands.signIn(CONTROL);
    await waitFor(() => windows.opened.length === 1, 'window open');
    expect(windows.opened[0]).toMatch(/\/login\/tr_login_/);
    expect(windows.closed).toBe(0);
    helper.completeInteractiveLogin();
    const r = await pending;
    expect(r.ok && r.value.outcome).toBe('complete');
    expect(windows.closed).toBe(1);
    const stored = await keychain.list(CONTROL);
    expect(stored.ok && stored.value).toEqual([]);
  });
});
