/**
 * WebSocket `/v1/map`: the adapter between a device's socket and the netmap hub. Authenticates
 * the upgrade by node credential, requires a hello, relays the device's updates, and keeps the
 * stream alive both ways. Every inbound message is schema-parsed; anything malformed ends the
 * stream with a typed error, never an exception.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  MAP_IDLE_TIMEOUT_SECONDS,
  MAP_KEEPALIVE_INTERVAL_SECONDS,
  MapClientMessage,
  type MapHello,
  type MapServerMessage,
  type MapUpdate,
} from '../../shared/schema/control/map-stream.js';
import {
  CONTROL_PROTOCOL_VERSION,
  MAX_CONTROL_REQUEST_BYTES,
} from '../../shared/schema/control.js';
import type { ControlErrorCode } from '../../shared/schema/control/errors.js';
import { parseJsonWith } from '../../shared/schema/parse.js';
import type { CloseReason, NetmapHub, Subscription } from '../netmap/hub.js';

/** Client messages (endpoints, host info, netcheck) are bounded like request bodies. */
export const MAX_MAP_CLIENT_MESSAGE_BYTES = MAX_CONTROL_REQUEST_BYTES;
/** A client that has not said hello by now is dropped: it holds a socket and proves nothing. */
const HELLO_TIMEOUT_MS = 10_000;
/**
 * A stream whose unsent backlog exceeds this is a client that cannot keep up (or a slowloris);
 * it is closed and will resume, costing one catch-up delta instead of unbounded server memory.
 */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** WebSocket close codes (4000–4999 are application-defined). */
export const MAP_CLOSE = {
  badMessage: 4400,
  unauthorized: 4401,
  reauth: 4403,
  replaced: 4409,
  idle: 4408,
  slow: 4429,
  shutdown: 1001,
} as const;

export interface MapStreamDeps {
  readonly hub: NetmapHub;
  /** Resolves a node credential to its device, or null (unknown, revoked, expired alike). */
  readonly authenticate: (
    credential: string,
  ) => Promise<{ deviceId: string; nodeKey: string } | null>;
  /** A parsed update from a device; the server persists it and patches the hub. */
  readonly onUpdate: (deviceId: string, update: MapUpdate) => void;
  /** A device's stream started or ended (the server records last-seen). */
  readonly onPresence?: (deviceId: string, online: boolean) => void;
  readonly log?: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
  /** Keepalive timing, overridable for tests. */
  readonly keepaliveMs?: number;
  readonly idleTimeoutMs?: number;
}

