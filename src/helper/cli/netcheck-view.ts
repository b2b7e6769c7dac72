/** `trellis netcheck`: a netcheck report as text a person can act on. */
import type { NetcheckReport } from '../../shared/schema/localapi.js';
import { portMappingProtocols } from '../../shared/schema/netcheck.js';

export function renderNetcheck(r: NetcheckReport): string {
  const lines = ['Report:'];
  const row = (label: string, value: string) => lines.push(`  ${`${label}:`.padEnd(19)}${value}`);
  row(
    'UDP',
    r.udp ? 'yes' : 'no (blocked? peers will be reached through relays; latencies are over HTTP)',
  );
  row('IPv4', r.ipv4 ? `yes, ${r.globalV4 ?? 'no reflexive address'}` : 'no');
  row('IPv6', r.ipv6 ? `yes, ${r.globalV6 ?? 'no reflexive address'}` : 'no');
  row(
    'Hard NAT',
    r.mappingVariesByDest === null
      ? 'unknown (fewer than two STUN servers answered)'
      : r.mappingVariesByDest
        ? 'yes (the public port differs per destination: direct paths need an easy NAT on the other side)'
        : 'no',
  );
  row('Port mapping', r.portMapping === null ? 'not checked' : portMapping(r.portMapping));
  if (r.portMapped) row('Port mapped', r.portMapped);
  row('Preferred region', r.preferredRegion === null ? 'none' : String(r.preferredRegion));
  const latencies = Object.entries(r.regionLatencies).sort((a, b) => a[1] - b[1]);
  if (latencies.length === 0) {
    row('Region latencies', 'none (no relay region answered)');
  } else {
    lines.push(`  Region latencies${r.udp ? '' : ' (HTTP)'}:`);
    for (const [id, ms] of latencies) lines.push(`    ${`${id}:`.padEnd(7)}${ms.toFixed(1)}ms`);
  }
  return `${lines.join('\n')}\n`;
}

function portMapping(p: NonNullable<NetcheckReport['portMapping']>): string {
  return portMappingProtocols(p).join(', ') || 'none';
}
