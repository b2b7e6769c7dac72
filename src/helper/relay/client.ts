/**
 * The helper's relay client: one WebSocket to one relay region, packets addressed by node public
 * key. It reconnects by itself (jittered exponential backoff, a fresh token per attempt), watches
 * the server's keep-alives, and reports typed states. magicsock owns one per region it uses.
 */
import { systemClock, type Clock } from '../control-client/clock.js';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import WebSocket, { type ClientOptions, type RawData } from 'ws';
import { KEY_LENGTH, keyToHex } from '../../shared/keys.js';
import { RelayCloseCode } from '../../shared/relay/close-codes.js';
import {
  decodeRelayFrame,
  encodeRelayFrame,
  MAX_FRAME,
  MAX_PAYLOAD,
  PING_DATA_LENGTH,
  RELAY_PROTOCOL_VERSION,
  RelayFrameType,
  type PeerGoneReason,
  type ServerInfo,
} from '../../shared/relay/frame.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';

export type RelayClientErrorCode =
  | 'unauthorized'
  | 'replaced'
  | 'unsupported-version'
  | 'protocol-error'
  | 'timeout'
  | 'server-going-away'
  | 'token-unavailable'
  | 'network';

export interface RelayClientError {
  readonly code: RelayClientErrorCode;
  readonly message: string;
}

export type RelayClientState =
  | { readonly state: 'idle' }
  | { readonly state: 'connecting'; readonly attempt: number }
  | { readonly state: 'connected'; readonly server: ServerInfo }
  | {
      readonly state: 'backoff';
      readonly attempt: number;
      readonly retryInMs: number;
      readonly error: RelayClientError;
    }
  | { readonly state: 'closed' };

export interface RelayClientEvents {
  /** `payload` is a view of the received WebSocket message (not reused by the client). */
  receive: [src: Uint8Array, payload: Uint8Array];
  'peer-gone': [key: Uint8Array, reason: PeerGoneReason];
  'peer-present': [key: Uint8Array];
  health: [message: string];
  state: [state: RelayClientState];
}

/** The relay client's timers: the helper's one Clock interface. */
export type RelayClientClock = Clock;
export { systemClock };

/** Time to open the socket and get the server hello: covers TCP + TLS + token check. */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * Missed server keep-alive periods before the connection is considered dead: 2.5 tolerates one
 * lost or delayed keep-alive plus scheduling jitter, and still notices a dead relay in ~75 s.
 */
export const READ_TIMEOUT_PERIODS = 2.5;
/**
 * Bytes the client buffers towards the relay before send() starts dropping. 512 KiB is ~0.2 s at
 * 20 Mbit/s: enough to absorb bursts, small enough that a stalled relay can't bloat the helper.
 */
export const DEFAULT_MAX_SEND_BUFFER = 512 * 1024;
/** Outstanding ping() calls; more would only measure the queue, not the path. */
export const MAX_PENDING_PINGS = 16;

export interface RelayClientOptions {
  /** ws:// or wss:// URL of the relay endpoint (…/v1/relay). */
  readonly url: string;
  /** This device's node public key; the token's subject must be the same key. */
  readonly nodeKey: Uint8Array;
  /** The relay token, or a provider asked before every connection attempt (tokens expire). */
  readonly token: string | (() => string | Promise<string>);
  readonly clock?: RelayClientClock;
  /** Uniform [0, 1) source for backoff jitter. */
  readonly random?: () => number;
  readonly backoff?: BackoffPolicy;
  readonly maxSendBuffer?: number;
  /** Extra options for the ws client (e.g. a CA for a private relay certificate). */
  readonly webSocketOptions?: ClientOptions;
}

export interface RelayClientCounters {
  sent: number;
  received: number;
  /** send() calls refused because not connected or the send buffer was full. */
  dropped: number;
  reconnects: number;
}

