/**
 * The web bridge: the desktop app's IPC served to a browser on loopback, for machines without
 * the Electron binary (and for the Playwright tests). One HTTP server on 127.0.0.1 with a random
 * port serves the built renderer under /<token>/ and the IPC as a WebSocket at /<token>/ipc.
 *
 * Who can reach it: only what can connect to 127.0.0.1, and of that only who knows the token
 * (other local users cannot read this process's URL). The Host header must name the loopback
 * address, which defeats DNS rebinding; the WebSocket Origin must be the bridge itself, so no
 * other web page in the same browser can open the IPC socket.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  createIpcNotifier,
  IPC_VERSION,
  ipcSchema,
  MAX_IPC_MESSAGE_BYTES,
  type IpcHandlers,
  type IpcNotifier,
  type IpcSchema,
} from '../../shared/schema/ipc.js';
import {
  BRIDGE_CLOSE_PROTOCOL,
  BRIDGE_CLOSE_VERSION,
  BridgeClientFrame,
  type BridgeServerFrame,
} from '../../shared/schema/ipc-bridge.js';
import { ipcError, registerIpcHandlers, type IpcEnvelope } from '../../shared/schema/ipc-derive.js';
import { parseJsonWith } from '../../shared/schema/parse.js';
import { readStatic } from './static-files.js';
import { newToken, tokenMatches } from './token.js';

/**
 * A page this far behind (four maximal AppStates) is not reading; it is disconnected rather than
 * buffered without bound, and gets a fresh state when it reconnects.
 */
export const MAX_BRIDGE_BUFFERED_BYTES = 4 * MAX_IPC_MESSAGE_BYTES;
/** A page must say hello this soon after connecting, or it is dropped. */
export const BRIDGE_HELLO_TIMEOUT_MS = 10_000;

export interface BridgeLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface BridgeOptions {
  readonly handlers: IpcHandlers<IpcSchema>;
  /** The built renderer (dist/renderer). */
  readonly rendererDir: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Defaults to a fresh random token; tests may fix one. */
  readonly token?: string;
  /** Notifications every page gets right after its hello (the current state). */
  readonly greet?: (notify: IpcNotifier<IpcSchema>) => void;
  readonly log?: BridgeLog;
}

