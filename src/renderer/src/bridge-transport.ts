/**
 * The renderer's IPC transport over the web bridge's WebSocket (src/main/bridge/server.ts), used
 * when the page runs in a plain browser instead of Electron. It says hello, queues calls until
 * the bridge welcomes it, matches answers to invokes by id, and reconnects with backoff; invokes
 * in flight when the socket drops fail with a transport error (the typed client reports it).
 */
import { BridgeServerFrame, type BridgeClientFrame } from '../../shared/schema/ipc-bridge.js';
import { IPC_VERSION, MAX_IPC_MESSAGE_BYTES } from '../../shared/schema/ipc.js';
import type { IpcRendererTransport } from '../../shared/schema/ipc-derive.js';
import { parseJsonWith } from '../../shared/schema/parse.js';

/** The subset of the browser WebSocket used here (the `ws` package's client matches it too). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type BridgeStatus = 'connecting' | 'open' | 'closed';

/** Reconnects start quickly (a bridge restart takes well under a second) and back off to 5 s. */
export const BRIDGE_RECONNECT_INITIAL_MS = 250;
export const BRIDGE_RECONNECT_MAX_MS = 5_000;
const OPEN = 1;

export interface BridgeTransportOptions {
  readonly url: string;
  readonly createSocket?: (url: string) => WebSocketLike;
  readonly onStatus?: (s: BridgeStatus, detail?: string) => void;
  readonly random?: () => number;
}

export interface BridgeTransport extends IpcRendererTransport {
  close(): void;
}

/** ws(s)://host/<token>/ipc for a page served at http(s)://host/<token>/… */
export function bridgeSocketUrl(loc: { protocol: string; host: string; pathname: string }): string {
  const token = loc.pathname.split('/')[1] ?? '';
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/${token}/ipc`;
}

export function bridgeTransport(opts: BridgeTransportOptions): BridgeTransport {
  const create =
    opts.createSocket ?? ((url: string) => new WebSocket(url) as unknown as WebSocketLike);
  const random = opts.random ?? Math.random;
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let queue: string[] = [];
  let socket: WebSocketLike | null = null;
  let welcomed = false;
  let nextId = 1;
  let failures = 0;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const flush = () => {
    if (!socket || !welcomed) return;
    for (const text of queue) socket.send(text);
    queue = [];
  };
  const post = (frame: BridgeClientFrame) => {
    queue.push(JSON.stringify(frame));
    flush();
  };

  function connect(): void {
    opts.onStatus?.('connecting');
    const ws = create(opts.url);
    socket = ws;
    welcomed = false;
    ws.onopen = () => ws.send(JSON.stringify({ t: 'hello', ipcVersion: IPC_VERSION }));
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      const f = parseJsonWith(BridgeServerFrame, ev.data, MAX_IPC_MESSAGE_BYTES);
      // A frame we cannot read may have been an answer someone waits for: start over cleanly.
      if (!f.ok) return ws.close(4002, 'bad frame from the bridge');
      const frame = f.value;
      switch (frame.t) {
        case 'welcome':
          welcomed = true;
          failures = 0;
          opts.onStatus?.('open');
          flush();
          return;
        case 'result': {
          const p = pending.get(frame.id);
          pending.delete(frame.id);
          p?.resolve(frame.envelope);
          return;
        }
        case 'notify':
          for (const l of listeners.get(frame.channel) ?? []) l(frame.payload);
          return;
        case 'error':
          opts.onStatus?.('closed', frame.message);
          return;
      }
    };
    ws.onerror = () => undefined;
    ws.onclose = (ev) => {
      if (socket !== ws) return;
      socket = null;
      welcomed = false;
      for (const [, p] of pending) p.reject(new Error(`bridge disconnected (${ev.code})`));
      pending.clear();
      // Queued sends and invokes belong to the old connection's state; drop them.
      queue = [];
      opts.onStatus?.('closed', ev.reason || undefined);
      if (closed) return;
      const cap = Math.min(BRIDGE_RECONNECT_MAX_MS, BRIDGE_RECONNECT_INITIAL_MS * 2 ** failures++);
      timer = setTimeout(connect, Math.round(cap * (0.5 + random() / 2)));
    };
  }

  connect();

  return {
    invoke: (channel, payload) =>
      new Promise((resolve, reject) => {
        if (closed) return reject(new Error('bridge closed'));
        const id = nextId++;
        pending.set(id, { resolve, reject });
        post({ t: 'invoke', id, channel, payload: payload ?? null });
      }),
    send: (channel, payload) => post({ t: 'send', channel, payload: payload ?? null }),
    on: (channel, listener) => {
      const set = listeners.get(channel) ?? new Set();
      listeners.set(channel, set);
      set.add(listener);
      return () => set.delete(listener);
    },
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      if (socket?.readyState === OPEN) socket.close(1000, 'page closed');
      socket = null;
    },
  };
}
