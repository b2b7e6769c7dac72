/**
 * Start at login. macOS and Windows have an API for it; on Linux the freedesktop way is a
 * .desktop file in ~/.config/autostart, written once (a user who deletes it opted out).
 */
import { app } from 'electron';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function linuxAutostartEntry(execPath: string): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Trellis',
    'Comment=Trellis mesh VPN',
    `Exec="${execPath.replace(/"/g, '\\"')}" --hidden`,
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/** Only packaged builds register themselves: a dev run must not start at every login. */
export function enableStartAtLogin(log: (msg: string) => void): void {
  if (!app.isPackaged) return;
  if (process.platform === 'darwin' || process.platform === 'win32') {
    app.setLoginItemSettings({ openAtLogin: true, args: ['--hidden'] });
    return;
  }
  const dir = path.join(
    process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'),
    'autostart',
  );
  const marker = path.join(app.getPath('userData'), 'autostart-configured');
  if (fs.existsSync(marker)) return;
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'trellis.desktop'), linuxAutostartEntry(process.execPath));
    fs.writeFileSync(marker, '');
  } catch (e) {
    log(`could not set up start at login: ${(e as Error).message}`);
  }
}
