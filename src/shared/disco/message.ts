/**
 * Disco messages: the plaintext inside a sealed disco envelope (see envelope.ts).
 *
 *   type (1) | version (1) | fields (per type and version)
 *
 * Every message has an exact length for its version; a newer layout gets a new version byte, so
 * an old decoder answers `unknown-version` instead of misreading it.
 */
import { decodeError, ok, type DecodeError, type Result } from '../result.js';
import { KEY_LENGTH } from '../keys.js';
import type { IpPort } from '../ip.js';
import { endpointSize, MAX_ENDPOINT_BYTES, readEndpoint, writeEndpoint } from './endpoint.js';

export const DISCO_TYPE_PING = 0x01;
export const DISCO_TYPE_PONG = 0x02;
export const DISCO_TYPE_CALL_ME_MAYBE = 0x03;

/** The only layout version of each message type so far. */
export const DISCO_MESSAGE_VERSION = 1;

export const TX_ID_LENGTH = 12;

/**
 * Upper bound on call-me-maybe endpoints. A device has a handful of candidates (LAN addresses,
 * one or two reflexive, a port mapping); 32 leaves room for multi-homed hosts while keeping the
 * largest message (2 + 1 + 32 × 19 = 611 bytes, sealed 677) inside a 1280-byte IPv6 minimum MTU.
 */
export const MAX_CALL_ME_MAYBE_ENDPOINTS = 32;

/** Probe of a path; `nodeKey` tells the receiver which WireGuard peer the sender is. */
export interface DiscoPing {
  readonly type: 'ping';
  readonly txId: Uint8Array;
  readonly nodeKey: Uint8Array;
}

/** Answer to a ping: echoes its txId and reports the source address the ping arrived from. */
export interface DiscoPong {
  readonly type: 'pong';
  readonly txId: Uint8Array;
  readonly src: IpPort;
}

/** "Ping me on these endpoints now": sent via relay to start simultaneous hole punching. */
export interface DiscoCallMeMaybe {
  readonly type: 'call-me-maybe';
  readonly endpoints: readonly IpPort[];
}

export type DiscoMessage = DiscoPing | DiscoPong | DiscoCallMeMaybe;

export type DiscoMessageErrorCode =
  | 'truncated'
  | 'unknown-type'
  | 'unknown-version'
  | 'bad-length'
  | 'bad-endpoint'
  | 'too-many-endpoints';

export type DiscoMessageError = DecodeError<DiscoMessageErrorCode>;

/** Largest plaintext any message can have (call-me-maybe with the maximum IPv6 endpoints). */
export const MAX_DISCO_MESSAGE_BYTES = 2 + 1 + MAX_CALL_ME_MAYBE_ENDPOINTS * MAX_ENDPOINT_BYTES;

function header(type: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out[0] = type;
  out[1] = DISCO_MESSAGE_VERSION;
  return out;
}

function checkLen(b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes, got ${b.length}`);
}

/** Encodes a message. Throws RangeError on invalid local input (wrong key size, bad endpoint). */
export function encodeDiscoMessage(msg: DiscoMessage): Uint8Array {
  switch (msg.type) {
    case 'ping': {
      checkLen(msg.txId, TX_ID_LENGTH, 'txId');
      checkLen(msg.nodeKey, KEY_LENGTH, 'nodeKey');
      const out = header(DISCO_TYPE_PING, 2 + TX_ID_LENGTH + KEY_LENGTH);
      out.set(msg.txId, 2);
      out.set(msg.nodeKey, 2 + TX_ID_LENGTH);
      return out;
    }
    case 'pong': {
      checkLen(msg.txId, TX_ID_LENGTH, 'txId');
      const out = header(DISCO_TYPE_PONG, 2 + TX_ID_LENGTH + endpointSize(msg.src));
      out.set(msg.txId, 2);
      writeEndpoint(out, 2 + TX_ID_LENGTH, msg.src);
      return out;
    }
    case 'call-me-maybe': {
      if (msg.endpoints.length > MAX_CALL_ME_MAYBE_ENDPOINTS) {
        throw new RangeError(`call-me-maybe carries at most ${MAX_CALL_ME_MAYBE_ENDPOINTS}`);
      }
      const size = msg.endpoints.reduce((n, ep) => n + endpointSize(ep), 3);
      const out = header(DISCO_TYPE_CALL_ME_MAYBE, size);
      out[2] = msg.endpoints.length;
      let off = 3;
      for (const ep of msg.endpoints) off = writeEndpoint(out, off, ep);
      return out;
    }
  }
}

/** A plain Uint8Array copy (not a Buffer view into a datagram that may be reused). */
function copy(b: Uint8Array, start: number, len: number): Uint8Array {
  return new Uint8Array(b.subarray(start, start + len));
}

export function decodeDiscoMessage(b: Uint8Array): Result<DiscoMessage, DiscoMessageError> {
  if (b.length < 2) return decodeError('truncated', 'disco message shorter than its header');
  const type = b[0];
  const version = b[1];
  if (type !== DISCO_TYPE_PING && type !== DISCO_TYPE_PONG && type !== DISCO_TYPE_CALL_ME_MAYBE) {
    return decodeError('unknown-type', `unknown disco message type ${type}`);
  }
  if (version !== DISCO_MESSAGE_VERSION) {
    return decodeError('unknown-version', `disco message type ${type} version ${version}`);
  }
  switch (type) {
    case DISCO_TYPE_PING: {
      if (b.length !== 2 + TX_ID_LENGTH + KEY_LENGTH) {
        return decodeError('bad-length', `ping is ${2 + TX_ID_LENGTH + KEY_LENGTH} bytes`);
      }
      return ok({
        type: 'ping',
        txId: copy(b, 2, TX_ID_LENGTH),
        nodeKey: copy(b, 2 + TX_ID_LENGTH, KEY_LENGTH),
      });
    }
    case DISCO_TYPE_PONG: {
      if (b.length < 2 + TX_ID_LENGTH) return decodeError('truncated', 'pong txId truncated');
      const ep = readEndpoint(b, 2 + TX_ID_LENGTH);
      if (!ep.ok) return ep;
      if (ep.value.next !== b.length) return decodeError('bad-length', 'trailing bytes in pong');
      return ok({ type: 'pong', txId: copy(b, 2, TX_ID_LENGTH), src: ep.value.endpoint });
    }
    case DISCO_TYPE_CALL_ME_MAYBE: {
      if (b.length < 3) return decodeError('truncated', 'call-me-maybe count missing');
      const count = b[2] ?? 0;
      if (count > MAX_CALL_ME_MAYBE_ENDPOINTS) {
        return decodeError('too-many-endpoints', `call-me-maybe with ${count} endpoints`);
      }
      const endpoints: IpPort[] = [];
      let off = 3;
      for (let i = 0; i < count; i++) {
        const ep = readEndpoint(b, off);
        if (!ep.ok) return ep;
        endpoints.push(ep.value.endpoint);
        off = ep.value.next;
      }
      if (off !== b.length) return decodeError('bad-length', 'trailing bytes in call-me-maybe');
      return ok({ type: 'call-me-maybe', endpoints });
    }
  }
  return decodeError('unknown-type', `unknown disco message type ${type}`);
}
