/**
 * The relay server: forwards packets between clients addressed by node public key, over one
 * WebSocket per client. Clients authenticate with a control-signed relay token; the server holds
 * only control's public key. Attach it to an existing HTTP(S) server (`attach`/`handleUpgrade`)
 * or run it alone (standalone.ts). Wire format: docs/protocol.md, "## Relay".
 */
import type { KeyObject } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { keysEqual, keyToBase64, keyToHex, shortKey } from '../../shared/keys.js';
import { RelayCloseCode } from '../../shared/relay/close-codes.js';
import {
  decodeRelayFrame,
  encodeRelayFrame,
  MAX_FRAME,
  MAX_PAYLOAD,
  RELAY_PROTOCOL_VERSION,
  RelayFrameType,
  type PeerGoneReason,
  type RelayFrame,
} from '../../shared/relay/frame.js';
import {
  DEFAULT_QUEUE_LIMITS,
  MAX_WATCHED_PEERS,
  RelayConnection,
  type QueueLimits,
} from './connection.js';
import { createRelayMetrics, type RelayAuthFailure, type RelayMetrics } from './metrics.js';
import { verifyRelayToken } from './token.js';

export const RELAY_PATH = '/v1/relay';

/**
 * Server keep-alive period. Idle TCP mappings in NATs, proxies and load balancers commonly expire
 * after 60 s or more; a frame every 30 s keeps them open and lets clients notice a dead relay
 * (they time out after a few missed keep-alives).
 */
export const KEEPALIVE_INTERVAL_MS = 30_000;
/** A client silent (no frame, no WebSocket pong) for this many keep-alive periods is dropped. */
export const LIVENESS_PERIODS = 2;
/** Time a new connection has to send its client hello: a TLS + hello round trip takes < 1 s. */
export const HELLO_TIMEOUT_MS = 5_000;
/** Frames a client may pipeline behind its hello while the token is verified (~1 ms). */
export const MAX_PRE_AUTH_FRAMES = 32;

/** The subset of a pino logger the relay uses. */
export interface RelayLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

const silentLogger: RelayLogger = { debug() {}, info() {}, warn() {} };

export interface RelayServerOptions {
  /** Control's Ed25519 public key that relay tokens are verified with. */
  readonly publicKey: KeyObject;
  /** This relay's region id (the netmap's RegionId, 1..65535). */
  readonly regionId: number;
  readonly path?: string;
  readonly keepAliveIntervalMs?: number;
  readonly helloTimeoutMs?: number;
  readonly queueLimits?: QueueLimits;
  readonly logger?: RelayLogger;
  /** Wall clock for token expiry (tests). */
  readonly now?: () => Date;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

export class RelayServer {
  readonly metrics: RelayMetrics = createRelayMetrics();
  readonly path: string;
  private readonly wss: WebSocketServer;
  /** Authenticated clients by registry id (network id + node key). */
  private readonly registry = new Map<string, RelayConnection>();
  /** Registry id → connections that want presence notices about it. */
  private readonly interest = new Map<string, Set<RelayConnection>>();
  private readonly conns = new Set<RelayConnection>();
  private readonly keepAliveMs: number;
  private readonly helloTimeoutMs: number;
  private readonly limits: QueueLimits;
  private readonly log: RelayLogger;
  private readonly keepAliveTimer: NodeJS.Timeout;
  private readonly serverHello: Uint8Array;
  private health = '';
  private closed = false;

  constructor(private readonly opts: RelayServerOptions) {
    this.path = opts.path ?? RELAY_PATH;
    this.keepAliveMs = opts.keepAliveIntervalMs ?? KEEPALIVE_INTERVAL_MS;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    this.limits = opts.queueLimits ?? DEFAULT_QUEUE_LIMITS;
    this.log = opts.logger ?? silentLogger;
    // Fail at startup, not at the first client, on settings the server hello can't carry.
    this.serverHello = encodeRelayFrame({
      type: 'server-hello',
      version: RELAY_PROTOCOL_VERSION,
      info: {
        regionId: opts.regionId,
        keepAliveSeconds: Math.ceil(this.keepAliveMs / 1000),
        maxPayload: MAX_PAYLOAD,
      },
    });
    // Payloads are WireGuard ciphertext: compression would only cost CPU and memory.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_FRAME,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.keepAliveTimer = setInterval(() => this.tick(), this.keepAliveMs);
    this.keepAliveTimer.unref();
  }

  get clientCount(): number {
    return this.registry.size;
  }

  /**
   * Takes over an HTTP upgrade if it is for the relay path; returns false (socket untouched) for
   * any other path so the caller can route it elsewhere.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://relay').pathname;
    } catch {
      return false;
    }
    if (pathname !== this.path) return false;
    if (this.closed) {
      socket.destroy();
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    return true;
  }

  /** Listens for upgrades on `server`; other paths are left to other listeners. */
  attach(server: HttpServer | HttpsServer): () => void {
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      this.handleUpgrade(req, socket, head);
    };
    server.on('upgrade', onUpgrade);
    return () => server.off('upgrade', onUpgrade);
  }

