/** Display helpers for values from the helper. */
import type { HelperConnection } from '../../shared/schema/ipc.js';
import type { PeerPath, PeerStatus } from '../../shared/schema/localapi.js';

export const latency = (ms: number | null): string => (ms === null ? '—' : `${Math.round(ms)} ms`);

export function pathLabel(p: PeerPath): string {
  switch (p.type) {
    case 'direct':
      return 'direct';
    case 'relay':
      return `relayed (region ${p.region})`;
    case 'none':
      return 'no path';
  }
}

export const ownerLabel = (p: Pick<PeerStatus, 'owner'>): string =>
  p.owner.type === 'user'
    ? (p.owner.user.email ?? p.owner.user.displayName)
    : p.owner.tags.join(', ');

export const OS_NAMES: Readonly<Record<string, string>> = {
  linux: 'Linux',
  windows: 'Windows',
  macos: 'macOS',
  ios: 'iOS',
  android: 'Android',
  freebsd: 'FreeBSD',
  other: 'Other',
};

export function connectionTitle(c: HelperConnection): string {
  switch (c.state) {
    case 'helper-unavailable':
      return 'Helper not available';
    case 'needs-login':
      return 'Signed out';
    case 'needs-approval':
      return 'Waiting for approval';
    case 'disconnected':
      return 'Disconnected';
    case 'connecting':
      return 'Connecting…';
    case 'connected':
      return c.exitNode ? `Connected via ${c.exitNode.name}` : 'Connected';
    case 'error':
      return 'Error';
  }
}

export const bytes = (n: number): string => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
};
