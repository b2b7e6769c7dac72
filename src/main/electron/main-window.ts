/**
 * The main window: created on demand, hidden (not destroyed) when closed so the tray app keeps
 * running, locked to the bundled renderer page.
 */
import { BrowserWindow } from 'electron';
import { pathToFileURL } from 'node:url';
import { createIpcNotifier, type View } from '../../shared/schema/ipc.js';
import { lockDown, SECURE_WEB_PREFERENCES } from './secure.js';

export interface MainWindowOptions {
  readonly indexHtml: string;
  readonly preload: string;
  readonly log: (msg: string) => void;
}

export class MainWindow {
  private win: BrowserWindow | null = null;
  private quitting = false;
  private readonly pageUrl: string;
  /** Emits IPC notifications to the window's page (dropped while there is no window). */
  readonly notifier;

  constructor(private readonly opts: MainWindowOptions) {
    this.pageUrl = pathToFileURL(opts.indexHtml).href;
    this.notifier = createIpcNotifier(
      (channel, payload) => {
        const wc = this.win?.webContents;
        if (wc && !wc.isDestroyed()) wc.send(channel, payload);
      },
      (channel, message) => opts.log(`notification ${channel} dropped: ${message.slice(0, 200)}`),
    );
  }

  /** Whether a frame URL is the app's own page (hash and query aside). */
  isAppPage = (url: string): boolean => url.split(/[?#]/)[0] === this.pageUrl;

  show(view: View = 'home'): void {
    const win = this.win ?? this.create();
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
    this.notifier.app.navigate(view);
  }

  /** Lets the window really close (the app is quitting). */
  allowClose(): void {
    this.quitting = true;
  }

  private create(): BrowserWindow {
    const win = new BrowserWindow({
      width: 440,
      height: 720,
      minWidth: 360,
      minHeight: 480,
      show: false,
      title: 'Trellis',
      autoHideMenuBar: true,
      webPreferences: { ...SECURE_WEB_PREFERENCES, preload: this.opts.preload },
    });
    lockDown(win.webContents, (url) => this.isAppPage(url));
    win.on('close', (e) => {
      if (this.quitting) return;
      e.preventDefault();
      win.hide();
    });
    win.on('closed', () => {
      if (this.win === win) this.win = null;
    });
    void win.loadURL(this.pageUrl);
    this.win = win;
    return win;
  }
}
