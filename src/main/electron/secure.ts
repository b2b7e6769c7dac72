/**
 * Secure defaults for every window: the renderer is untrusted (it renders names and messages from
 * other devices), so it gets no Node, a sandbox, context isolation, no permissions, no new
 * windows, and no navigation away from the page it was given. Only http(s) links leave the app,
 * to the system browser.
 */
import { app, shell, type Session, type WebContents, type WebPreferences } from 'electron';
import { isHttpUrl } from '../core/shell.js';

export const SECURE_WEB_PREFERENCES: WebPreferences = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  navigateOnDragDrop: false,
  spellcheck: false,
};

/** No camera, microphone, notifications, geolocation, ...: the app's pages need none. */
export function denyAllPermissions(s: Session): void {
  s.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  s.setPermissionCheckHandler(() => false);
}

/**
 * Locks a window's page: navigation only where `mayNavigate` allows, window.open never (http(s)
 * targets open in the system browser instead), no <webview>.
 */
export function lockDown(contents: WebContents, mayNavigate: (url: string) => boolean): void {
  contents.on('will-navigate', (event, url) => {
    if (!mayNavigate(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!mayNavigate(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isHttpUrl(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
}

/** App-wide: any web contents created later (devtools aside) gets the same lock by default. */
export function installAppGuards(): void {
  app.enableSandbox();
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}
