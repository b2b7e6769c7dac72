/**
 * WireGuard's cross-platform userspace API (wireguard.com/xplatform), spoken to wireguard-go over
 * its Unix socket /var/run/wireguard/<name>.sock: one stream connection per operation, a request
 * `get=1\n\n` or `set=1\n<key=value lines>\n`, and a response of key=value lines ending in
 * `errno=<n>` and a blank line. Keys travel as lowercase hex; here they are converted to and from
 * WireGuard's base64 at the edge, so the rest of the helper only sees base64.
 *
 * The response is untrusted bytes: the parser is total (typed errors, never throws) and the
 * reader stops at a size limit.
 */
import { connect } from 'node:net';
import { ipPortToString, normalizeCidr, parseIpPort } from '../../shared/ip.js';
import { KEY_LENGTH, keyFromBase64, keyToBase64, keyToHex } from '../../shared/keys.js';
import { decodeError, err, ok, type DecodeError, type Result } from '../../shared/result.js';
import type { WgConfigDiff } from './diff.js';
import { WgError, type WgDeviceStats } from './types.js';

/** Where wireguard-go (and every xplatform implementation on Linux) puts its sockets. */
export const WIREGUARD_SOCKET_DIR = '/var/run/wireguard';

export const uapiSocketPath = (name: string): string => `${WIREGUARD_SOCKET_DIR}/${name}.sock`;

/**
 * A get response is ~300 bytes per peer plus ~30 per allowed IP; 16 MiB covers tens of thousands
 * of peers, far past any netmap we serve, while bounding what a broken socket can make us buffer.
 */
export const MAX_UAPI_RESPONSE_BYTES = 16 * 1024 * 1024;
/** wireguard-go answers in microseconds; seconds mean it is wedged. */
export const UAPI_TIMEOUT_MS = 5_000;

export type UapiErrorCode =
  | 'too_large'
  | 'truncated'
  | 'malformed'
  | 'bad_value'
  | 'unexpected_key'
  | 'missing_errno'
  | 'errno';

export interface UapiError extends DecodeError<UapiErrorCode> {
  /** The device's errno when code is 'errno'. */
  readonly errno?: number;
}

