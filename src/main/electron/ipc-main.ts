/**
 * The IPC schema on Electron's ipcMain: invoke channels through ipcMain.handle, send channels
 * through ipcMain.on, both only from the app's own page (a frame showing anything else, such as
 * a page the login window navigated to, is ignored).
 */
import { ipcMain, type IpcMainEvent, type IpcMainInvokeEvent } from 'electron';
import { ipcSchema, type IpcHandlers, type IpcSchema } from '../../shared/schema/ipc.js';
import { ipcError, registerIpcHandlers } from '../../shared/schema/ipc-derive.js';

export function registerElectronIpc(
  handlers: IpcHandlers<IpcSchema>,
  isAppPage: (url: string) => boolean,
  log: (msg: string) => void,
): void {
  const trusted = (e: IpcMainEvent | IpcMainInvokeEvent) => {
    const url = e.senderFrame?.url ?? '';
    if (isAppPage(url)) return true;
    log(`IPC from an untrusted frame refused: ${url.slice(0, 200)}`);
    return false;
  };
  registerIpcHandlers(
    ipcSchema,
    handlers,
    {
      handle: (channel, handler) =>
        ipcMain.handle(channel, (e, payload: unknown) =>
          trusted(e)
            ? handler(payload)
            : { ok: false, error: ipcError('bad_request', 'not the app page') },
        ),
      listen: (channel, listener) =>
        ipcMain.on(channel, (e, payload: unknown) => {
          if (trusted(e)) listener(payload);
        }),
    },
    (channel, message) => log(`IPC ${channel}: invalid message dropped: ${message.slice(0, 300)}`),
  );
}