export class MapStreamServer {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MAP_CLIENT_MESSAGE_BYTES,
  });
  private readonly sockets = new Set<WebSocket>();

  constructor(private readonly deps: MapStreamDeps) {}

  get connections(): number {
    return this.sockets.size;
  }

  /** Handles an HTTP upgrade for `/v1/map`. Unauthenticated requests get a bare 401. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer ([A-Za-z0-9_\-.~+/=]{16,512})$/.exec(auth);
    const credential = m?.[1];
    const refuse = () => {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    };
    if (!credential) return refuse();
    socket.on('error', () => socket.destroy());
    this.deps.authenticate(credential).then(
      (who) => {
        if (!who) return refuse();
        this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws, who));
      },
      () =>
        socket.end(
          'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
        ),
    );
  }

  /** Closes every stream (server shutdown). */
  close(): void {
    for (const ws of this.sockets) ws.close(MAP_CLOSE.shutdown, 'server shutting down');
    this.wss.close();
  }

  private serve(ws: WebSocket, who: { deviceId: string; nodeKey: string }): void {
    const { hub } = this.deps;
    this.sockets.add(ws);
    let sub: Subscription | null = null;
    let subscribing = false;
    let lastHeard = Date.now();
    const keepaliveMs = this.deps.keepaliveMs ?? MAP_KEEPALIVE_INTERVAL_SECONDS * 1000;
    const idleMs = this.deps.idleTimeoutMs ?? MAP_IDLE_TIMEOUT_SECONDS * 1000;

    const send = (text: string) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.deps.log?.warn({ deviceId: who.deviceId }, 'map stream too slow; closing');
        ws.close(MAP_CLOSE.slow, 'too slow');
        return;
      }
      ws.send(text);
    };
    const fail = (
      code: ControlErrorCode,
      message: string,
      wsCode: number = MAP_CLOSE.badMessage,
    ) => {
      const msg: MapServerMessage = { type: 'error', code, message };
      send(JSON.stringify(msg));
      ws.close(wsCode, code);
    };

    const helloTimer = setTimeout(() => {
      if (!sub && !subscribing) fail('bad_request', 'expected hello');
    }, HELLO_TIMEOUT_MS);
    const keepalive = setInterval(() => {
      if (Date.now() - lastHeard > idleMs) {
        ws.close(MAP_CLOSE.idle, 'idle');
        return;
      }
      send('{"type":"keepalive"}');
    }, keepaliveMs);

    const sink = {
      sendText: send,
      close: (reason: CloseReason, final?: string) => {
        if (final) send(final);
        const code =
          reason.type === 'reauth'
            ? MAP_CLOSE.reauth
            : reason.type === 'replaced'
              ? MAP_CLOSE.replaced
              : MAP_CLOSE.shutdown;
        ws.close(code, reason.type);
      },
    };

    const onHello = async (hello: MapHello) => {
      if (hello.version !== CONTROL_PROTOCOL_VERSION) {
        return fail(
          'unsupported_version',
          `server speaks control protocol ${CONTROL_PROTOCOL_VERSION}`,
        );
      }
      if (hello.nodeKey !== who.nodeKey)
        return fail('unauthorized', 'missing or invalid credentials', MAP_CLOSE.unauthorized);
      subscribing = true;
      const r = await hub.subscribe(who.deviceId, sink, hello);
      subscribing = false;
      if (!('deviceId' in r)) {
        if (r.code === 'key_expired') {
          const msg: MapServerMessage = {
            type: 'reauth-required',
            reason: 'key-expired',
            message: 'This device’s key has expired: sign in again.',
          };
          send(JSON.stringify(msg));
          return ws.close(MAP_CLOSE.reauth, 'key-expired');
        }
        return fail('unauthorized', 'missing or invalid credentials', MAP_CLOSE.unauthorized);
      }
      if (ws.readyState !== ws.OPEN) {
        hub.unsubscribe(r);
        return;
      }
      sub = r;
      this.deps.onPresence?.(who.deviceId, true);
    };

    ws.on('message', (data, isBinary) => {
      lastHeard = Date.now();
      if (isBinary) return fail('bad_request', 'expected a text message');
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data as ArrayBuffer).toString('utf8');
      const parsed = parseJsonWith(MapClientMessage, text, MAX_MAP_CLIENT_MESSAGE_BYTES);
      if (!parsed.ok) return fail('bad_request', parsed.error.message);
      const msg = parsed.value;
      switch (msg.type) {
        case 'hello':
          if (sub || subscribing) return fail('bad_request', 'duplicate hello');
          clearTimeout(helloTimer);
          void onHello(msg).catch((e: unknown) => {
            this.deps.log?.warn({ err: e, deviceId: who.deviceId }, 'map subscribe failed');
            fail('unavailable', 'temporarily unavailable', 1011);
          });
          return;
        case 'update':
          if (!sub) return fail('bad_request', 'expected hello first');
          this.deps.onUpdate(who.deviceId, msg);
          return;
        case 'keepalive':
          return;
      }
    });
    ws.on('pong', () => (lastHeard = Date.now()));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      clearTimeout(helloTimer);
      clearInterval(keepalive);
      this.sockets.delete(ws);
      if (sub && !sub.closed) hub.unsubscribe(sub);
      if (sub) this.deps.onPresence?.(who.deviceId, false);
    });
  }
}
