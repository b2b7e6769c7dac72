/**
 * What the core asks of its host (Electron, or the web bridge): the few things that need a
 * window system. Tray actions and IPC handlers reach the OS only through this delegate.
 */
import type { View } from '../../shared/schema/ipc.js';

export interface ShellDelegate {
  readonly platform: 'linux' | 'windows' | 'macos' | 'web';
  readonly appVersion: string;
  copyText(text: string): void;
  /** Opens an http(s) URL in the system browser. */
  openExternal(url: string): void;
  /** Shows the main window at `view`. */
  showWindow(view: View): void;
  showAbout(): void;
  quit(): void;
  /** Something the user asked for failed; tell them (a notification, a dialog, a log line). */
  reportError(message: string): void;
}

/**
 * The web admin console of a control server: control serves it under /admin, where owners and
 * admins sign in through control's own login pages (see docs/control.md, "Admin console").
 */
export function adminConsoleUrl(controlUrl: string): string {
  return `${controlUrl.replace(/\/+$/, '')}/admin`;
}

/** Only http(s) leaves the app: a compromised renderer must not launch file: or custom schemes. */
export function isHttpUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}
