/**
 * Parser for `wg show <name> dump`, the machine-readable state of a kernel WireGuard device:
 * a tab-separated first line for the interface (private key, public key, listen port, fwmark),
 * then one line per peer (public key, preshared key, endpoint, allowed IPs, latest handshake in
 * Unix seconds, rx bytes, tx bytes, persistent keepalive), "(none)"/"off" for empty fields.
 * Total: typed errors, never throws, bounded by the input it is given.
 */
import { ipPortToString, normalizeCidr, parseIpPort } from '../../shared/ip.js';
import { keyFromBase64 } from '../../shared/keys.js';
import { decodeError, ok, type DecodeError, type Result } from '../../shared/result.js';
import type { UapiDeviceState, UapiPeerState } from './uapi.js';

export type WgDumpErrorCode = 'too_large' | 'malformed' | 'bad_value';
export type WgDumpError = DecodeError<WgDumpErrorCode>;

/** A dump line is ~200 bytes per peer plus ~20 per allowed IP; same bound as the UAPI reader. */
export const MAX_WG_DUMP_CHARS = 16 * 1024 * 1024;

const UINT_RE = /^(?:0|[1-9]\d{0,19})$/;
/** Largest second count a JavaScript Date holds. */
const MAX_DATE_SECONDS = 8_640_000_000_000;

const bad = (what: string, value: string): Result<never, WgDumpError> =>
  decodeError('bad_value', `bad ${what} ${JSON.stringify(value.slice(0, 80))}`);

function uint(text: string, max: number): number | null {
  if (!UINT_RE.test(text)) return null;
  const n = Number(text);
  return n <= max ? n : null;
}

const isKey = (s: string): boolean => keyFromBase64(s).ok;

function parsePeer(fields: string[]): Result<UapiPeerState, WgDumpError> {
  const [
    pub = '',
    psk = '',
    endpoint = '',
    allowed = '',
    handshake = '',
    rx = '',
    tx = '',
    ka = '',
  ] = fields;
  if (!isKey(pub)) return bad('peer public key', pub);
  if (psk !== '(none)' && !isKey(psk)) return bad('preshared key', psk);
  let ep: string | null = null;
  if (endpoint !== '(none)') {
    const r = parseIpPort(endpoint);
    if (!r.ok) return bad('endpoint', endpoint);
    ep = ipPortToString(r.value.ip, r.value.port);
  }
  const allowedIps: string[] = [];
  if (allowed !== '(none)') {
    for (const c of allowed.split(',')) {
      const r = normalizeCidr(c);
      if (!r.ok) return bad('allowed IP', c);
      allowedIps.push(r.value);
    }
  }
  const hs = uint(handshake, MAX_DATE_SECONDS);
  if (hs === null) return bad('latest handshake', handshake);
  const rxBytes = uint(rx, Number.MAX_VALUE);
  const txBytes = uint(tx, Number.MAX_VALUE);
  if (rxBytes === null) return bad('rx bytes', rx);
  if (txBytes === null) return bad('tx bytes', tx);
  const keepalive = ka === 'off' ? 0 : uint(ka, 0xffff);
  if (keepalive === null) return bad('persistent keepalive', ka);
  return ok({
    publicKey: pub,
    endpoint: ep,
    allowedIps,
    persistentKeepalive: keepalive,
    lastHandshake: hs === 0 ? null : new Date(hs * 1000),
    rxBytes,
    txBytes,
  });
}

/** Parses the dump; the private key is read for validation but not returned. */
export function parseWgDump(text: string): Result<UapiDeviceState, WgDumpError> {
  if (text.length > MAX_WG_DUMP_CHARS) return decodeError('too_large', 'dump too large');
  const lines = text.split('\n').filter((l) => l !== '');
  const [head, ...rest] = lines;
  if (head === undefined) return decodeError('malformed', 'empty dump');
  const h = head.split('\t');
  if (h.length !== 4) return decodeError('malformed', 'interface line must have 4 fields');
  const [priv = '', pub = '', port = '', mark = ''] = h;
  if (priv !== '(none)' && !isKey(priv)) return bad('private key', priv);
  if (pub !== '(none)' && !isKey(pub)) return bad('public key', pub);
  const listenPort = uint(port, 0xffff);
  if (listenPort === null) return bad('listen port', port);
  const fwmark = mark === 'off' ? 0 : uint(mark, 0xffff_ffff);
  if (fwmark === null) return bad('fwmark', mark);
  const peers: UapiPeerState[] = [];
  const seen = new Set<string>();
  for (const line of rest) {
    const f = line.split('\t');
    if (f.length !== 8) return decodeError('malformed', 'peer line must have 8 fields');
    const p = parsePeer(f);
    if (!p.ok) return p;
    if (seen.has(p.value.publicKey)) return bad('duplicate peer', p.value.publicKey);
    seen.add(p.value.publicKey);
    peers.push(p.value);
  }
  return ok({ privateKey: null, listenPort, fwmark, peers });
}
