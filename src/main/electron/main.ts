// Electron main process entry. Kept thin: all logic lives in the Electron-free core (src/main/core)
// so it is tested without the Electron binary. The desktop-app issue fills in tray, windows and IPC.
import { app, BrowserWindow } from 'electron';
import path from 'node:path';

const gotLock = app.requestSingleInstanceLock();
if (!gotLock) {
  app.quit();
} else {
  void app.whenReady().then(() => {
    const win = new BrowserWindow({
      width: 420,
      height: 640,
      show: true,
      webPreferences: {
        preload: path.join(__dirname, 'preload.cjs'),
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
      },
    });
    void win.loadFile(path.join(__dirname, '..', 'renderer', 'index.html'));
  });
}
