/**
 * An in-memory model of the device side of the UAPI: applies `set=1` requests with wireguard-go's
 * semantics and writes `get=1` responses in its format. The fake backend runs every diff through
 * it, so unit tests exercise the same encoder and the same peer semantics (update_only, remove,
 * replace_allowed_ips, allowed IPs moving between peers) that the real device applies.
 */
import { normalizeCidr, parseIpPort, ipPortToString } from '../../shared/ip.js';
import { keyFromBase64, keyToHex } from '../../shared/keys.js';
import { decodeError, err, ok, type Result } from '../../shared/result.js';
import {
  hexKeyToBase64,
  type UapiDeviceState,
  type UapiError,
  type UapiPeerState,
} from './uapi.js';

/** wireguard-go answers an invalid request with -EINVAL. */
export const UAPI_EINVAL = -22;

export const emptyDeviceState = (listenPort = 0): UapiDeviceState => ({
  privateKey: null,
  listenPort,
  fwmark: 0,
  peers: [],
});

type MutablePeer = { -readonly [K in keyof UapiPeerState]: UapiPeerState[K] } & {
  allowedIps: string[];
};

const invalid = (message: string): Result<never, UapiError> =>
  err({ code: 'errno', message, errno: UAPI_EINVAL });

const PORT_MAX = 0xffff;
const FWMARK_MAX = 0xffff_ffff;
const UINT_RE = /^(?:0|[1-9]\d{0,9})$/;

function uint(value: string, max: number): number | null {
  if (!UINT_RE.test(value)) return null;
  const n = Number(value);
  return n <= max ? n : null;
}

/** Applies one complete `set=1` request (through its blank line) to `state`. Pure. */
export function applySetRequest(
  state: UapiDeviceState,
  request: string,
): Result<UapiDeviceState, UapiError> {
  if (!request.startsWith('set=1\n') || !request.endsWith('\n\n')) {
    return decodeError('malformed', 'not a complete set=1 request');
  }
  const lines = request
    .slice('set=1\n'.length, -2)
    .split('\n')
    .filter((l) => l !== '');
  let privateKey = state.privateKey;
  let listenPort = state.listenPort;
  let fwmark = state.fwmark;
  const peers = new Map<string, MutablePeer>(
    state.peers.map((p) => [p.publicKey, { ...p, allowedIps: [...p.allowedIps] }]),
  );
  // The peer lines refer to; null while in the device section or after remove/update_only.
  let current: MutablePeer | null = null;
  let inPeers = false;
  let justCreated = false;

  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) return invalid(`bad line ${JSON.stringify(line)}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (!inPeers) {
      switch (key) {
        case 'private_key': {
          const b = hexKeyToBase64(value);
          if (!b) return invalid('bad private_key');
          privateKey = /^0+$/.test(value) ? null : b;
          continue;
        }
        case 'listen_port': {
          const n = uint(value, PORT_MAX);
          if (n === null) return invalid('bad listen_port');
          listenPort = n;
          continue;
        }
        case 'fwmark': {
          const n = uint(value, FWMARK_MAX);
          if (n === null) return invalid('bad fwmark');
          fwmark = n;
          continue;
        }
        case 'replace_peers':
          if (value !== 'true') return invalid('bad replace_peers');
          peers.clear();
          continue;
        case 'public_key':
          inPeers = true;
          break;
        default:
          return invalid(`unknown device key ${key}`);
      }
    }
    if (key === 'public_key') {
      const b = hexKeyToBase64(value);
      if (!b) return invalid('bad public_key');
      const existing = peers.get(b);
      justCreated = existing === undefined;
      current = existing ?? {
        publicKey: b,
        endpoint: null,
        allowedIps: [],
        persistentKeepalive: 0,
        lastHandshake: null,
        rxBytes: 0,
        txBytes: 0,
      };
      peers.set(b, current);
      continue;
    }
    switch (key) {
      case 'update_only':
        if (value !== 'true') return invalid('bad update_only');
        // Only valid straight after public_key: undo the creation it would otherwise have done.
        if (current && justCreated) {
          peers.delete(current.publicKey);
          current = null;
        }
        continue;
      case 'remove':
        if (value !== 'true') return invalid('bad remove');
        if (current) peers.delete(current.publicKey);
        current = null;
        continue;
    }
    justCreated = false;
    switch (key) {
      case 'endpoint': {
        const ep = parseIpPort(value);
        if (!ep.ok) return invalid('bad endpoint');
        if (current) current.endpoint = ipPortToString(ep.value.ip, ep.value.port);
        continue;
      }
      case 'persistent_keepalive_interval': {
        const n = uint(value, PORT_MAX);
        if (n === null) return invalid('bad persistent_keepalive_interval');
        if (current) current.persistentKeepalive = n;
        continue;
      }
      case 'replace_allowed_ips':
        if (value !== 'true') return invalid('bad replace_allowed_ips');
        if (current) current.allowedIps = [];
        continue;
      case 'allowed_ip': {
        const c = normalizeCidr(value);
        if (!c.ok) return invalid('bad allowed_ip');
        if (current) {
          // An allowed IP belongs to one peer: adding it elsewhere moves it.
          for (const p of peers.values()) p.allowedIps = p.allowedIps.filter((x) => x !== c.value);
          current.allowedIps.push(c.value);
        }
        continue;
      }
      case 'preshared_key':
      case 'protocol_version':
        continue;
      default:
        return invalid(`unknown peer key ${key}`);
    }
  }
  return ok({ privateKey, listenPort, fwmark, peers: [...peers.values()] });
}

/** Writes `state` as wireguard-go answers `get=1` (keys in hex, errno trailer, blank line). */
export function encodeGetResponse(state: UapiDeviceState): string {
  const lines: string[] = [];
  const hex = (b64: string): string => {
    const k = keyFromBase64(b64);
    if (!k.ok) throw new RangeError('state holds an invalid key');
    return keyToHex(k.value);
  };
  if (state.privateKey !== null) lines.push(`private_key=${hex(state.privateKey)}`);
  if (state.listenPort !== 0) lines.push(`listen_port=${state.listenPort}`);
  if (state.fwmark !== 0) lines.push(`fwmark=${state.fwmark}`);
  for (const p of state.peers) {
    lines.push(`public_key=${hex(p.publicKey)}`, 'protocol_version=1');
    if (p.endpoint !== null) lines.push(`endpoint=${p.endpoint}`);
    const ms = p.lastHandshake?.getTime() ?? 0;
    lines.push(
      `last_handshake_time_sec=${Math.floor(ms / 1000)}`,
      `last_handshake_time_nsec=${(ms % 1000) * 1_000_000}`,
      `tx_bytes=${p.txBytes}`,
      `rx_bytes=${p.rxBytes}`,
      `persistent_keepalive_interval=${p.persistentKeepalive}`,
    );
    for (const ip of p.allowedIps) lines.push(`allowed_ip=${ip}`);
  }
  lines.push('errno=0');
  return `${lines.join('\n')}\n\n`;
}
