/**
 * The smallest set of changes that takes a WireGuard device from one config to the next.
 *
 * Diffs are what keep tunnels alive across netmap changes: a peer whose endpoint, allowed IPs
 * and keepalive are unchanged is not touched at all, so its session and handshake survive; a
 * changed peer is updated in place (UAPI `update_only`), never removed and re-added. Only the
 * first apply (no previous config) replaces the whole peer list, which also clears whatever a
 * crashed predecessor left on an adopted device.
 *
 * Inputs are canonical configs (config.ts): allowed IPs sorted and normalised, peers unique.
 * The output is backend-neutral: uapi.ts encodes it for wireguard-go, kernel.ts as `wg` commands.
 */
import type { WgInterfaceConfig, WgPeerConfig } from './types.js';

export interface WgPeerAdd {
  readonly kind: 'add';
  readonly publicKey: string;
  readonly endpoint: string | null;
  readonly allowedIps: readonly string[];
  readonly persistentKeepalive: number;
}

/** Only the fields present changed. */
export interface WgPeerUpdate {
  readonly kind: 'update';
  readonly publicKey: string;
  readonly endpoint?: string;
  /** The full new list (replaces the old one). */
  readonly allowedIps?: readonly string[];
  readonly persistentKeepalive?: number;
}

export interface WgPeerRemove {
  readonly kind: 'remove';
  readonly publicKey: string;
}

export type WgPeerChange = WgPeerAdd | WgPeerUpdate | WgPeerRemove;

export interface WgConfigDiff {
  /** Drop every peer the device has before applying `peers` (first apply only). */
  readonly replacePeers: boolean;
  readonly privateKey?: string;
  readonly listenPort?: number;
  readonly fwmark?: number;
  /** Removals first, then additions, then updates; each group sorted by key. */
  readonly peers: readonly WgPeerChange[];
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

const byKey = (a: { publicKey: string }, b: { publicKey: string }): number =>
  a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0;

function addOf(p: WgPeerConfig): WgPeerAdd {
  return {
    kind: 'add',
    publicKey: p.publicKey,
    endpoint: p.endpoint,
    allowedIps: p.allowedIps,
    persistentKeepalive: p.persistentKeepalive,
  };
}

/** The update that takes `prev` to `next`, or null when the peer is unchanged. */
function peerUpdate(prev: WgPeerConfig, next: WgPeerConfig): WgPeerUpdate | null {
  // WireGuard cannot forget an endpoint; a config that stops naming one lets the device keep
  // the one it has (or has learned from the peer's packets), so null never produces an update.
  const endpoint =
    next.endpoint !== null && next.endpoint !== prev.endpoint ? next.endpoint : undefined;
  const allowedIps = sameList(prev.allowedIps, next.allowedIps) ? undefined : next.allowedIps;
  const persistentKeepalive =
    prev.persistentKeepalive === next.persistentKeepalive ? undefined : next.persistentKeepalive;
  if (endpoint === undefined && allowedIps === undefined && persistentKeepalive === undefined) {
    return null;
  }
  return {
    kind: 'update',
    publicKey: next.publicKey,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(allowedIps !== undefined ? { allowedIps } : {}),
    ...(persistentKeepalive !== undefined ? { persistentKeepalive } : {}),
  };
}

/** Computes the changes from `prev` (null: nothing applied yet) to `next`. Pure. */
export function diffWgConfig(
  prev: WgInterfaceConfig | null,
  next: WgInterfaceConfig,
): WgConfigDiff {
  if (prev === null) {
    return {
      replacePeers: true,
      privateKey: next.privateKey,
      // 0 means "any port": the device already picked one when it was created.
      ...(next.listenPort !== 0 ? { listenPort: next.listenPort } : {}),
      // Always set, so a mark left on an adopted device does not survive.
      fwmark: next.fwmark,
      peers: [...next.peers].sort(byKey).map(addOf),
    };
  }
  const before = new Map(prev.peers.map((p) => [p.publicKey, p]));
  const after = new Map(next.peers.map((p) => [p.publicKey, p]));
  const removed: WgPeerRemove[] = [];
  const added: WgPeerAdd[] = [];
  const updated: WgPeerUpdate[] = [];
  for (const key of before.keys()) {
    if (!after.has(key)) removed.push({ kind: 'remove', publicKey: key });
  }
  for (const [key, p] of after) {
    const old = before.get(key);
    if (old === undefined) {
      added.push(addOf(p));
    } else {
      const u = peerUpdate(old, p);
      if (u) updated.push(u);
    }
  }
  return {
    replacePeers: false,
    ...(next.privateKey !== prev.privateKey ? { privateKey: next.privateKey } : {}),
    ...(next.listenPort !== prev.listenPort ? { listenPort: next.listenPort } : {}),
    ...(next.fwmark !== prev.fwmark ? { fwmark: next.fwmark } : {}),
    peers: [...removed.sort(byKey), ...added.sort(byKey), ...updated.sort(byKey)],
  };
}

/** Whether applying the diff would change nothing (so no device call is needed). */
export function isEmptyDiff(d: WgConfigDiff): boolean {
  return (
    !d.replacePeers &&
    d.privateKey === undefined &&
    d.listenPort === undefined &&
    d.fwmark === undefined &&
    d.peers.length === 0
  );
}
