/**
 * Relay frames: one frame per WebSocket binary message, `type (1) | body`. Integers are
 * big-endian. docs/protocol.md ("## Relay") has the byte-level table.
 */
import { KEY_LENGTH } from '../keys.js';
import { decodeError, err, ok, type DecodeError, type Result } from '../result.js';

export const RELAY_PROTOCOL_VERSION = 1;

/**
 * Largest packet a relay forwards. WireGuard packets are at most MTU-sized (≤ 1500 on the
 * wire, 65535 for a jumbo tunnel MTU); 64 KiB covers the largest UDP datagram's payload, so any
 * packet magicsock could send by UDP also fits through the relay.
 */
export const MAX_PAYLOAD = 64 * 1024;
/** JWT relay tokens are a few hundred bytes; 4 KiB leaves room for claims without abuse. */
export const MAX_TOKEN_LENGTH = 4096;
/** Health text is a one-line operator message. */
export const MAX_HEALTH_MESSAGE_BYTES = 1024;
/** Region ids are the netmap's RegionId: 1..65535 (0 is never a region). */
export const MAX_REGION_ID = 0xffff;
/** Largest frame of any type: send/receive with a full payload. */
export const MAX_FRAME = 1 + KEY_LENGTH + MAX_PAYLOAD;
export const PING_DATA_LENGTH = 8;
/** type | version | keep-alive s (2) | max payload (4) | region id (2). */
const SERVER_HELLO_LENGTH = 10;

export const RelayFrameType = {
  clientHello: 0x01,
  serverHello: 0x02,
  send: 0x03,
  receive: 0x04,
  peerPresent: 0x05,
  peerGone: 0x06,
  keepAlive: 0x07,
  ping: 0x08,
  pong: 0x09,
  health: 0x0a,
} as const;

/** Why a peer is gone: it disconnected, or it was never connected to this relay. */
export type PeerGoneReason = 'disconnected' | 'not-here';
const PEER_GONE_REASONS: readonly PeerGoneReason[] = ['disconnected', 'not-here'];

export interface ServerInfo {
  readonly regionId: number;
  /** How often the server sends keep-alive frames; clients time out after a few missed ones. */
  readonly keepAliveSeconds: number;
  /** The server's MAX_PAYLOAD; a client must not send larger payloads. */
  readonly maxPayload: number;
}

export type RelayFrame =
  | {
      readonly type: 'client-hello';
      readonly version: number;
      readonly nodeKey: Uint8Array;
      readonly token: string;
    }
  | { readonly type: 'server-hello'; readonly version: number; readonly info: ServerInfo }
  | { readonly type: 'send'; readonly dst: Uint8Array; readonly payload: Uint8Array }
  | { readonly type: 'receive'; readonly src: Uint8Array; readonly payload: Uint8Array }
  | { readonly type: 'peer-present'; readonly key: Uint8Array }
  | { readonly type: 'peer-gone'; readonly key: Uint8Array; readonly reason: PeerGoneReason }
  | { readonly type: 'keep-alive' }
  | { readonly type: 'ping'; readonly data: Uint8Array }
  | { readonly type: 'pong'; readonly data: Uint8Array }
  /** Empty message = healthy. */
  | { readonly type: 'health'; readonly message: string };

export type RelayFrameErrorCode =
  'empty' | 'unknown-type' | 'truncated' | 'bad-length' | 'too-large' | 'bad-field';

export type RelayFrameError = DecodeError<RelayFrameErrorCode>;

