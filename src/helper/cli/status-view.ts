/** The human form of a Status: a header about this device, a peer table, health warnings. */
import type { BackendState, PeerStatus, Status } from '../../shared/schema/localapi.js';
import { formatAgo, formatBytes, formatLatency, renderTable } from './format.js';

export const PEER_TABLE_HEADER = [
  'NAME',
  'IP',
  'OS',
  'ONLINE',
  'PATH',
  'ENDPOINT',
  'LATENCY',
  'HANDSHAKE',
  'RX/TX',
] as const;

export function describeBackend(b: BackendState): string {
  switch (b.state) {
    case 'needs-login':
      return b.loginUrl ? `needs login (visit ${b.loginUrl})` : 'needs login (run: trellis up)';
    case 'needs-approval':
      return 'waiting for an admin to approve this device';
    case 'stopped':
      return 'stopped (run: trellis up)';
    case 'starting':
      return 'starting';
    case 'running':
      return 'running';
    case 'error':
      return `error: ${b.message}`;
  }
}

function pathCells(p: PeerStatus): [string, string] {
  switch (p.path.type) {
    case 'direct':
      return [p.path.fastPath ? 'direct+fast' : 'direct', p.path.endpoint];
    case 'relay':
      return [`relay #${p.path.region}`, '-'];
    case 'none':
      return ['-', '-'];
  }
}

export function peerRows(peers: readonly PeerStatus[], now: Date): string[][] {
  return peers.map((p) => {
    const [path, endpoint] = pathCells(p);
    return [
      p.name,
      p.addresses.ipv4,
      p.os,
      p.online ? 'yes' : 'no',
      path,
      endpoint,
      p.latencyMs === null ? '-' : formatLatency(p.latencyMs),
      formatAgo(p.lastHandshake, now),
      `${formatBytes(p.rxBytes)} / ${formatBytes(p.txBytes)}`,
    ];
  });
}

export function renderStatus(s: Status, now: Date): string {
  const lines: string[] = [];
  const control = s.controlUrl
    ? `${s.controlUrl}, ${s.controlConnected ? 'connected' : 'not connected'}`
    : 'none';
  lines.push(`State:    ${describeBackend(s.backend)}`);
  lines.push(`Control:  ${control}`);
  if (s.self) {
    lines.push(`Device:   ${s.self.fqdn}  ${s.self.addresses.ipv4}  ${s.self.addresses.ipv6}`);
  }
  if (s.network)
    lines.push(
      `Network:  ${s.network.name} (${s.network.domain})${s.user ? `, signed in as ${s.user.email ?? s.user.name}` : ''}`,
    );
  lines.push('');
  lines.push(s.peers.length ? renderTable(PEER_TABLE_HEADER, peerRows(s.peers, now)) : 'No peers.');
  if (s.health.length) {
    lines.push('');
    for (const h of s.health) lines.push(`# ${h.severity}: ${h.message}`);
  }
  return lines.join('\n');
}
