/**
 * Signing in from the app. The default ("app-session") follows the design: the app starts a
 * login session at control, shows its URL in the SSO window, long-polls until the user finished,
 * keeps the resulting user session in the keychain and hands it to the helper, which registers
 * the device; the window closes once the helper reports the registration. "helper-interactive"
 * lets the helper run the login session instead (as `trellis login` does) and only shows its URL;
 * no session reaches the app then, so nothing goes to the keychain.
 */
import type { Clock } from '../../helper/control-client/clock.js';
import { backoffDelayMs, type BackoffPolicy } from '../../helper/relay/backoff.js';
import type { Account, LoginOutcome, LoginProgress } from '../../shared/schema/ipc.js';
import type { ControlAuthApi } from './control-auth.js';
import type { HelperApi } from './helper-api.js';
import { currentSession, type Keychain } from './keychain.js';
import { Secret } from './secret.js';

/** Poll retries after a network error: control restarts and Wi-Fi roams heal within seconds. */
export const LOGIN_POLL_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 15_000 };
/** How the app names itself on control's sign-in page. */
export const LOGIN_CLIENT_NAME = 'Trellis desktop';

export type LoginMode = 'app-session' | 'helper-interactive';

/** The SSO window (Electron) or its stand-in (the web bridge shows a link). */
export interface LoginWindow {
  close(): void;
}
export interface LoginWindowOpener {
  /** Shows `url`; calls `onClosed` if the user closes it before sign-in finished. */
  open(url: string, onClosed: () => void): LoginWindow;
}

export interface LoginFlowDeps {
  readonly controlAuth: ControlAuthApi;
  readonly keychain: Keychain;
  readonly helper: () => HelperApi;
  readonly window: LoginWindowOpener;
  readonly clock: Clock;
  readonly random?: () => number;
  readonly hostname?: string;
  readonly mode?: LoginMode;
  readonly onProgress: (p: LoginProgress) => void;
  /** The signed-in account, for when the helper does not report the user. */
  readonly onAccount: (a: Account | null) => void;
  /**
   * Resolves once the helper no longer needs a login (helper-interactive mode), or false when
   * `signal` aborts first.
   */
  readonly waitUntilLoggedIn: (signal: AbortSignal) => Promise<boolean>;
  readonly log?: (msg: string) => void;
}

type Step<T> = { ok: true; value: T } | { ok: false; outcome: LoginOutcome };

export class LoginFlow {
  private active: AbortController | null = null;
  /** Session tokens the helper refused, so a dead session is not retried in a loop. */
  private readonly refused = new Set<string>();

  constructor(private readonly deps: LoginFlowDeps) {}

  get inProgress(): boolean {
    return this.active !== null;
  }

  /** Cancels a sign-in in progress (the user pressed Cancel or closed the window). */
  cancel(): void {
    this.active?.abort();
  }

  async signIn(controlUrl: string): Promise<LoginOutcome> {
    this.active?.abort();
    const abort = new AbortController();
    this.active = abort;
    let win: LoginWindow | null = null;
    const openWindow = (url: string) => {
      this.deps.onProgress({ state: 'waiting', url });
      win = this.deps.window.open(url, () => abort.abort());
    };
    try {
      this.deps.onProgress({ state: 'starting', controlUrl });
      const outcome =
        (this.deps.mode ?? 'app-session') === 'app-session'
          ? await this.viaAppSession(controlUrl, abort.signal, openWindow)
          : await this.viaHelper(controlUrl, abort.signal, openWindow);
      this.deps.onProgress(
        outcome.outcome === 'failed'
          ? { state: 'failed', message: outcome.message }
          : { state: 'idle' },
      );
      return outcome;
    } finally {
      (win as LoginWindow | null)?.close();
      if (this.active === abort) this.active = null;
    }
  }

  /**
   * Registers the device with the newest keychain session for `controlUrl`, without a window.
   * True when the helper accepted it.
   */
  async resumeFromKeychain(controlUrl: string): Promise<boolean> {
    if (this.active) return false;
    const s = await currentSession(this.deps.keychain, controlUrl);
    if (!s.ok || !s.value) return false;
    const session = s.value;
    const token = session.token.reveal();
    if (this.refused.has(token)) return false;
    if (session.expiresAt && Date.parse(session.expiresAt) <= Date.now()) return false;
    const r = await this.deps
      .helper()
      .login({ method: 'session', sessionToken: token, controlUrl });
    if (!r.ok || r.value.backend.state === 'needs-login') {
      this.refused.add(token);
      this.deps.log?.(
        `stored session not accepted: ${r.ok ? 'still needs login' : r.error.message}`,
      );
      return false;
    }
    this.deps.onAccount({
      user: session.user,
      network: session.network,
      controlUrl: session.controlUrl,
    });
    return true;
  }

