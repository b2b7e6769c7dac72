/**
 * The desktop app without Electron: a vanilla zustand store of AppState fed by the helper's watch
 * stream, the commands, the sign-in flow and the notification decisions, wired together. The
 * Electron main process and the web bridge each build one and attach their own windows, tray
 * and transport to it.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import { systemClock, type Clock } from '../../helper/control-client/clock.js';
import type { Account, AppState, LoginProgress } from '../../shared/schema/ipc.js';
import { deriveAppState, initialAppState, unavailableAppState } from './app-state.js';
import { Commands } from './commands.js';
import type { ControlAuthApi } from './control-auth.js';
import type { HelperApiFactory } from './helper-api.js';
import { HelperLink, type HelperSnapshot } from './helper-link.js';
import type { Keychain } from './keychain.js';
import { LoginFlow, type LoginMode, type LoginWindowOpener } from './login-flow.js';
import {
  decideNotifications,
  EMPTY_MEMO,
  type DesktopNotification,
  type NotificationMemo,
} from './notifications.js';

export interface AppCoreDeps {
  readonly helper: HelperApiFactory;
  readonly socketPath: string;
  readonly keychain: Keychain;
  readonly controlAuth: ControlAuthApi;
  readonly loginWindow: LoginWindowOpener;
  readonly loginMode?: LoginMode;
  readonly clock?: Clock;
  readonly now?: () => Date;
  readonly random?: () => number;
  readonly hostname?: string;
  readonly notify?: (n: DesktopNotification) => void;
  readonly log?: (msg: string) => void;
}

export class AppCore {
  readonly store: StoreApi<AppState>;
  readonly commands: Commands;
  readonly login: LoginFlow;
  private readonly link: HelperLink;
  private readonly now: () => Date;
  private snapshot: HelperSnapshot = { status: null, prefs: null, unavailable: null, error: null };
  private progress: LoginProgress = { state: 'idle' };
  private account: Account | null = null;
  private memo: NotificationMemo = EMPTY_MEMO;
  /** Set while the state is needs-login, so the keychain is tried once per sign-out period. */
  private resumeTried = false;

  constructor(private readonly deps: AppCoreDeps) {
    this.now = deps.now ?? (() => new Date());
    const clock = deps.clock ?? systemClock;
    this.store = createStore<AppState>()(() => initialAppState(this.now()));
    this.link = new HelperLink({
      factory: deps.helper,
      socketPath: deps.socketPath,
      clock,
      ...(deps.random ? { random: deps.random } : {}),
      onChange: (s) => {
        this.snapshot = s;
        this.recompute();
      },
      onNotification: (n) =>
        deps.notify?.({ kind: 'helper', title: n.title, body: n.body, action: null }),
    });
    this.login = new LoginFlow({
      controlAuth: deps.controlAuth,
      keychain: deps.keychain,
      helper: () => this.link.client(),
      window: deps.loginWindow,
      clock,
      ...(deps.random ? { random: deps.random } : {}),
      ...(deps.hostname ? { hostname: deps.hostname } : {}),
      ...(deps.loginMode ? { mode: deps.loginMode } : {}),
      ...(deps.log ? { log: deps.log } : {}),
      onProgress: (p) => {
        this.progress = p;
        this.recompute();
      },
      onAccount: (a) => this.setAccount(a),
      waitUntilLoggedIn: (signal) => this.waitUntilLoggedIn(signal),
    });
    this.commands = new Commands({
      link: this.link,
      login: this.login,
      keychain: deps.keychain,
      controlAuth: deps.controlAuth,
      state: () => this.store.getState(),
      setAccount: (a) => this.setAccount(a),
      ...(deps.log ? { log: deps.log } : {}),
    });
  }

  start(): void {
    this.link.start();
  }

  stop(): void {
    this.login.cancel();
    this.link.stop();
  }

  /** Skip the reconnect backoff (the "Retry" item of the tray). */
  retryHelper(): void {
    this.link.retryNow();
  }

  /** The helper's version, or null while it is unavailable. */
  async helperVersion(): Promise<string | null> {
    return this.snapshot.unavailable ? null : (this.snapshot.status?.daemonVersion ?? null);
  }

  private setAccount(a: Account | null): void {
    this.account = a;
    this.recompute();
  }

  private recompute(): void {
    const prev = this.store.getState();
    const s = this.snapshot;
    const now = this.now();
    let next: AppState;
    if (s.unavailable) next = unavailableAppState(s.unavailable, this.progress, now);
    else if (s.status && s.prefs) {
      next = deriveAppState({
        status: s.status,
        prefs: s.prefs,
        login: this.progress,
        account: this.account,
        now,
      });
    } else if (s.error) {
      next = {
        ...initialAppState(now),
        connection: { state: 'error', message: s.error },
        login: this.progress,
      };
    } else next = { ...prev, login: this.progress, updatedAt: now.toISOString() };
    this.store.setState(next, true);
    const decided = decideNotifications(prev, next, now, this.memo);
    this.memo = decided.memo;
    for (const n of decided.notifications) this.deps.notify?.(n);
    this.maybeResume(next);
  }

  /** Entering needs-login with a session in the keychain: register again without a window. */
  private maybeResume(s: AppState): void {
    if (s.connection.state !== 'needs-login') {
      this.resumeTried = false;
      return;
    }
    if (this.resumeTried || s.connection.loginUrl || this.login.inProgress || !s.prefs) return;
    this.resumeTried = true;
    const url = s.prefs.controlUrl;
    void this.login.resumeFromKeychain(url).then((resumed) => {
      if (resumed) this.deps.log?.(`signed in again with the stored session for ${url}`);
    });
  }

  private waitUntilLoggedIn(signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        unsub();
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onAbort = () => done(false);
      const unsub = this.store.subscribe((s) => {
        const c = s.connection.state;
        if (c !== 'needs-login' && c !== 'helper-unavailable' && c !== 'error') done(true);
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
