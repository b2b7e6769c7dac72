// Preload (sandboxed): exposes the typed IPC API derived from src/shared's IPC schema.
import { contextBridge, ipcRenderer } from 'electron';
import { ipcChannels } from '../../shared/schema/ipc.js';

contextBridge.exposeInMainWorld('trellis', {
  invoke: (channel: string, payload: unknown): Promise<unknown> => {
    if (!ipcChannels.includes(channel)) return Promise.reject(new Error(`unknown channel ${channel}`));
    return ipcRenderer.invoke(channel, payload) as Promise<unknown>;
  },
});
