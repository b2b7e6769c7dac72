/**
 * The helper's end of the map stream (WebSocket /v1/map). Keeps itself connected with jittered
 * exponential backoff, resumes where it left off, keeps the netmap current by applying deltas,
 * sends the device's updates, and notices a dead stream by silence.
 *
 * Whatever control sends, the worst outcome is a reconnect: garbage is counted and logged, and
 * the last good netmap stays the last good netmap. The client never tells anyone to tear down
 * tunnels; only reauth-required (the credential is no longer valid) stops it.
 */
import { EventEmitter } from 'node:events';
import WebSocket, { type ClientOptions, type RawData } from 'ws';
import {
  CONTROL_PROTOCOL_VERSION,
  MAX_CONTROL_MESSAGE_BYTES,
} from '../../shared/schema/control.js';
import {
  MAP_IDLE_TIMEOUT_SECONDS,
  MAP_KEEPALIVE_INTERVAL_SECONDS,
  MapServerMessage,
  type MapClientMessage,
  type MapReauthRequired,
  type MapUpdate,
} from '../../shared/schema/control/map-stream.js';
import type { Netmap } from '../../shared/schema/control/netmap.js';
import { applyNetmapPatch } from '../../shared/schema/control/netmap-patch.js';
import { parseJsonWith } from '../../shared/schema/parse.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from '../relay/backoff.js';
import { systemClock, type Clock } from './clock.js';

/** Opening the socket and hearing the first map message: TCP + TLS + auth + a full netmap. */
export const MAP_CONNECT_TIMEOUT_MS = 30_000;
/**
 * A stream that stayed up this long counts as healthy, and the next reconnect starts the backoff
 * over. Shorter-lived streams keep growing it, so a control that accepts and immediately breaks
 * the stream (or sends garbage) is retried ever more slowly instead of in a tight loop.
 */
export const STABLE_STREAM_MS = 10_000;

/** Close codes the server uses that mean "this credential will not work again". */
const CLOSE_UNAUTHORIZED = 4401;

export type MapClientState =
  | { readonly state: 'idle' }
  | { readonly state: 'connecting'; readonly attempt: number }
  | { readonly state: 'connected'; readonly resumed: boolean }
  | {
      readonly state: 'backoff';
      readonly attempt: number;
      readonly retryInMs: number;
      readonly reason: string;
    }
  | { readonly state: 'stopped' };

export interface MapClientEvents {
  /** A new netmap (after a full map or an applied delta). */
  netmap: [netmap: Netmap, kind: 'full' | 'delta'];
  state: [state: MapClientState];
  /** The device must log in again; the client has stopped. */
  'reauth-required': [reason: MapReauthRequired['reason'], message: string];
  /** Control sent a typed error (then closed); the client retries. */
  'control-error': [code: string, message: string];
}

export interface MapClientLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface MapClientOptions {
  /** Control's base URL (http or https). */
  readonly controlUrl: string;
  readonly nodeCredential: string;
  readonly nodeKey: string;
  readonly discoKey: string;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly backoff?: BackoffPolicy;
  readonly keepaliveMs?: number;
  readonly idleTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly log?: MapClientLog;
  readonly webSocketOptions?: ClientOptions;
}

export interface MapClientCounters {
  connects: number;
  fulls: number;
  deltas: number;
  /** Messages that did not parse or did not fit the netmap (gaps, unknown peers). */
  badMessages: number;
  /** Messages of a type this build does not know (skipped, per the versioning rules). */
  unknownMessages: number;
}

type Update = Omit<MapUpdate, 'type'>;

const silentLog: MapClientLog = { debug: () => {}, info: () => {}, warn: () => {} };

