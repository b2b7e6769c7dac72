// Preload (sandboxed): exposes `window.trellis`, a renderer transport for the IPC schema in
// src/shared/schema/ipc.ts. It allows only declared channels, each only in its declared direction;
// payloads are validated by the typed client in the renderer and again by main's handlers.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { IpcBridge } from '../../shared/schema/ipc.js';
import { IPC_VERSION, ipcChannelKinds } from '../../shared/schema/ipc-channels.js';

const isKind = (channel: string, kind: 'invoke' | 'send' | 'notify'): boolean =>
  ipcChannelKinds.get(channel) === kind;

const bridge: IpcBridge = {
  ipcVersion: IPC_VERSION,
  invoke: (channel, payload) => {
    if (!isKind(channel, 'invoke'))
      return Promise.reject(new Error(`not an invoke channel: ${channel}`));
    return ipcRenderer.invoke(channel, payload) as Promise<unknown>;
  },
  send: (channel, payload) => {
    if (isKind(channel, 'send')) ipcRenderer.send(channel, payload);
  },
  on: (channel, listener) => {
    if (!isKind(channel, 'notify')) return () => undefined;
    // Only the payload crosses into the page; the event object would expose ipcRenderer.
    const wrapped = (_event: IpcRendererEvent, payload: unknown) => listener(payload);
    ipcRenderer.on(channel, wrapped);
    return () => {
      ipcRenderer.removeListener(channel, wrapped);
    };
  },
};

contextBridge.exposeInMainWorld('trellis', bridge);