export interface Bridge {
  /** The page to open, token included. */
  readonly url: string;
  readonly origin: string;
  readonly token: string;
  /** Emits to every connected page. */
  readonly notifier: IpcNotifier<IpcSchema>;
  readonly clientCount: number;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const csp = (origin: string) =>
  [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    `connect-src 'self' ${origin.replace(/^http/, 'ws')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "object-src 'none'",
  ].join('; ');

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const token = opts.token ?? newToken();
  const invokeHandlers = new Map<string, (payload: unknown) => Promise<unknown>>();
  const sendListeners = new Map<string, (payload: unknown) => void>();
  registerIpcHandlers(ipcSchema, opts.handlers, {
    handle: (channel, h) => invokeHandlers.set(channel, h),
    listen: (channel, l) => sendListeners.set(channel, l),
  });

  const clients = new Set<WebSocket>();
  const sendFrame = (ws: WebSocket, frame: BridgeServerFrame | string) => {
    if (ws.bufferedAmount > MAX_BRIDGE_BUFFERED_BYTES) {
      opts.log?.warn('a bridge page fell too far behind; disconnecting it');
      ws.terminate();
      return;
    }
    ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  };
  const notifier = createIpcNotifier((channel, payload) => {
    // Serialized once for every page.
    const text = JSON.stringify({
      t: 'notify',
      channel,
      payload: payload ?? null,
    } satisfies BridgeServerFrame);
    for (const ws of clients) sendFrame(ws, text);
  });

  let origin = '';
  let allowedHosts: string[] = [];
  /** `/<token>/rest` → "rest", or null when the token is missing or wrong. */
  const authorized = (url: string | undefined): string | null => {
    const pathOnly = (url ?? '').split('?')[0] ?? '';
    const m = /^\/([^/]*)(\/.*)?$/.exec(pathOnly);
    if (!m || !tokenMatches(token, m[1] ?? '')) return null;
    return m[2] ?? '';
  };
  const hostOk = (host: string | undefined) => host !== undefined && allowedHosts.includes(host);

  const server = http.createServer((req, res) => {
    void (async () => {
      const headers = { ...SECURITY_HEADERS, 'content-security-policy': csp(origin) };
      if (!hostOk(req.headers.host)) {
        res.writeHead(403, headers).end();
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...headers, allow: 'GET, HEAD' }).end();
        return;
      }
      const rest = authorized(req.url);
      if (rest === null) {
        res.writeHead(403, { ...headers, 'content-type': 'text/plain' }).end('forbidden\n');
        return;
      }
      if (rest === '') {
        // "/<token>" → "/<token>/", so the page's relative asset URLs keep the token.
        res.writeHead(308, { ...headers, location: `/${token}/` }).end();
        return;
      }
      const file = await readStatic(opts.rendererDir, rest.slice(1));
      if (!file) {
        res.writeHead(404, { ...headers, 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      res.writeHead(200, {
        ...headers,
        'content-type': file.type,
        'content-length': file.body.length,
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : file.body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_IPC_MESSAGE_BYTES });
  const refuse = (socket: Duplex, status: number, text: string) => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  };
  server.on('upgrade', (req, socket, head) => {
    if (!hostOk(req.headers.host) || authorized(req.url) !== '/ipc')
      return refuse(socket, 403, 'Forbidden');
    if (!allowedHosts.some((h) => req.headers.origin === `http://${h}`)) {
      return refuse(socket, 403, 'Forbidden');
    }
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws));
  });

  function serve(ws: WebSocket): void {
    let welcomed = false;
    const helloTimer = setTimeout(
      () => ws.close(BRIDGE_CLOSE_PROTOCOL, 'no hello'),
      BRIDGE_HELLO_TIMEOUT_MS,
    );
    const fail = (code: number, message: string) => {
      sendFrame(ws, { t: 'error', message });
      ws.close(code, message.slice(0, 100));
    };
    ws.on('close', () => {
      clearTimeout(helloTimer);
      clients.delete(ws);
    });
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      if (isBinary)
        return fail(BRIDGE_CLOSE_PROTOCOL, 'binary frames are not part of the bridge protocol');
      const f = parseJsonWith(BridgeClientFrame, data.toString('utf8'), MAX_IPC_MESSAGE_BYTES);
      if (!f.ok) return fail(BRIDGE_CLOSE_PROTOCOL, `bad frame: ${f.error.message}`);
      const frame = f.value;
      if (!welcomed) {
        if (frame.t !== 'hello') return fail(BRIDGE_CLOSE_PROTOCOL, 'say hello first');
        if (frame.ipcVersion !== IPC_VERSION) {
          return fail(
            BRIDGE_CLOSE_VERSION,
            `this bridge speaks IPC ${IPC_VERSION}, the page ${frame.ipcVersion}; reload the page`,
          );
        }
        welcomed = true;
        clearTimeout(helloTimer);
        sendFrame(ws, { t: 'welcome', ipcVersion: IPC_VERSION });
        clients.add(ws);
        if (opts.greet) {
          // Greet this page only: a notifier whose emit targets just this socket.
          opts.greet(
            createIpcNotifier((channel, payload) =>
              sendFrame(ws, { t: 'notify', channel, payload: payload ?? null }),
            ),
          );
        }
        return;
      }
      switch (frame.t) {
        case 'hello':
          return;
        case 'send':
          sendListeners.get(frame.channel)?.(frame.payload);
          return;
        case 'invoke': {
          const h = invokeHandlers.get(frame.channel);
          if (!h) {
            sendFrame(ws, {
              t: 'result',
              id: frame.id,
              envelope: {
                ok: false,
                error: ipcError('bad_request', `no invoke channel ${frame.channel.slice(0, 128)}`),
              },
            });
            return;
          }
          void h(frame.payload).then((answer) => {
            const envelope = answer as IpcEnvelope;
            // JSON has no undefined: a channel that answers nothing answers null on the wire.
            const wire = envelope.ok
              ? { ok: true as const, value: envelope.value ?? null }
              : envelope;
            if (ws.readyState === ws.OPEN)
              sendFrame(ws, { t: 'result', id: frame.id, envelope: wire });
          });
          return;
        }
      }
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  allowedHosts = [`127.0.0.1:${port}`, `localhost:${port}`];
  opts.log?.info(`web bridge listening on ${origin}`);

  return {
    url: `${origin}/${token}/`,
    origin,
    token,
    notifier,
    get clientCount() {
      return clients.size;
    },
    close: async () => {
      for (const ws of clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
