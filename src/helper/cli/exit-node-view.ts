/** `trellis exit-node list` and `suggest` as text. */
import type { ExitNodeSuggestion, Status } from '../../shared/schema/localapi.js';
import { renderTable } from './format.js';

export const EXIT_NODE_TABLE_HEADER = ['NAME', 'IP', 'ONLINE', 'LATENCY', 'IN USE'] as const;

export function renderExitNodes(s: Status): string {
  const nodes = s.peers.filter((p) => p.exitNodeOption);
  if (nodes.length === 0) return 'No exit nodes are offered to this device.\n';
  const rows = nodes.map((p) => [
    p.name,
    p.addresses.ipv4,
    p.online ? 'yes' : 'no',
    p.latencyMs === null ? '-' : `${p.latencyMs.toFixed(1)}ms`,
    p.exitNode ? (s.exitNode?.allowLAN ? 'yes (LAN allowed)' : 'yes') : '',
  ]);
  const lines = [renderTable(EXIT_NODE_TABLE_HEADER, rows)];
  const problem = s.health.find((h) => h.code === 'exit-node-unavailable');
  if (problem) lines.push('', `# ${problem.severity}: ${problem.message}`);
  return `${lines.join('\n')}\n`;
}

export function renderSuggestion(r: ExitNodeSuggestion): string {
  const s = r.suggestion;
  if (!s) return 'No exit node is online.\n';
  const latency = s.latencyMs === null ? '' : ` (${s.latencyMs.toFixed(1)}ms)`;
  return `Suggested exit node: ${s.name}${latency}: ${s.reason}\nUse it with: trellis set --exit-node=${s.name}\n`;
}
