import { describe, expect, it } from 'vitest';
import { defaultGatewayFromProcRoute } from './gateway.js';

const HEADER =
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';

describe('defaultGatewayFromProcRoute', () => {
  it('reads the default route with the lowest metric (little-endian hex)', () => {
    const text = [
      HEADER,
      'eth0\t0001000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0',
      'eth0\t00000000\t0100010A\t0003\t0\t0\t100\t00000000\t0\t0\t0',
    ].join('\n');
    expect(defaultGatewayFromProcRoute(text)).toBe('10.1.0.1');
  });

  it('is null without a default route through a gateway, or on garbage', () => {
    expect(defaultGatewayFromProcRoute(HEADER)).toBeNull();
    // A default route on a point-to-point link has no gateway flag.
    expect(
      defaultGatewayFromProcRoute(`${HEADER}\ntun0\t00000000\t00000000\t0001\t0\t0\t0\t00000000`),
    ).toBeNull();
    expect(defaultGatewayFromProcRoute('garbage\n\x00\x01 zz')).toBeNull();
  });
});
