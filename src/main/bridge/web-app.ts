/**
 * The whole desktop app for a browser: the core attached to the helper's socket, the IPC
 * handlers, and the web bridge serving the renderer. What `npm start` runs when there is no
 * Electron binary, and what the UI tests drive.
 *
 * Without Electron there are no native windows: the SSO "window" is the sign-in link the page
 * shows while a login waits (the browser opens it in a new tab), the tray's navigation becomes
 * app:navigate notifications, and copying happens in the page (navigator.clipboard).
 */
import os from 'node:os';
import type { View } from '../../shared/schema/ipc.js';
import { TRELLIS_VERSION } from '../../shared/version.js';
import { LocalApiClient } from '../../helper/localapi/client.js';
import { AppCore } from '../core/app-core.js';
import { httpControlAuth, type ControlAuthApi } from '../core/control-auth.js';
import type { HelperApiFactory } from '../core/helper-api.js';
import { createIpcHandlers } from '../core/ipc-handlers.js';
import { memoryKeychain, type Keychain } from '../core/keychain.js';
import { toAppNotice } from '../core/notifications.js';
import { chooseKeychain } from '../core/keychain-file.js';
import { openOsKeychain } from '../core/keychain-os.js';
import type { LoginMode, LoginWindowOpener } from '../core/login-flow.js';
import type { ShellDelegate } from '../core/shell.js';
import { startBridge, type Bridge } from './server.js';

export interface WebAppOptions {
  readonly socketPath: string;
  readonly rendererDir: string;
  readonly port?: number;
  readonly token?: string;
  readonly loginMode?: LoginMode;
  /** Defaults to the OS keychain when it works, else memory (sessions end with the process). */
  readonly keychain?: Keychain;
  readonly controlAuth?: ControlAuthApi;
  /** Defaults to the LocalAPI client on `socketPath`; tests may pass an in-process helper. */
  readonly helper?: HelperApiFactory;
  readonly log?: (msg: string) => void;
  /** Called when the page asks the app to quit. */
  readonly onQuit?: () => void;
}

export interface WebApp {
  readonly url: string;
  readonly core: AppCore;
  readonly bridge: Bridge;
  stop(): Promise<void>;
}

/** The web bridge shows the sign-in URL in the page; there is no window to open or close. */
const linkInPage: LoginWindowOpener = { open: () => ({ close: () => undefined }) };

export async function startWebApp(opts: WebAppOptions): Promise<WebApp> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`trellis-web: ${m}\n`));
  const keychain =
    opts.keychain ??
    (await chooseKeychain([() => openOsKeychain()], memoryKeychain, (e) =>
      log(`OS keychain not available (${e.message}); sessions are kept in memory only`),
    ));
  const core = new AppCore({
    helper:
      opts.helper ??
      (() => new LocalApiClient({ socketPath: opts.socketPath, clientName: 'desktop-web' })),
    socketPath: opts.socketPath,
    keychain,
    controlAuth: opts.controlAuth ?? httpControlAuth(),
    loginWindow: linkInPage,
    hostname: os.hostname(),
    ...(opts.loginMode ? { loginMode: opts.loginMode } : {}),
    notify: (n) => {
      log(`notification: ${n.title}: ${n.body}`);
      bridge?.notifier.app.notice(toAppNotice(n));
    },
    log,
  });
  let bridge: Bridge | null = null;
  const navigate = (view: View) => bridge?.notifier.app.navigate(view);
  const shell: ShellDelegate = {
    platform: 'web',
    appVersion: TRELLIS_VERSION,
    copyText: () => undefined,
    openExternal: (url) => log(`open in your browser: ${url}`),
    showWindow: navigate,
    showAbout: () => navigate('settings'),
    quit: () => opts.onQuit?.(),
    reportError: (m) => log(`error: ${m}`),
  };
  bridge = await startBridge({
    handlers: createIpcHandlers(core, shell),
    rendererDir: opts.rendererDir,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.token ? { token: opts.token } : {}),
    greet: (n) => n.state.changed(core.store.getState()),
    log: { info: log, warn: log },
  });
  const b = bridge;
  const unsubscribe = core.store.subscribe((s) => b.notifier.state.changed(s));
  core.start();
  return {
    url: b.url,
    core,
    bridge: b,
    stop: async () => {
      unsubscribe();
      core.stop();
      await b.close();
    },
  };
}