  /** Per-client queue state, for operators (and tests proving the queue bound holds). */
  clientStats(): { node: string; networkId: string; queuedBytes: number; queuedFrames: number }[] {
    return [...this.registry.values()].map((c) => ({
      node: c.nodeKey ? keyToBase64(c.nodeKey) : '',
      networkId: c.networkId,
      queuedBytes: c.queuedBytes,
      queuedFrames: c.queuedFrames,
    }));
  }

  /** Sends a health message to every client (and to later ones); '' means healthy again. */
  setHealth(message: string): void {
    this.health = message;
    const frame = encodeRelayFrame({ type: 'health', message });
    for (const c of this.registry.values()) c.enqueue(frame);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAliveTimer);
    const all = [...this.conns];
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.ws.readyState === WebSocket.CLOSED) return resolve();
            c.ws.once('close', () => resolve());
            c.close(RelayCloseCode.goingAway, 'relay shutting down');
            // A peer that never answers the close handshake is cut off.
            setTimeout(() => c.ws.terminate(), 1000).unref();
          }),
      ),
    );
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(ws: WebSocket): void {
    const conn = new RelayConnection(ws, this.limits, performance.now());
    this.conns.add(conn);
    this.metrics.connectionsAccepted++;
    const helloTimer = setTimeout(() => {
      if (conn.state === 'hello' || conn.state === 'verifying') {
        this.refuse(conn, 'hello-timeout');
      }
    }, this.helloTimeoutMs);
    helloTimer.unref();
    ws.on('message', (data, isBinary) => {
      conn.lastHeard = performance.now();
      if (!isBinary) {
        this.metrics.malformedFrames++;
        return this.protocolError(conn, 'text message');
      }
      this.onFrame(conn, toBytes(data));
    });
    ws.on('pong', () => {
      conn.lastHeard = performance.now();
    });
    // ws reports oversized messages and socket errors here, then closes: never crash on them.
    ws.on('error', (e) => this.log.debug({ err: e.message }, 'relay client socket error'));
    ws.on('close', () => {
      clearTimeout(helloTimer);
      this.onClose(conn);
    });
  }

  private onFrame(conn: RelayConnection, bytes: Uint8Array): void {
    switch (conn.state) {
      case 'hello':
        this.onHello(conn, bytes).catch((e: unknown) => {
          this.log.warn({ err: String(e) }, 'relay hello handling failed');
          conn.close(RelayCloseCode.protocolError, 'protocol error');
        });
        return;
      case 'verifying':
        if (conn.preAuth.length >= MAX_PRE_AUTH_FRAMES) {
          return this.protocolError(conn, 'too many frames before server hello');
        }
        conn.preAuth.push(bytes);
        return;
      case 'active':
        return this.onActiveFrame(conn, bytes);
      case 'closed':
        return;
    }
  }

  private async onHello(conn: RelayConnection, bytes: Uint8Array): Promise<void> {
    const f = decodeRelayFrame(bytes);
    if (!f.ok || f.value.type !== 'client-hello') {
      this.metrics.malformedFrames++;
      return this.refuse(conn, 'bad-hello');
    }
    const hello = f.value;
    if (hello.version !== RELAY_PROTOCOL_VERSION) {
      this.metrics.authFailures['unsupported-version']++;
      conn.close(
        RelayCloseCode.unsupportedVersion,
        `unsupported relay protocol ${hello.version}; server speaks ${RELAY_PROTOCOL_VERSION}`,
      );
      return;
    }
    conn.state = 'verifying';
    const claims = await verifyRelayToken(hello.token, this.opts.publicKey, {
      regionId: this.opts.regionId,
      ...(this.opts.now ? { now: this.opts.now() } : {}),
    });
    if ((conn.state as string) !== 'verifying') return; // closed meanwhile
    if (!claims.ok) return this.refuse(conn, claims.error.code);
    if (!keysEqual(claims.value.nodeKey, hello.nodeKey)) return this.refuse(conn, 'key-mismatch');
    this.register(conn, hello.nodeKey, claims.value.networkId);
    for (const pending of conn.preAuth.splice(0)) {
      if ((conn.state as string) !== 'active') break;
      this.onActiveFrame(conn, pending);
    }
  }

  private register(conn: RelayConnection, nodeKey: Uint8Array, networkId: string): void {
    conn.state = 'active';
    conn.nodeKey = nodeKey;
    conn.networkId = networkId;
    conn.id = `${networkId}\0${keyToHex(nodeKey)}`;
    const previous = this.registry.get(conn.id);
    this.registry.set(conn.id, conn);
    this.metrics.clients = this.registry.size;
    conn.enqueue(this.serverHello);
    if (this.health) conn.enqueue(encodeRelayFrame({ type: 'health', message: this.health }));
    if (previous) {
      this.metrics.replaced++;
      previous.close(RelayCloseCode.replaced, 'replaced by a newer connection');
      this.log.info({ node: shortKey(nodeKey), net: networkId }, 'relay client replaced');
      return; // presence didn't change: no notices
    }
    this.log.debug({ node: shortKey(nodeKey), net: networkId }, 'relay client connected');
    this.notifyWatchers(conn.id, { type: 'peer-present', key: nodeKey });
  }

  private onActiveFrame(conn: RelayConnection, bytes: Uint8Array): void {
    // Fast path for the hot frame type: no object allocation beyond the outgoing frame.
    if (bytes[0] === RelayFrameType.send && bytes.length >= 33 && bytes.length <= MAX_FRAME) {
      return this.forward(conn, bytes);
    }
    const f = decodeRelayFrame(bytes);
    if (!f.ok) {
      if (f.error.code === 'unknown-type') {
        this.metrics.unknownFrames++; // newer client: ignore what we don't understand
        return;
      }
      this.metrics.malformedFrames++;
      return this.protocolError(conn, f.error.message);
    }
    switch (f.value.type) {
      case 'ping':
        conn.enqueue(encodeRelayFrame({ type: 'pong', data: f.value.data }));
        return;
      case 'keep-alive':
      case 'pong':
        return;
      default:
        this.metrics.malformedFrames++;
        return this.protocolError(conn, `client may not send ${f.value.type}`);
    }
  }

  /** `send` (type | dst 32 | payload) → `receive` (type | src 32 | payload) to dst. */
  private forward(conn: RelayConnection, send: Uint8Array): void {
    const dst = send.subarray(1, 33);
    const dstId = `${conn.networkId}\0${keyToHex(dst)}`;
    const payloadLen = send.length - 33;
    const target = this.registry.get(dstId);
    if (!target) {
      this.metrics.dropped['unknown-destination']++;
      this.metrics.droppedBytes += payloadLen;
      // Tell the sender once; it hears "peer present" when the destination connects.
      if (this.watch(conn, dstId)) {
        conn.enqueue(encodeRelayFrame({ type: 'peer-gone', key: dst, reason: 'not-here' }));
      }
      return;
    }
    const out = new Uint8Array(send.length);
    out[0] = RelayFrameType.receive;
    out.set(conn.nodeKey ?? new Uint8Array(32), 1);
    out.set(send.subarray(33), 33);
    if (!target.enqueue(out)) {
      this.metrics.dropped['queue-full']++;
      this.metrics.droppedBytes += payloadLen;
      return;
    }
    this.metrics.forwardedPackets++;
    this.metrics.forwardedBytes += payloadLen;
    this.watch(conn, dstId);
    this.watch(target, conn.id);
  }

  /** Registers interest of `conn` in `id`; true if it is new. Bounded per connection. */
  private watch(conn: RelayConnection, id: string): boolean {
    if (conn.watching.has(id) || conn.watching.size >= MAX_WATCHED_PEERS) return false;
    conn.watching.add(id);
    let set = this.interest.get(id);
    if (!set) this.interest.set(id, (set = new Set()));
    set.add(conn);
    return true;
  }

  private notifyWatchers(id: string, frame: RelayFrame): void {
    const watchers = this.interest.get(id);
    if (!watchers) return;
    const bytes = encodeRelayFrame(frame);
    for (const w of watchers) if (w.state === 'active') w.enqueue(bytes);
  }

  private onClose(conn: RelayConnection): void {
    conn.state = 'closed';
    this.conns.delete(conn);
    for (const id of conn.watching) {
      const set = this.interest.get(id);
      set?.delete(conn);
      if (set?.size === 0) this.interest.delete(id);
    }
    conn.watching.clear();
    if (!conn.id || this.registry.get(conn.id) !== conn) return; // never active, or replaced
    this.registry.delete(conn.id);
    this.metrics.clients = this.registry.size;
    const reason: PeerGoneReason = 'disconnected';
    if (conn.nodeKey)
      this.notifyWatchers(conn.id, { type: 'peer-gone', key: conn.nodeKey, reason });
    this.log.debug({ node: conn.nodeKey && shortKey(conn.nodeKey) }, 'relay client disconnected');
  }

  private refuse(conn: RelayConnection, why: RelayAuthFailure): void {
    this.metrics.authFailures[why]++;
    this.log.info({ reason: why }, 'relay client refused');
    conn.close(RelayCloseCode.policyViolation, 'unauthorized');
  }

  private protocolError(conn: RelayConnection, detail: string): void {
    this.log.debug(
      { node: conn.nodeKey && shortKey(conn.nodeKey), detail },
      'relay protocol error',
    );
    conn.close(RelayCloseCode.protocolError, 'protocol error');
  }

  /** Keep-alive frames out, WebSocket pings for liveness, silent clients cut off. */
  private tick(): void {
    const now = performance.now();
    const keepAlive = encodeRelayFrame({ type: 'keep-alive' });
    for (const c of [...this.registry.values()]) {
      if (now - c.lastHeard > LIVENESS_PERIODS * this.keepAliveMs) {
        this.metrics.timedOut++;
        c.state = 'closed';
        c.ws.terminate();
        continue;
      }
      c.enqueue(keepAlive);
      if (c.ws.readyState === WebSocket.OPEN) c.ws.ping();
    }
  }
}