const TOKEN_RE = /^[A-Za-z0-9_\-.]+$/;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function need(b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes, got ${b.length}`);
}

function uint(n: number, max: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > max) throw new RangeError(`${what} out of range: ${n}`);
  return n;
}

function withKey(type: number, key: Uint8Array, rest: Uint8Array | number = 0): Uint8Array {
  need(key, KEY_LENGTH, 'key');
  const tail = typeof rest === 'number' ? rest : rest.length;
  const out = new Uint8Array(1 + KEY_LENGTH + tail);
  out[0] = type;
  out.set(key, 1);
  if (typeof rest !== 'number') out.set(rest, 1 + KEY_LENGTH);
  return out;
}

/** Encodes a frame. Throws RangeError on invalid local input (sizes, charsets, limits). */
export function encodeRelayFrame(f: RelayFrame): Uint8Array {
  switch (f.type) {
    case 'client-hello': {
      need(f.nodeKey, KEY_LENGTH, 'nodeKey');
      if (f.token.length > MAX_TOKEN_LENGTH || !TOKEN_RE.test(f.token)) {
        throw new RangeError('relay token must be 1..4096 JWT characters');
      }
      const out = new Uint8Array(1 + 1 + KEY_LENGTH + 2 + f.token.length);
      const v = new DataView(out.buffer);
      out[0] = RelayFrameType.clientHello;
      out[1] = uint(f.version, 0xff, 'version');
      out.set(f.nodeKey, 2);
      v.setUint16(2 + KEY_LENGTH, f.token.length);
      out.set(utf8.encode(f.token), 4 + KEY_LENGTH);
      return out;
    }
    case 'server-hello': {
      const { regionId, keepAliveSeconds, maxPayload } = f.info;
      if (regionId < 1) throw new RangeError('region id must be 1..65535');
      const out = new Uint8Array(SERVER_HELLO_LENGTH);
      const v = new DataView(out.buffer);
      out[0] = RelayFrameType.serverHello;
      out[1] = uint(f.version, 0xff, 'version');
      v.setUint16(2, uint(keepAliveSeconds, 0xffff, 'keepAliveSeconds'));
      v.setUint32(4, uint(maxPayload, 0xffffffff, 'maxPayload'));
      v.setUint16(8, uint(regionId, MAX_REGION_ID, 'regionId'));
      return out;
    }
    case 'send':
    case 'receive': {
      if (f.payload.length > MAX_PAYLOAD) throw new RangeError('relay payload too large');
      const type = f.type === 'send' ? RelayFrameType.send : RelayFrameType.receive;
      return withKey(type, f.type === 'send' ? f.dst : f.src, f.payload);
    }
    case 'peer-present':
      return withKey(RelayFrameType.peerPresent, f.key);
    case 'peer-gone': {
      const out = withKey(RelayFrameType.peerGone, f.key, 1);
      out[1 + KEY_LENGTH] = PEER_GONE_REASONS.indexOf(f.reason);
      return out;
    }
    case 'keep-alive':
      return new Uint8Array([RelayFrameType.keepAlive]);
    case 'ping':
    case 'pong': {
      need(f.data, PING_DATA_LENGTH, 'ping data');
      const out = new Uint8Array(1 + PING_DATA_LENGTH);
      out[0] = f.type === 'ping' ? RelayFrameType.ping : RelayFrameType.pong;
      out.set(f.data, 1);
      return out;
    }
    case 'health': {
      const msg = utf8.encode(f.message);
      if (msg.length > MAX_HEALTH_MESSAGE_BYTES) throw new RangeError('health message too long');
      const out = new Uint8Array(3 + msg.length);
      new DataView(out.buffer).setUint16(1, msg.length);
      out[0] = RelayFrameType.health;
      out.set(msg, 3);
      return out;
    }
  }
}

const key = (b: Uint8Array, at: number): Uint8Array =>
  new Uint8Array(b.subarray(at, at + KEY_LENGTH));

const ascii = (b: Uint8Array): string => String.fromCharCode(...b);

function exact(b: Uint8Array, n: number, what: string): RelayFrameError | undefined {
  if (b.length < n) return { code: 'truncated', message: `${what} frame truncated` };
  if (b.length > n) return { code: 'bad-length', message: `${what} frame has trailing bytes` };
  return undefined;
}

/**
 * Decodes one frame. Keys are copied; `payload` of send/receive is a view into `b` (zero-copy
 * forwarding), so callers that keep it past the message handler must copy it.
 */
export function decodeRelayFrame(b: Uint8Array): Result<RelayFrame, RelayFrameError> {
  if (b.length === 0) return decodeError('empty', 'empty relay frame');
  if (b.length > MAX_FRAME) return decodeError('too-large', `relay frame of ${b.length} bytes`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (b[0]) {
    case RelayFrameType.clientHello: {
      if (b.length < 4 + KEY_LENGTH) return decodeError('truncated', 'client hello truncated');
      const len = v.getUint16(2 + KEY_LENGTH);
      if (len === 0 || len > MAX_TOKEN_LENGTH) {
        return decodeError('bad-field', `relay token length ${len}`);
      }
      const e = exact(b, 4 + KEY_LENGTH + len, 'client hello');
      if (e) return err(e);
      const token = ascii(b.subarray(4 + KEY_LENGTH));
      if (!TOKEN_RE.test(token)) return decodeError('bad-field', 'relay token has bad characters');
      return ok({ type: 'client-hello', version: v.getUint8(1), nodeKey: key(b, 2), token });
    }
    case RelayFrameType.serverHello: {
      const e = exact(b, SERVER_HELLO_LENGTH, 'server hello');
      if (e) return err(e);
      const regionId = v.getUint16(8);
      if (regionId === 0) return decodeError('bad-field', 'region id 0');
      const info = { regionId, keepAliveSeconds: v.getUint16(2), maxPayload: v.getUint32(4) };
      return ok({ type: 'server-hello', version: v.getUint8(1), info });
    }
    case RelayFrameType.send:
    case RelayFrameType.receive: {
      if (b.length < 1 + KEY_LENGTH) return decodeError('truncated', 'packet frame truncated');
      // b.length ≤ MAX_FRAME already bounds the payload to MAX_PAYLOAD.
      const payload = b.subarray(1 + KEY_LENGTH);
      return ok(
        b[0] === RelayFrameType.send
          ? { type: 'send', dst: key(b, 1), payload }
          : { type: 'receive', src: key(b, 1), payload },
      );
    }
    case RelayFrameType.peerPresent: {
      const e = exact(b, 1 + KEY_LENGTH, 'peer present');
      return e ? err(e) : ok({ type: 'peer-present', key: key(b, 1) });
    }
    case RelayFrameType.peerGone: {
      const e = exact(b, 2 + KEY_LENGTH, 'peer gone');
      if (e) return err(e);
      const reason = PEER_GONE_REASONS[v.getUint8(1 + KEY_LENGTH)];
      if (!reason) return decodeError('bad-field', 'unknown peer-gone reason');
      return ok({ type: 'peer-gone', key: key(b, 1), reason });
    }
    case RelayFrameType.keepAlive: {
      const e = exact(b, 1, 'keep-alive');
      return e ? err(e) : ok({ type: 'keep-alive' });
    }
    case RelayFrameType.ping:
    case RelayFrameType.pong: {
      const e = exact(b, 1 + PING_DATA_LENGTH, 'ping');
      if (e) return err(e);
      const data = new Uint8Array(b.subarray(1));
      return ok(b[0] === RelayFrameType.ping ? { type: 'ping', data } : { type: 'pong', data });
    }
    case RelayFrameType.health: {
      if (b.length < 3) return decodeError('truncated', 'health truncated');
      const len = v.getUint16(1);
      if (len > MAX_HEALTH_MESSAGE_BYTES) return decodeError('bad-field', 'health too long');
      const e = exact(b, 3 + len, 'health');
      if (e) return err(e);
      try {
        return ok({ type: 'health', message: strictUtf8.decode(b.subarray(3)) });
      } catch {
        return decodeError('bad-field', 'health message is not UTF-8');
      }
    }
    default:
      return decodeError('unknown-type', `unknown relay frame type ${b[0]}`);
  }
}
