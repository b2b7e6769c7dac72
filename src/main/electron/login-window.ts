/**
 * The SSO window: the control plane's login page (and whatever identity provider it redirects
 * to) in its own BrowserWindow with its own persistent session partition, so IdP cookies never
 * mix with the app's page and "remember me" still works next time. It has no preload and no IPC;
 * the core closes it when the helper reports the sign-in complete.
 */
import { BrowserWindow, session } from 'electron';
import type { LoginWindowOpener } from '../core/login-flow.js';
import { isHttpUrl } from '../core/shell.js';
import { denyAllPermissions, lockDown, SECURE_WEB_PREFERENCES } from './secure.js';

export const LOGIN_PARTITION = 'persist:trellis-login';

export function electronLoginWindow(parent: () => BrowserWindow | null): LoginWindowOpener {
  return {
    open(url, onClosed) {
      denyAllPermissions(session.fromPartition(LOGIN_PARTITION));
      const p = parent();
      const win = new BrowserWindow({
        width: 480,
        height: 720,
        title: 'Sign in to Trellis',
        autoHideMenuBar: true,
        ...(p ? { parent: p } : {}),
        webPreferences: { ...SECURE_WEB_PREFERENCES, partition: LOGIN_PARTITION },
      });
      // Sign-in may pass through an external identity provider: any http(s) page, nothing else.
      lockDown(win.webContents, isHttpUrl);
      let closedByApp = false;
      win.on('closed', () => {
        if (!closedByApp) onClosed();
      });
      void win.loadURL(url);
      return {
        close: () => {
          closedByApp = true;
          if (!win.isDestroyed()) win.close();
        },
      };
    },
  };
}
