// Electron main process: one instance, a tray, the main window, the SSO login window, the OS
// keychain, and the IPC; all logic lives in the Electron-free core (src/main/core), which the
// web bridge (src/main/bridge) serves to browsers identically. This file only wires Electron in.
import { app, clipboard, dialog, Notification, session, shell as electronShell } from 'electron';
import os from 'node:os';
import path from 'node:path';
import { defaultSocketPath, LocalApiClient } from '../../helper/localapi/client.js';
import { TRELLIS_VERSION } from '../../shared/version.js';
import { AppCore } from '../core/app-core.js';
import { httpControlAuth } from '../core/control-auth.js';
import { createIpcHandlers } from '../core/ipc-handlers.js';
import { memoryKeychain } from '../core/keychain.js';
import { chooseKeychain, safeStorageKeychain } from '../core/keychain-file.js';
import { openOsKeychain } from '../core/keychain-os.js';
import type { DesktopNotification } from '../core/notifications.js';
import { isHttpUrl, type ShellDelegate } from '../core/shell.js';
import { runTrayAction } from '../core/tray-actions.js';
import type { TrayAction } from '../core/tray-model.js';
import { enableStartAtLogin } from './autostart.js';
import { registerElectronIpc } from './ipc-main.js';
import { electronLoginWindow } from './login-window.js';
import { MainWindow } from './main-window.js';
import { linkFromArgv, parseTrellisLink, TRELLIS_SCHEME, type TrellisLink } from './protocol.js';
import { safeStorageCipher } from './safe-storage.js';
import { denyAllPermissions, installAppGuards } from './secure.js';
import { TrayController } from './tray.js';

const log = (msg: string) => process.stderr.write(`trellis: ${msg}\n`);
const platform = (): ShellDelegate['platform'] =>
  process.platform === 'darwin' ? 'macos' : process.platform === 'win32' ? 'windows' : 'linux';

async function start(): Promise<void> {
  denyAllPermissions(session.defaultSession);
  const socketPath = defaultSocketPath();
  const keychain = await chooseKeychain(
    [
      () => openOsKeychain(),
      async () =>
        safeStorageKeychain(path.join(app.getPath('userData'), 'sessions.bin'), safeStorageCipher),
    ],
    memoryKeychain,
    (e) => log(`keychain option skipped: ${e.message}`),
  );
  log(`sessions are kept in: ${keychain.kind}`);

  const mainWindow = new MainWindow({
    indexHtml: path.join(__dirname, '..', 'renderer', 'index.html'),
    preload: path.join(__dirname, 'preload.cjs'),
    log,
  });
  let onAction: (a: TrayAction) => void = () => undefined;
  const notify = (n: DesktopNotification) => {
    if (!Notification.isSupported()) return;
    const note = new Notification({ title: n.title, body: n.body, silent: n.kind === 'helper' });
    const action = n.action;
    if (action) note.on('click', () => onAction(action));
    note.show();
  };

  const core = new AppCore({
    helper: () => new LocalApiClient({ socketPath, clientName: 'desktop' }),
    socketPath,
    keychain,
    controlAuth: httpControlAuth(),
    loginWindow: electronLoginWindow(() => null),
    hostname: os.hostname(),
    notify,
    log,
  });
  let tray: TrayController | null = null;
  const shell: ShellDelegate = {
    platform: platform(),
    appVersion: TRELLIS_VERSION,
    copyText: (text) => clipboard.writeText(text),
    openExternal: (url) => {
      if (isHttpUrl(url)) void electronShell.openExternal(url);
    },
    showWindow: (view) => mainWindow.show(view),
    showAbout: () => app.showAboutPanel(),
    quit: () => {
      mainWindow.allowClose();
      tray?.stop();
      core.stop();
      app.quit();
    },
    reportError: (message) => {
      log(message);
      void dialog.showMessageBox({
        type: 'error',
        title: 'Trellis',
        message: message.slice(0, 1000),
      });
    },
  };
  onAction = (a) => void runTrayAction(a, core, shell);

  registerElectronIpc(createIpcHandlers(core, shell), mainWindow.isAppPage, log);
  core.store.subscribe((s) => mainWindow.notifier.state.changed(s));
  tray = new TrayController(core.store, onAction);
  tray.start();
  core.start();
  app.setAboutPanelOptions({ applicationName: 'Trellis', applicationVersion: TRELLIS_VERSION });
  enableStartAtLogin(log);
  const launchLink = linkFromArgv(process.argv);
  if (launchLink) mainWindow.show(launchLink.view);
  else if (!process.argv.includes('--hidden')) mainWindow.show('home');
  app.on('second-instance', (_e, argv) => mainWindow.show(linkFromArgv(argv)?.view ?? 'home'));
  app.on('activate', () => mainWindow.show('home'));
  showLink = (link) => mainWindow.show(link.view);
  for (const link of pendingLinks.splice(0)) showLink(link);
}

/** trellis:// links (protocol.ts); macOS sends them as open-url, possibly before `ready`. */
const pendingLinks: TrellisLink[] = [];
let showLink = (link: TrellisLink): void => void pendingLinks.push(link);

function registerTrellisScheme(): void {
  // From a source checkout (electron .), the OS must start Electron with the app's path.
  const ok = process.defaultApp
    ? app.setAsDefaultProtocolClient(TRELLIS_SCHEME, process.execPath, [
        path.resolve(process.argv[1] ?? '.'),
      ])
    : app.setAsDefaultProtocolClient(TRELLIS_SCHEME);
  if (!ok) log(`could not register ${TRELLIS_SCHEME}:// links (the installer registers them)`);
  app.on('open-url', (event, url) => {
    event.preventDefault();
    const link = parseTrellisLink(url);
    if (link) showLink(link);
  });
}

if (!app.requestSingleInstanceLock()) {
  // Another Trellis is running; it shows its window (second-instance) and this one leaves.
  app.quit();
} else {
  installAppGuards();
  registerTrellisScheme();
  // A tray app lives on with every window closed.
  app.on('window-all-closed', () => undefined);
  void app.whenReady().then(start, (e: unknown) => {
    log(`start failed: ${e instanceof Error ? e.message : String(e)}`);
    app.exit(1);
  });
}
