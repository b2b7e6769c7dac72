import { describe, expect, it } from 'vitest';
import type { NetcheckReport } from '../../shared/schema/localapi.js';
import { renderNetcheck } from './netcheck-view.js';

const easy: NetcheckReport = {
  udp: true,
  ipv4: true,
  ipv6: false,
  globalV4: '198.51.100.7:41641',
  globalV6: null,
  mappingVariesByDest: false,
  preferredRegion: 2,
  regionLatencies: { '1': 48, '2': 12.34 },
  portMapping: null,
  measuredAt: '2026-01-02T03:04:05.000Z',
};

describe('renderNetcheck', () => {
  it('shows reflexive addresses, the NAT and latencies from nearest to farthest', () => {
    expect(renderNetcheck(easy)).toBe(
      [
        'Report:',
        '  UDP:               yes',
        '  IPv4:              yes, 198.51.100.7:41641',
        '  IPv6:              no',
        '  Hard NAT:          no',
        '  Port mapping:      not checked',
        '  Preferred region:  2',
        '  Region latencies:',
        '    2:     12.3ms',
        '    1:     48.0ms',
        '',
      ].join('\n'),
    );
  });

  it('explains hard NAT, blocked UDP (HTTP latencies) and an unknown mapping', () => {
    const hard = renderNetcheck({ ...easy, mappingVariesByDest: true });
    expect(hard).toContain('Hard NAT:          yes (the public port differs per destination');
    const blocked = renderNetcheck({
      ...easy,
      udp: false,
      ipv4: false,
      globalV4: null,
      mappingVariesByDest: null,
      regionLatencies: { '1': 30 },
      preferredRegion: 1,
    });
    expect(blocked).toContain('UDP:               no (blocked?');
    expect(blocked).toContain('Hard NAT:          unknown');
    expect(blocked).toContain('  Region latencies (HTTP):\n    1:     30.0ms\n');
    const nothing = renderNetcheck({ ...easy, regionLatencies: {}, preferredRegion: null });
    expect(nothing).toContain('Preferred region:  none');
    expect(nothing).toContain('Region latencies:  none');
  });

  it('names the port-mapping protocols the gateway speaks and the mapped endpoint', () => {
    const mapped = renderNetcheck({
      ...easy,
      portMapping: { upnp: false, natPmp: true, pcp: true },
      portMapped: '192.0.3.100:41641',
    });
    expect(mapped).toContain(
      '  Port mapping:      NAT-PMP, PCP\n  Port mapped:       192.0.3.100:41641\n',
    );
    const none = renderNetcheck({
      ...easy,
      portMapping: { upnp: false, natPmp: false, pcp: false },
    });
    expect(none).toContain('  Port mapping:      none\n  Preferred region:');
  });
});
