/**
 * Validation and canonical form of a WireGuard interface config before it reaches a device.
 *
 * Every backend diffs canonical configs: allowed IPs masked, deduplicated and sorted, endpoints
 * in canonical text, peers sorted by key. Two spellings of the same config therefore produce an
 * empty diff, and nothing that reaches the UAPI text protocol or `wg` arguments can carry a
 * newline or other syntax of its own (every value has passed a strict grammar here).
 */
import { ipPortToString, normalizeCidr, parseIpPort } from '../../shared/ip.js';
import { keyFromBase64, keysEqual, publicKeyFromPrivate } from '../../shared/keys.js';
import { decodeError, ok, type DecodeError, type Result } from '../../shared/result.js';
import type { WgInterfaceConfig, WgPeerConfig } from './types.js';

export type WgConfigError = DecodeError<'bad_config'>;

const MAX_PORT = 0xffff;
const MAX_FWMARK = 0xffff_ffff;
/** WireGuard stores the keepalive interval as a 16-bit number of seconds. */
const MAX_KEEPALIVE = 0xffff;

const isUint = (n: number, max: number): boolean => Number.isInteger(n) && n >= 0 && n <= max;

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Validates `config` and returns its canonical form (see the module comment). */
export function canonicalWgConfig(
  config: WgInterfaceConfig,
): Result<WgInterfaceConfig, WgConfigError> {
  const priv = keyFromBase64(config.privateKey);
  if (!priv.ok) return decodeError('bad_config', 'private key is not a WireGuard base64 key');
  if (!isUint(config.listenPort, MAX_PORT)) {
    return decodeError('bad_config', `listen port must be 0-${MAX_PORT}, got ${config.listenPort}`);
  }
  if (!isUint(config.fwmark, MAX_FWMARK)) {
    return decodeError(
      'bad_config',
      `fwmark must be a 32-bit unsigned integer, got ${config.fwmark}`,
    );
  }
  const ownPublic = publicKeyFromPrivate(priv.value);
  const seen = new Set<string>();
  // An allowed IP routes to exactly one peer; WireGuard would silently give it to whichever peer
  // was written last, which a diff can reorder. The caller must pick one (e.g. a failover router).
  const owner = new Map<string, string>();
  const peers: WgPeerConfig[] = [];
  for (const peer of config.peers) {
    const r = canonicalPeer(peer);
    if (!r.ok) return r;
    if (seen.has(r.value.publicKey)) {
      return decodeError('bad_config', `peer ${r.value.publicKey} is listed twice`);
    }
    seen.add(r.value.publicKey);
    // WireGuard silently drops a peer whose key is the device's own; say so instead.
    const pub = keyFromBase64(r.value.publicKey);
    if (pub.ok && keysEqual(pub.value, ownPublic)) {
      return decodeError('bad_config', 'a peer has the device’s own public key');
    }
    for (const ip of r.value.allowedIps) {
      const other = owner.get(ip);
      if (other !== undefined) {
        return decodeError(
          'bad_config',
          `allowed IP ${ip} is given to peers ${other} and ${r.value.publicKey}`,
        );
      }
      owner.set(ip, r.value.publicKey);
    }
    peers.push(r.value);
  }
  peers.sort((a, b) => byString(a.publicKey, b.publicKey));
  return ok({
    privateKey: config.privateKey,
    listenPort: config.listenPort,
    fwmark: config.fwmark,
    peers,
  });
}

export function canonicalPeer(peer: WgPeerConfig): Result<WgPeerConfig, WgConfigError> {
  if (!keyFromBase64(peer.publicKey).ok) {
    return decodeError('bad_config', 'peer public key is not a WireGuard base64 key');
  }
  let endpoint: string | null = null;
  if (peer.endpoint !== null) {
    const ep = parseIpPort(peer.endpoint);
    if (!ep.ok) {
      return decodeError('bad_config', `peer ${peer.publicKey} endpoint: ${ep.error.message}`);
    }
    endpoint = ipPortToString(ep.value.ip, ep.value.port);
  }
  const allowed = new Set<string>();
  for (const cidr of peer.allowedIps) {
    const c = normalizeCidr(cidr);
    if (!c.ok) {
      return decodeError('bad_config', `peer ${peer.publicKey} allowed IP: ${c.error.message}`);
    }
    allowed.add(c.value);
  }
  if (!isUint(peer.persistentKeepalive, MAX_KEEPALIVE)) {
    return decodeError(
      'bad_config',
      `peer ${peer.publicKey} keepalive must be 0-${MAX_KEEPALIVE} seconds`,
    );
  }
  return ok({
    publicKey: peer.publicKey,
    endpoint,
    allowedIps: [...allowed].sort(byString),
    persistentKeepalive: peer.persistentKeepalive,
  });
}