function closeError(code: number, reason: string): RelayClientError {
  const message = `relay closed the connection (${code}${reason ? `: ${reason}` : ''})`;
  switch (code) {
    case RelayCloseCode.policyViolation:
      return { code: 'unauthorized', message };
    case RelayCloseCode.replaced:
      return { code: 'replaced', message };
    case RelayCloseCode.unsupportedVersion:
      return { code: 'unsupported-version', message };
    case RelayCloseCode.protocolError:
      return { code: 'protocol-error', message };
    case RelayCloseCode.goingAway:
      return { code: 'server-going-away', message };
    case RelayCloseCode.timeout:
      return { code: 'timeout', message };
    default:
      return { code: 'network', message };
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

export class RelayClient extends EventEmitter<RelayClientEvents> {
  readonly counters: RelayClientCounters = { sent: 0, received: 0, dropped: 0, reconnects: 0 };
  private current: RelayClientState = { state: 'idle' };
  private ws: WebSocket | undefined;
  /** Bumped per socket: events from an older socket are ignored. */
  private generation = 0;
  private attempt = 0;
  private timer: unknown;
  private lastHeard = 0;
  private readonly pings = new Map<
    string,
    { start: number; resolve: (ms: number) => void; reject: (e: Error) => void; timer: unknown }
  >();
  private readonly clock: RelayClientClock;
  private readonly random: () => number;

  constructor(private readonly opts: RelayClientOptions) {
    super();
    if (opts.nodeKey.length !== KEY_LENGTH) throw new RangeError('node key must be 32 bytes');
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
  }

  get state(): RelayClientState {
    return this.current;
  }

  /** Starts connecting; afterwards the client keeps itself connected until close(). */
  start(): void {
    if (this.current.state !== 'idle') return;
    void this.connect();
  }

  /** Resolves with the server info once connected (now, or after the next successful connect). */
  whenConnected(): Promise<ServerInfo> {
    if (this.current.state === 'connected') return Promise.resolve(this.current.server);
    return new Promise((resolve, reject) => {
      const onState = (s: RelayClientState): void => {
        if (s.state === 'connected') {
          this.off('state', onState);
          resolve(s.server);
        } else if (s.state === 'closed') {
          this.off('state', onState);
          reject(new Error('relay client closed'));
        }
      };
      this.on('state', onState);
    });
  }

  /**
   * Queues one packet for `dst`. Returns false (and counts a drop) when not connected or when the
   * send buffer is full: relayed packets are best-effort, like UDP.
   */
  send(dst: Uint8Array, payload: Uint8Array): boolean {
    const ws = this.ws;
    if (
      this.current.state !== 'connected' ||
      !ws ||
      ws.readyState !== WebSocket.OPEN ||
      dst.length !== KEY_LENGTH ||
      payload.length > Math.min(MAX_PAYLOAD, this.current.server.maxPayload) ||
      ws.bufferedAmount + payload.length > (this.opts.maxSendBuffer ?? DEFAULT_MAX_SEND_BUFFER)
    ) {
      this.counters.dropped++;
      return false;
    }
    const frame = new Uint8Array(1 + KEY_LENGTH + payload.length);
    frame[0] = RelayFrameType.send;
    frame.set(dst, 1);
    frame.set(payload, 1 + KEY_LENGTH);
    ws.send(frame, { binary: true });
    this.counters.sent++;
    return true;
  }

  /** Round-trip time to the relay in ms, through the same queue packets take. */
  ping(timeoutMs = 5_000): Promise<number> {
    const ws = this.ws;
    if (this.current.state !== 'connected' || !ws || this.pings.size >= MAX_PENDING_PINGS) {
      return Promise.reject(new Error('relay not connected or too many pings pending'));
    }
    const data = new Uint8Array(randomBytes(PING_DATA_LENGTH));
    const id = keyToHex(data);
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pings.delete(id);
        reject(new Error('relay ping timed out'));
      }, timeoutMs);
      this.pings.set(id, { start: this.clock.now(), resolve, reject, timer });
      ws.send(encodeRelayFrame({ type: 'ping', data }), { binary: true });
    });
  }

  /** Stops for good: no more reconnects, state `closed`. */
  async close(): Promise<void> {
    if (this.current.state === 'closed') return;
    this.clearTimer();
    this.failPings('relay client closed');
    const ws = this.ws;
    this.ws = undefined;
    this.generation++;
    this.setState({ state: 'closed' });
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.on('error', () => undefined);
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'client closing');
      const t = setTimeout(() => ws.terminate(), 1000);
      t.unref();
    });
  }

  private setState(s: RelayClientState): void {
    this.current = s;
    this.emit('state', s);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private failPings(why: string): void {
    for (const p of this.pings.values()) {
      this.clock.clearTimeout(p.timer);
      p.reject(new Error(why));
    }
    this.pings.clear();
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.setState({ state: 'connecting', attempt: this.attempt });
    let token: string;
    try {
      token = typeof this.opts.token === 'string' ? this.opts.token : await this.opts.token();
    } catch (e) {
      if (gen === this.generation) {
        this.retry({ code: 'token-unavailable', message: `no relay token: ${String(e)}` });
      }
      return;
    }
    if (gen !== this.generation) return;
    const ws = new WebSocket(this.opts.url, {
      ...this.opts.webSocketOptions,
      perMessageDeflate: false,
      maxPayload: MAX_FRAME,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
    });
    this.ws = ws;
    this.lastHeard = this.clock.now();
    this.armTimer(gen, CONNECT_TIMEOUT_MS);
    let closeInfo: RelayClientError | undefined;
    ws.on('open', () => {
      ws.send(
        encodeRelayFrame({
          type: 'client-hello',
          version: RELAY_PROTOCOL_VERSION,
          nodeKey: this.opts.nodeKey,
          token,
        }),
        { binary: true },
      );
    });
    ws.on('message', (data, isBinary) => {
      if (gen !== this.generation) return;
      this.lastHeard = this.clock.now();
      if (!isBinary) return this.fail(gen, ws, 'protocol-error', 'text message from relay');
      this.onFrame(gen, ws, toBytes(data));
    });
    ws.on('error', (e) => {
      closeInfo ??= { code: 'network', message: e.message };
    });
    ws.on('close', (code, reason) => {
      if (gen !== this.generation) return;
      this.ws = undefined;
      this.failPings('relay connection lost');
      const r = reason.toString();
      this.retry(code === 1006 && closeInfo ? closeInfo : closeError(code, r));
    });
  }

  private onFrame(gen: number, ws: WebSocket, bytes: Uint8Array): void {
    const f = decodeRelayFrame(bytes);
    if (!f.ok) {
      if (f.error.code === 'unknown-type') return; // newer server: ignore
      return this.fail(gen, ws, 'protocol-error', f.error.message);
    }
    const frame = f.value;
    if (this.current.state !== 'connected') {
      if (frame.type !== 'server-hello') {
        return this.fail(gen, ws, 'protocol-error', `expected server hello, got ${frame.type}`);
      }
      if (frame.version !== RELAY_PROTOCOL_VERSION) {
        return this.fail(gen, ws, 'unsupported-version', `relay speaks ${frame.version}`);
      }
      this.attempt = 0;
      this.setState({ state: 'connected', server: frame.info });
      this.armTimer(gen, this.readTimeoutMs());
      return;
    }
    switch (frame.type) {
      case 'receive':
        this.counters.received++;
        this.emit('receive', frame.src, frame.payload);
        return;
      case 'peer-gone':
        this.emit('peer-gone', frame.key, frame.reason);
        return;
      case 'peer-present':
        this.emit('peer-present', frame.key);
        return;
      case 'health':
        this.emit('health', frame.message);
        return;
      case 'ping':
        ws.send(encodeRelayFrame({ type: 'pong', data: frame.data }), { binary: true });
        return;
      case 'pong': {
        const id = keyToHex(frame.data);
        const p = this.pings.get(id);
        if (!p) return;
        this.pings.delete(id);
        this.clock.clearTimeout(p.timer);
        p.resolve(this.clock.now() - p.start);
        return;
      }
      case 'keep-alive':
        return;
      default:
        return this.fail(gen, ws, 'protocol-error', `relay sent ${frame.type}`);
    }
  }

  private readTimeoutMs(): number {
    const s = this.current.state === 'connected' ? this.current.server.keepAliveSeconds : 0;
    return s > 0 ? s * 1000 * READ_TIMEOUT_PERIODS : CONNECT_TIMEOUT_MS;
  }

  /** One timer does double duty: connect deadline, then read watchdog. */
  private armTimer(gen: number, ms: number): void {
    this.clearTimer();
    this.timer = this.clock.setTimeout(() => {
      if (gen !== this.generation) return;
      const connected = this.current.state === 'connected';
      const silentFor = this.clock.now() - this.lastHeard;
      const limit = connected ? this.readTimeoutMs() : CONNECT_TIMEOUT_MS;
      if (silentFor >= limit || !connected) {
        const ws = this.ws;
        const what = connected ? 'no keep-alive from relay' : 'relay did not answer the hello';
        if (ws) return this.fail(gen, ws, 'timeout', what);
        return;
      }
      this.armTimer(gen, limit - silentFor);
    }, ms);
  }

  /** Abandons the socket (events from it are ignored from now on) and schedules a retry. */
  private fail(gen: number, ws: WebSocket, code: RelayClientErrorCode, message: string): void {
    if (gen !== this.generation) return;
    this.generation++;
    this.ws = undefined;
    ws.on('error', () => undefined);
    ws.terminate();
    this.failPings('relay connection lost');
    this.retry({ code, message });
  }

  private retry(error: RelayClientError): void {
    if (this.current.state === 'closed') return;
    this.clearTimer();
    const policy = this.opts.backoff ?? DEFAULT_BACKOFF;
    // Another process holds our key: wait the longest backoff so the two don't flap.
    const attempt = error.code === 'replaced' ? Number.MAX_SAFE_INTEGER : this.attempt;
    const retryInMs = backoffDelayMs(attempt, this.random, policy);
    this.attempt++;
    this.counters.reconnects++;
    this.setState({ state: 'backoff', attempt: this.attempt, retryInMs, error });
    const gen = ++this.generation;
    this.timer = this.clock.setTimeout(() => {
      if (gen === this.generation) void this.connect();
    }, retryInMs);
  }
}