export interface UapiPeerState {
  /** base64 */
  readonly publicKey: string;
  readonly endpoint: string | null;
  readonly allowedIps: readonly string[];
  readonly persistentKeepalive: number;
  readonly lastHandshake: Date | null;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface UapiDeviceState {
  /** base64, or null when the device has no private key yet. */
  readonly privateKey: string | null;
  readonly listenPort: number;
  readonly fwmark: number;
  readonly peers: readonly UapiPeerState[];
}

const HEX_KEY_RE = /^[0-9a-fA-F]{64}$/;
const UINT_RE = /^(?:0|[1-9]\d{0,19})$/;
/** A zoned link-local endpoint wireguard-go may have learned from a peer: "[fe80::1%eth0]:5". */
const ZONED_ENDPOINT_RE = /^\[[0-9a-fA-F:]{2,39}%[A-Za-z0-9_.-]{1,15}\]:(?:[1-9]\d{0,4})$/;
/** Largest second count a JavaScript Date holds (±8.64e15 ms). */
const MAX_DATE_SECONDS = 8_640_000_000_000;
const NS_PER_SECOND = 1_000_000_000;

/** Hex key (either case) → base64, or null. */
export function hexKeyToBase64(hex: string): string | null {
  if (!HEX_KEY_RE.test(hex)) return null;
  const bytes = Buffer.from(hex, 'hex');
  return bytes.length === KEY_LENGTH ? keyToBase64(bytes) : null;
}

function parseUint(text: string, max: bigint): bigint | null {
  if (!UINT_RE.test(text)) return null;
  const v = BigInt(text);
  return v <= max ? v : null;
}

const U16 = 0xffffn;
const U32 = 0xffff_ffffn;
const U64 = 0xffff_ffff_ffff_ffffn;

const badValue = (key: string, value: string): Result<never, UapiError> =>
  decodeError('bad_value', `bad ${key} value ${JSON.stringify(value.slice(0, 80))}`);

/**
 * Splits a complete response into key=value pairs and checks the errno trailer. `text` is the
 * whole response including its terminating blank line.
 */
function responseLines(text: string): Result<Array<[string, string]>, UapiError> {
  if (text.length > MAX_UAPI_RESPONSE_BYTES) {
    return decodeError('too_large', `response longer than ${MAX_UAPI_RESPONSE_BYTES} bytes`);
  }
  if (!text.endsWith('\n\n'))
    return decodeError('truncated', 'response does not end in a blank line');
  const lines = text.slice(0, -2).split('\n');
  const pairs: Array<[string, string]> = [];
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) {
      return decodeError(
        'malformed',
        `line without key=value: ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    pairs.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  const last = pairs.pop();
  if (!last || last[0] !== 'errno')
    return decodeError('missing_errno', 'response has no errno line');
  if (pairs.some(([k]) => k === 'errno')) return decodeError('malformed', 'errno before the end');
  const errno = last[1];
  if (errno !== '0') {
    const n = /^-?\d{1,10}$/.test(errno) ? Number(errno) : NaN;
    if (Number.isNaN(n)) return badValue('errno', errno);
    return err({ code: 'errno', message: `device returned errno=${n}`, errno: n });
  }
  return ok(pairs);
}

/** Parses the answer to `set=1`: nothing but `errno=0`. */
export function parseSetResponse(text: string): Result<void, UapiError> {
  const r = responseLines(text);
  if (!r.ok) return r;
  const first = r.value[0];
  if (first) return decodeError('unexpected_key', `unexpected ${first[0]} in a set response`);
  return ok(undefined);
}

interface PeerBuilder {
  publicKey: string;
  endpoint: string | null;
  allowedIps: string[];
  persistentKeepalive: number;
  handshakeSec: bigint;
  handshakeNsec: bigint;
  rxBytes: number;
  txBytes: number;
}

function finishPeer(p: PeerBuilder): Result<UapiPeerState, UapiError> {
  let lastHandshake: Date | null = null;
  if (p.handshakeSec !== 0n || p.handshakeNsec !== 0n) {
    if (p.handshakeSec > BigInt(MAX_DATE_SECONDS) || p.handshakeNsec >= BigInt(NS_PER_SECOND)) {
      return decodeError('bad_value', 'last handshake time out of range');
    }
    lastHandshake = new Date(
      Number(p.handshakeSec) * 1000 + Math.floor(Number(p.handshakeNsec) / 1_000_000),
    );
  }
  return ok({
    publicKey: p.publicKey,
    endpoint: p.endpoint,
    allowedIps: p.allowedIps,
    persistentKeepalive: p.persistentKeepalive,
    lastHandshake,
    rxBytes: p.rxBytes,
    txBytes: p.txBytes,
  });
}

/** Parses the answer to `get=1`. Unknown keys are skipped (newer implementations add some). */
export function parseGetResponse(text: string): Result<UapiDeviceState, UapiError> {
  const r = responseLines(text);
  if (!r.ok) return r;
  let privateKey: string | null = null;
  let listenPort = 0;
  let fwmark = 0;
  const peers: UapiPeerState[] = [];
  const seen = new Set<string>();
  let peer: PeerBuilder | null = null;

  const flush = (): Result<void, UapiError> => {
    if (!peer) return ok(undefined);
    const done = finishPeer(peer);
    if (!done.ok) return done;
    peers.push(done.value);
    peer = null;
    return ok(undefined);
  };

  for (const [key, value] of r.value) {
    switch (key) {
      case 'private_key':
      case 'listen_port':
      case 'fwmark': {
        if (peer) return decodeError('unexpected_key', `${key} inside a peer section`);
        if (key === 'private_key') {
          const b = hexKeyToBase64(value);
          if (!b) return badValue(key, value);
          privateKey = b;
        } else {
          const n = parseUint(value, key === 'listen_port' ? U16 : U32);
          if (n === null) return badValue(key, value);
          if (key === 'listen_port') listenPort = Number(n);
          else fwmark = Number(n);
        }
        break;
      }
      case 'public_key': {
        const f = flush();
        if (!f.ok) return f;
        const b = hexKeyToBase64(value);
        if (!b) return badValue(key, value);
        if (seen.has(b)) return decodeError('bad_value', `peer ${b} listed twice`);
        seen.add(b);
        peer = {
          publicKey: b,
          endpoint: null,
          allowedIps: [],
          persistentKeepalive: 0,
          handshakeSec: 0n,
          handshakeNsec: 0n,
          rxBytes: 0,
          txBytes: 0,
        };
        break;
      }
      default: {
        const current: PeerBuilder | null = peer;
        if (!PEER_KEYS.has(key)) break; // unknown key: forward compatible
        if (!current) return decodeError('unexpected_key', `${key} before any public_key`);
        const applied = applyPeerKey(current, key, value);
        if (!applied.ok) return applied;
      }
    }
  }
  const f = flush();
  if (!f.ok) return f;
  return ok({ privateKey, listenPort, fwmark, peers });
}

const PEER_KEYS = new Set([
  'preshared_key',
  'protocol_version',
  'endpoint',
  'persistent_keepalive_interval',
  'allowed_ip',
  'last_handshake_time_sec',
  'last_handshake_time_nsec',
  'rx_bytes',
  'tx_bytes',
]);

function applyPeerKey(p: PeerBuilder, key: string, value: string): Result<void, UapiError> {
  switch (key) {
    case 'preshared_key':
      if (!HEX_KEY_RE.test(value)) return badValue(key, value);
      return ok(undefined);
    case 'protocol_version':
      if (parseUint(value, U32) === null) return badValue(key, value);
      return ok(undefined);
    case 'endpoint': {
      const ep = parseIpPort(value);
      if (ep.ok) p.endpoint = ipPortToString(ep.value.ip, ep.value.port);
      else if (ZONED_ENDPOINT_RE.test(value)) p.endpoint = value;
      else return badValue(key, value);
      return ok(undefined);
    }
    case 'persistent_keepalive_interval': {
      const n = parseUint(value, U16);
      if (n === null) return badValue(key, value);
      p.persistentKeepalive = Number(n);
      return ok(undefined);
    }
    case 'allowed_ip': {
      const c = normalizeCidr(value);
      if (!c.ok) return badValue(key, value);
      p.allowedIps.push(c.value);
      return ok(undefined);
    }
    default: {
      const n = parseUint(value, U64);
      if (n === null) return badValue(key, value);
      if (key === 'last_handshake_time_sec') p.handshakeSec = n;
      else if (key === 'last_handshake_time_nsec') p.handshakeNsec = n;
      else if (key === 'rx_bytes') p.rxBytes = Number(n);
      else p.txBytes = Number(n);
      return ok(undefined);
    }
  }
}

/** The device state as the backend-neutral stats type. */
export function statsFromState(state: UapiDeviceState): WgDeviceStats {
  return {
    listenPort: state.listenPort,
    peers: state.peers.map((p) => ({
      publicKey: p.publicKey,
      endpoint: p.endpoint,
      lastHandshake: p.lastHandshake,
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
    })),
  };
}

function hexOf(base64: string): Result<string, UapiError> {
  const k = keyFromBase64(base64);
  return k.ok ? ok(keyToHex(k.value)) : decodeError('bad_value', 'not a WireGuard base64 key');
}

/**
 * Encodes a diff as a `set=1` request, ending with the blank line that submits it. The diff's
 * values must come from a canonical config (config.ts); keys are re-checked here because a bad
 * key would otherwise abort the request half-applied.
 */
export function encodeSetRequest(diff: WgConfigDiff): Result<string, UapiError> {
  const lines = ['set=1'];
  if (diff.privateKey !== undefined) {
    const h = hexOf(diff.privateKey);
    if (!h.ok) return h;
    lines.push(`private_key=${h.value}`);
  }
  if (diff.listenPort !== undefined) lines.push(`listen_port=${diff.listenPort}`);
  if (diff.fwmark !== undefined) lines.push(`fwmark=${diff.fwmark}`);
  if (diff.replacePeers) lines.push('replace_peers=true');
  for (const change of diff.peers) {
    const h = hexOf(change.publicKey);
    if (!h.ok) return h;
    lines.push(`public_key=${h.value}`);
    switch (change.kind) {
      case 'remove':
        lines.push('remove=true');
        break;
      case 'add':
        if (change.endpoint !== null) lines.push(`endpoint=${change.endpoint}`);
        lines.push('replace_allowed_ips=true');
        for (const ip of change.allowedIps) lines.push(`allowed_ip=${ip}`);
        if (change.persistentKeepalive !== 0) {
          lines.push(`persistent_keepalive_interval=${change.persistentKeepalive}`);
        }
        break;
      case 'update':
        // Must directly follow public_key: it turns "create or update" into "update only".
        lines.push('update_only=true');
        if (change.endpoint !== undefined) lines.push(`endpoint=${change.endpoint}`);
        if (change.allowedIps !== undefined) {
          lines.push('replace_allowed_ips=true');
          for (const ip of change.allowedIps) lines.push(`allowed_ip=${ip}`);
        }
        if (change.persistentKeepalive !== undefined) {
          lines.push(`persistent_keepalive_interval=${change.persistentKeepalive}`);
        }
        break;
    }
  }
  // Defence in depth: no value may smuggle a line break into the protocol.
  if (lines.some((l) => /[\r\n]/.test(l)))
    return decodeError('bad_value', 'value contains a newline');
  return ok(`${lines.join('\n')}\n\n`);
}

export interface UapiExchangeOptions {
  readonly timeoutMs?: number;
  readonly maxResponseBytes?: number;
}

/**
 * Sends one request on a fresh connection and returns the raw response through its blank line.
 * Rejects with WgError: 'uapi_unreachable' (no socket, refused, timeout) or 'uapi_error'.
 */
export function uapiExchange(
  socketPath: string,
  request: string,
  options: UapiExchangeOptions = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? UAPI_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? MAX_UAPI_RESPONSE_BYTES;
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const chunks: Buffer[] = [];
    let length = 0;
    let lastByte = -1;
    let done = false;
    const finish = (e: WgError | null, text?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (e) reject(e);
      else resolve(text ?? '');
    };
    const timer = setTimeout(
      () => finish(new WgError('uapi_unreachable', `${socketPath}: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('connect', () => sock.write(request));
    sock.on('data', (chunk: Buffer) => {
      const before = length;
      length += chunk.length;
      if (length > maxBytes) {
        finish(new WgError('uapi_error', `${socketPath}: response longer than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
      // The response ends at its first blank line, which may straddle two chunks.
      const NL = 0x0a;
      let end = lastByte === NL && chunk[0] === NL ? before + 1 : -1;
      if (end < 0) {
        const i = chunk.indexOf('\n\n');
        if (i >= 0) end = before + i + 2;
      }
      lastByte = chunk[chunk.length - 1] ?? lastByte;
      if (end >= 0) finish(null, Buffer.concat(chunks).subarray(0, end).toString('utf8'));
    });
    sock.on('end', () =>
      finish(new WgError('uapi_error', `${socketPath}: connection closed mid-response`)),
    );
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const unreachable = e.code === 'ENOENT' || e.code === 'ECONNREFUSED';
      finish(
        new WgError(unreachable ? 'uapi_unreachable' : 'uapi_error', `${socketPath}: ${e.message}`),
      );
    });
  });
}

const uapiFailure = (socketPath: string, e: UapiError): WgError =>
  new WgError('uapi_error', `${socketPath}: ${e.message}`);

/** `get=1`: the device's current state. Rejects with WgError. */
export async function uapiGet(
  socketPath: string,
  options?: UapiExchangeOptions,
): Promise<UapiDeviceState> {
  const text = await uapiExchange(socketPath, 'get=1\n\n', options);
  const r = parseGetResponse(text);
  if (!r.ok) throw uapiFailure(socketPath, r.error);
  return r.value;
}

/** `set=1` with an encoded request (encodeSetRequest). Rejects with WgError. */
export async function uapiSet(
  socketPath: string,
  request: string,
  options?: UapiExchangeOptions,
): Promise<void> {
  const text = await uapiExchange(socketPath, request, options);
  const r = parseSetResponse(text);
  if (!r.ok) throw uapiFailure(socketPath, r.error);
}
