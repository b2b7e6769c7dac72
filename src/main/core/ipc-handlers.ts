/**
 * The main side of the IPC schema, implemented on the core: every invoke and send channel of
 * ipcSchema, typed by IpcHandlers<IpcSchema> so a new channel cannot be forgotten. Electron's
 * ipcMain and the web bridge register the same object (registerIpcHandlers).
 */
import { ok } from '../../shared/result.js';
import { IPC_VERSION, type IpcHandlers, type IpcSchema } from '../../shared/schema/ipc.js';
import type { AppCore } from './app-core.js';
import { adminConsoleUrl, isHttpUrl, type ShellDelegate } from './shell.js';

export function createIpcHandlers(core: AppCore, shell: ShellDelegate): IpcHandlers<IpcSchema> {
  const c = core.commands;
  return {
    state: { get: async () => ok(core.store.getState()) },
    tunnel: { connect: () => c.connect(), disconnect: () => c.disconnect() },
    exitNode: {
      set: (sel) => c.setExitNode(sel),
      setAllowLan: (v) => c.setAllowLan(v),
      suggest: () => c.suggestExitNode(),
    },
    routes: {
      setAcceptRoutes: (v) => c.setAcceptRoutes(v),
      setAdvertised: (routes) => c.setAdvertisedRoutes(routes),
      setAdvertiseExitNode: (v) => c.setAdvertiseExitNode(v),
    },
    settings: { update: (patch) => c.updatePrefs(patch) },
    account: {
      login: (opts) => c.signIn(opts.controlUrl),
      cancelLogin: () => c.cancelSignIn(),
      logout: () => c.signOut(),
    },
    diagnostics: { netcheck: () => c.netcheck(), ping: (req) => c.ping(req) },
    app: {
      getInfo: async () => {
        const daemon = await core.helperVersion();
        return ok({
          appVersion: shell.appVersion,
          daemonVersion: daemon,
          platform: shell.platform,
          ipcVersion: IPC_VERSION,
        });
      },
      openExternal: (url) => {
        if (isHttpUrl(url)) shell.openExternal(url);
      },
      openAdminConsole: () => {
        const s = core.store.getState();
        const url = s.account?.controlUrl ?? s.prefs?.controlUrl;
        if (url) shell.openExternal(adminConsoleUrl(url));
      },
      copyText: (text) => shell.copyText(text),
      quit: () => shell.quit(),
    },
  };
}
