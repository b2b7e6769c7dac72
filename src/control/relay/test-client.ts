/**
 * A bare relay protocol client for tests: sends arbitrary bytes (including malformed frames) and
 * records every decoded frame and the close code. Production code uses src/helper/relay.
 */
import WebSocket from 'ws';
import {
  decodeRelayFrame,
  encodeRelayFrame,
  RELAY_PROTOCOL_VERSION,
  type RelayFrame,
} from '../../shared/relay/frame.js';

export interface RawRelayClient {
  readonly ws: WebSocket;
  readonly frames: RelayFrame[];
  readonly closed: Promise<{ code: number; reason: string }>;
  sendBytes(b: Uint8Array): void;
  sendFrame(f: RelayFrame): void;
  hello(nodeKey: Uint8Array, token: string): void;
  /** Waits for the first recorded frame matching `pred` (already received or future). */
  waitFor<T extends RelayFrame['type']>(
    type: T,
    pred?: (f: Extract<RelayFrame, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<RelayFrame, { type: T }>>;
}

export async function connectRaw(url: string): Promise<RawRelayClient> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const frames: RelayFrame[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const r = decodeRelayFrame(new Uint8Array(data as Buffer));
    if (r.ok) {
      // Copy payloads: the decoder returns views.
      frames.push(
        r.value.type === 'receive'
          ? { ...r.value, payload: new Uint8Array(r.value.payload) }
          : r.value,
      );
    }
    for (const w of waiters) w();
  });
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters) w();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const client: RawRelayClient = {
    ws,
    frames,
    closed,
    sendBytes: (b) => ws.send(b, { binary: true }),
    sendFrame: (f) => ws.send(encodeRelayFrame(f), { binary: true }),
    hello: (nodeKey, token) =>
      client.sendFrame({ type: 'client-hello', version: RELAY_PROTOCOL_VERSION, nodeKey, token }),
    waitFor: (type, pred, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        type F = Extract<RelayFrame, { type: typeof type }>;
        const check = (): boolean => {
          const f = frames.find((x): x is F => x.type === type && (!pred || pred(x as F)));
          if (!f) return false;
          done();
          resolve(f);
          return true;
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for ${type}`));
        }, timeoutMs);
        const w = (): void => void check();
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(w);
        };
        if (!check()) waiters.add(w);
      }),
  };
  return client;
}
