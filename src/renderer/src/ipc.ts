/**
 * The renderer's IPC client: Electron's preload bridge (window.trellis) when present, else the
 * web bridge's WebSocket at /<token>/ipc of the page's own origin (the token is the page URL's
 * first path segment). Either way the same typed client, validated against the one schema.
 */
import { createIpcClient, IPC_VERSION, type IpcBridge } from '../../shared/schema/ipc.js';
import type { IpcRendererTransport } from '../../shared/schema/ipc-derive.js';
import { bridgeSocketUrl, bridgeTransport, type BridgeStatus } from './bridge-transport.js';

declare global {
  interface Window {
    trellis?: IpcBridge;
  }
}

export type Host = 'electron' | 'web';

export interface RendererIpc {
  readonly host: Host;
  readonly client: ReturnType<typeof createIpcClient>;
}

export function connectIpc(
  onBridgeStatus: (s: BridgeStatus, detail?: string) => void,
): RendererIpc {
  const preload = window.trellis;
  let transport: IpcRendererTransport;
  let host: Host;
  if (preload && preload.ipcVersion === IPC_VERSION) {
    transport = preload;
    host = 'electron';
    onBridgeStatus('open');
  } else {
    transport = bridgeTransport({
      url: bridgeSocketUrl(window.location),
      onStatus: onBridgeStatus,
    });
    host = 'web';
  }
  const client = createIpcClient(transport, (channel, message) =>
    console.warn(`IPC ${channel}: dropped an invalid message: ${message}`),
  );
  return { host, client };
}

/**
 * Copies text: through main in Electron (the sandboxed page has no clipboard permission), with
 * the async clipboard API in a browser (127.0.0.1 is a secure context), else the old way.
 */
export async function copyText(ipc: RendererIpc, text: string): Promise<boolean> {
  if (ipc.host === 'electron') {
    ipc.client.app.copyText(text);
    return true;
  }
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    const done = document.execCommand('copy');
    area.remove();
    return done;
  }
}

/** Opens a link: the system browser from Electron, a new tab in a browser. */
export function openExternal(ipc: RendererIpc, url: string): void {
  if (ipc.host === 'electron') ipc.client.app.openExternal(url);
  else window.open(url, '_blank', 'noopener,noreferrer');
}