export function mapStreamUrl(controlUrl: string): string {
  const u = new URL(controlUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/map`;
  u.search = '';
  u.hash = '';
  return u.toString();
}

export class MapClient extends EventEmitter<MapClientEvents> {
  readonly counters: MapClientCounters = {
    connects: 0,
    fulls: 0,
    deltas: 0,
    badMessages: 0,
    unknownMessages: 0,
  };
  private current: MapClientState = { state: 'idle' };
  private ws: WebSocket | undefined;
  private generation = 0;
  private attempt = 0;
  private retryTimer: unknown;
  private tickTimer: unknown;
  private connectTimer: unknown;
  private lastHeard = 0;
  private lastSent = 0;
  private subscribedAt: number | null = null;
  private retryAfterMs = 0;
  /** Resume point: the netmap we hold and where in control's stream it came from. */
  private netmap: Netmap | null = null;
  private resume: { token: string; seq: number } | null = null;
  /** Everything the device wants control to know, re-sent on every new stream. */
  private desired: Update = {};
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: MapClientLog;
  private readonly keepaliveMs: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly opts: MapClientOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.log = opts.log ?? silentLog;
    this.keepaliveMs = opts.keepaliveMs ?? MAP_KEEPALIVE_INTERVAL_SECONDS * 1000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? MAP_IDLE_TIMEOUT_SECONDS * 1000;
  }

  get state(): MapClientState {
    return this.current;
  }

  get connected(): boolean {
    return this.current.state === 'connected';
  }

  /** The netmap as of the last applied message (null before the first full map). */
  get latest(): Netmap | null {
    return this.netmap;
  }

  start(): void {
    if (this.current.state !== 'idle') return;
    this.connect();
  }

  /** Closes the stream for good. */
  stop(): void {
    if (this.current.state === 'stopped') return;
    this.teardown();
    this.setState({ state: 'stopped' });
  }

  /**
   * Tells control about the device. Present fields replace what was said before; they are sent
   * now if the stream is up, and again on every reconnect.
   */
  update(u: Update): void {
    const changed: Update = {};
    for (const [k, v] of Object.entries(u) as [keyof Update, unknown][]) {
      if (v === undefined) continue;
      if (JSON.stringify(this.desired[k]) === JSON.stringify(v)) continue;
      (changed as Record<string, unknown>)[k] = v;
      (this.desired as Record<string, unknown>)[k] = v;
    }
    if (Object.keys(changed).length && this.subscribedAt !== null)
      this.send({ type: 'update', ...changed });
  }

  // -- connection ------------------------------------------------------------------------------

  private connect(): void {
    this.teardown();
    const gen = ++this.generation;
    this.counters.connects += 1;
    this.setState({ state: 'connecting', attempt: this.attempt });
    let ws: WebSocket;
    try {
      ws = new WebSocket(mapStreamUrl(this.opts.controlUrl), {
        headers: { authorization: `Bearer ${this.opts.nodeCredential}` },
        maxPayload: MAX_CONTROL_MESSAGE_BYTES,
        handshakeTimeout: this.opts.connectTimeoutMs ?? MAP_CONNECT_TIMEOUT_MS,
        ...this.opts.webSocketOptions,
      });
    } catch (e) {
      this.scheduleReconnect(`bad control URL: ${(e as Error).message}`);
      return;
    }
    this.ws = ws;
    this.connectTimer = this.clock.setTimeout(() => {
      if (gen === this.generation && this.subscribedAt === null)
        this.fail('no netmap from control in time');
    }, this.opts.connectTimeoutMs ?? MAP_CONNECT_TIMEOUT_MS);

    ws.on('unexpected-response', (req, res) => {
      if (gen !== this.generation) return;
      const status = res.statusCode ?? 0;
      res.resume();
      req.destroy();
      if (status === 401) this.reauth('credential-revoked', 'control refused the node credential');
      else this.fail(`control answered the map request with HTTP ${status}`);
    });
    ws.on('open', () => {
      if (gen !== this.generation) return;
      this.lastHeard = this.clock.now();
      this.send({
        type: 'hello',
        version: CONTROL_PROTOCOL_VERSION,
        nodeKey: this.opts.nodeKey,
        discoKey: this.opts.discoKey,
        ...(this.resume ? { resume: this.resume } : {}),
      });
      this.scheduleTick(gen);
    });
    ws.on('message', (data, isBinary) => {
      if (gen !== this.generation) return;
      this.lastHeard = this.clock.now();
      if (isBinary) return this.garbage('binary message');
      this.onText(rawText(data));
    });
    ws.on('close', (code, reason) => {
      if (gen !== this.generation) return;
      if (code === CLOSE_UNAUTHORIZED) {
        this.reauth('credential-revoked', 'control refused the node credential');
        return;
      }
      this.fail(
        `stream closed (${code}${reason.length ? `: ${reason.toString('utf8').slice(0, 120)}` : ''})`,
      );
    });
    ws.on('error', (e) => {
      if (gen !== this.generation) return;
      this.fail(`stream error: ${e.message}`);
    });
  }

  private onText(text: string): void {
    const parsed = parseJsonWith(MapServerMessage, text, MAX_CONTROL_MESSAGE_BYTES);
    if (!parsed.ok) {
      if (parsed.error.code === 'unknown_type') {
        this.counters.unknownMessages += 1;
        this.log.debug({ error: parsed.error.message }, 'skipping unknown map message type');
        return;
      }
      return this.garbage(parsed.error.message);
    }
    const msg = parsed.value;
    switch (msg.type) {
      case 'full':
        this.counters.fulls += 1;
        this.netmap = msg.netmap;
        this.resume = { token: msg.resumeToken, seq: msg.seq };
        this.subscribed(false);
        this.emit('netmap', msg.netmap, 'full');
        return;
      case 'delta': {
        if (!this.netmap || !this.resume)
          return this.garbage('delta without a netmap to apply it to');
        if (msg.seq !== this.resume.seq + 1) {
          return this.garbage(`sequence gap: expected ${this.resume.seq + 1}, got ${msg.seq}`);
        }
        const next = applyNetmapPatch(this.netmap, msg.patch);
        if (!next.ok) return this.garbage(next.error.message);
        this.counters.deltas += 1;
        this.netmap = next.value;
        this.resume = { token: this.resume.token, seq: msg.seq };
        this.subscribed(true);
        this.emit('netmap', next.value, 'delta');
        return;
      }
      case 'keepalive':
        return;
      case 'error':
        this.log.warn(
          { code: msg.code, message: msg.message },
          'control sent an error on the map stream',
        );
        this.emit('control-error', msg.code, msg.message);
        if (msg.code === 'unauthorized') return this.reauth('credential-revoked', msg.message);
        if (msg.code === 'key_expired') return this.reauth('key-expired', msg.message);
        if (msg.retryAfterSeconds !== undefined) this.retryAfterMs = msg.retryAfterSeconds * 1000;
        // A bad_request means control did not like what we sent: start the next stream clean.
        if (msg.code === 'bad_request') this.resume = null;
        return this.fail(`control error ${msg.code}: ${msg.message}`);
      case 'reauth-required':
        return this.reauth(msg.reason, msg.message);
    }
  }

  /** The first map message of a stream proves it is live: now updates may flow. */
  private subscribed(resumed: boolean): void {
    if (this.subscribedAt !== null) return;
    this.subscribedAt = this.clock.now();
    this.clock.clearTimeout(this.connectTimer);
    this.setState({ state: 'connected', resumed });
    if (Object.keys(this.desired).length) this.send({ type: 'update', ...this.desired });
  }

  /** Something control sent does not fit: count it, forget the resume point, reconnect. */
  private garbage(why: string): void {
    this.counters.badMessages += 1;
    this.log.warn(
      { error: why.slice(0, 500) },
      'bad message on the map stream; reconnecting without resume',
    );
    this.resume = null;
    this.fail(`bad message from control: ${why.slice(0, 200)}`);
  }

  private reauth(reason: MapReauthRequired['reason'], message: string): void {
    this.log.info({ reason }, 'control requires a new login');
    this.teardown();
    this.setState({ state: 'stopped' });
    this.emit('reauth-required', reason, message);
  }

  private fail(reason: string): void {
    if (this.current.state === 'stopped') return;
    const lived = this.subscribedAt === null ? 0 : this.clock.now() - this.subscribedAt;
    this.teardown();
    if (lived >= STABLE_STREAM_MS) this.attempt = 0;
    this.scheduleReconnect(reason);
  }

  private scheduleReconnect(reason: string): void {
    const delay = Math.max(
      backoffDelayMs(this.attempt, this.random, this.opts.backoff ?? DEFAULT_BACKOFF),
      this.retryAfterMs,
    );
    this.retryAfterMs = 0;
    this.setState({ state: 'backoff', attempt: this.attempt, retryInMs: delay, reason });
    this.log.debug({ reason, delay }, 'map stream down; reconnecting');
    this.attempt += 1;
    this.retryTimer = this.clock.setTimeout(() => this.connect(), delay);
  }

  /** Keepalives out, silence in: both checked at half the keepalive period. */
  private scheduleTick(gen: number): void {
    this.tickTimer = this.clock.setTimeout(() => {
      if (gen !== this.generation) return;
      const now = this.clock.now();
      if (now - this.lastHeard >= this.idleTimeoutMs) {
        this.log.info({ silentMs: now - this.lastHeard }, 'map stream silent too long');
        return this.fail('no keepalive from control');
      }
      if (now - this.lastSent >= this.keepaliveMs) this.send({ type: 'keepalive' });
      this.scheduleTick(gen);
    }, this.keepaliveMs / 2);
  }

  private send(msg: MapClientMessage): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    this.lastSent = this.clock.now();
    ws.send(JSON.stringify(msg));
  }

  /** Drops the current socket and timers; events from it are ignored from here on. */
  private teardown(): void {
    this.generation += 1;
    this.clock.clearTimeout(this.retryTimer);
    this.clock.clearTimeout(this.tickTimer);
    this.clock.clearTimeout(this.connectTimer);
    this.subscribedAt = null;
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'client closing');
      else ws.terminate();
    }
  }

  private setState(s: MapClientState): void {
    this.current = s;
    this.emit('state', s);
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