  private async viaAppSession(
    controlUrl: string,
    signal: AbortSignal,
    openWindow: (url: string) => void,
  ): Promise<LoginOutcome> {
    const started = await this.deps.controlAuth.loginStart(
      controlUrl,
      LOGIN_CLIENT_NAME,
      this.deps.hostname,
    );
    if (!started.ok) return failed(`Could not start signing in: ${started.error.message}`);
    if (signal.aborted) return { outcome: 'cancelled' };
    openWindow(started.value.url);
    const done = await this.poll(controlUrl, started.value.pollToken, signal);
    if (!done.ok) return done.outcome;
    const s = done.value;
    const token = new Secret(s.sessionToken);
    const saved = await this.deps.keychain.save({
      controlUrl,
      token,
      expiresAt: s.expiresAt,
      user: s.user,
      network: s.network,
      savedAt: new Date().toISOString(),
    });
    // Not fatal: the device still registers; the user signs in again next time it is needed.
    if (!saved.ok)
      this.deps.log?.(`could not keep the session in the keychain: ${saved.error.message}`);
    this.deps.onProgress({ state: 'registering' });
    const r = await this.deps.helper().login({
      method: 'session',
      sessionToken: token.reveal(),
      controlUrl,
    });
    if (!r.ok)
      return failed(`Signed in, but the helper could not register this device: ${r.error.message}`);
    if (r.value.backend.state === 'needs-login') {
      return failed('Signed in, but control did not accept the session for this device.');
    }
    this.deps.onAccount({ user: s.user, network: s.network, controlUrl });
    return { outcome: 'complete', user: s.user, network: s.network };
  }

  private async poll(
    controlUrl: string,
    pollToken: string,
    signal: AbortSignal,
  ): Promise<
    Step<{
      sessionToken: string;
      expiresAt: string;
      user: Account['user'];
      network: Account['network'];
    }>
  > {
    let failures = 0;
    for (;;) {
      if (signal.aborted) return { ok: false, outcome: { outcome: 'cancelled' } };
      const r = await this.deps.controlAuth.loginPoll(controlUrl, pollToken, signal);
      if (signal.aborted) return { ok: false, outcome: { outcome: 'cancelled' } };
      if (!r.ok) {
        if (!isTransient(r.error.code)) {
          return { ok: false, outcome: failed(`Signing in failed: ${r.error.message}`) };
        }
        const delay = backoffDelayMs(
          failures++,
          this.deps.random ?? Math.random,
          LOGIN_POLL_BACKOFF,
        );
        if (!(await sleep(this.deps.clock, delay, signal))) {
          return { ok: false, outcome: { outcome: 'cancelled' } };
        }
        continue;
      }
      failures = 0;
      const v = r.value;
      switch (v.status) {
        case 'pending':
          continue;
        case 'complete':
          return { ok: true, value: v };
        case 'denied':
          return { ok: false, outcome: failed(`Sign-in was denied: ${v.reason}`) };
        case 'expired':
          return { ok: false, outcome: failed('The sign-in link expired. Start again.') };
      }
    }
  }

  private async viaHelper(
    controlUrl: string,
    signal: AbortSignal,
    openWindow: (url: string) => void,
  ): Promise<LoginOutcome> {
    const r = await this.deps.helper().login({ method: 'interactive', controlUrl });
    if (!r.ok) return failed(`Could not start signing in: ${r.error.message}`);
    const b = r.value.backend;
    if (b.state !== 'needs-login') return this.completeFromHelper();
    if (!b.loginUrl) return failed('The helper did not offer a sign-in page.');
    openWindow(b.loginUrl);
    const done = await this.deps.waitUntilLoggedIn(signal);
    if (!done) return { outcome: 'cancelled' };
    return this.completeFromHelper();
  }

  private async completeFromHelper(): Promise<LoginOutcome> {
    const s = await this.deps.helper().status();
    if (s.ok && s.value.user && s.value.network) {
      return { outcome: 'complete', user: s.value.user, network: s.value.network };
    }
    return failed('The helper finished signing in but did not say who signed in.');
  }
}

const failed = (message: string): LoginOutcome => ({
  outcome: 'failed',
  message: message.slice(0, 2048),
});

/** Errors worth retrying without the user: the network, timeouts, control briefly down. */
const isTransient = (code: string): boolean =>
  code === 'network' ||
  code === 'timeout' ||
  code === 'unavailable' ||
  code === 'rate_limited' ||
  code === 'internal';

function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clock.clearTimeout(t);
      resolve(false);
    };
    const t = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
