import { describe, expect, it } from 'vitest';
import type { InterfaceAddress } from '../control-client/hostinfo.js';
import { localEndpoints } from './local-endpoints.js';

describe('localEndpoints', () => {
  const addrs: InterfaceAddress[] = [
    {
      interfaceName: 'lo',
      address: '127.0.0.1',
      family: 'IPv4',
      cidr: '127.0.0.1/8',
      internal: true,
    },
    {
      interfaceName: 'eth0',
      address: '192.0.2.10',
      family: 'IPv4',
      cidr: '192.0.2.10/24',
      internal: false,
    },
    {
      interfaceName: 'eth0',
      address: 'fe80::1',
      family: 'IPv6',
      cidr: 'fe80::1/64',
      internal: false,
    },
    {
      interfaceName: 'eth0',
      address: '2001:db8::10',
      family: 'IPv6',
      cidr: '2001:db8::10/64',
      internal: false,
    },
    {
      interfaceName: 'eth1',
      address: '192.0.2.10',
      family: 'IPv4',
      cidr: '192.0.2.10/24',
      internal: false,
    },
    {
      interfaceName: 'trellis0',
      address: '100.64.0.1',
      family: 'IPv4',
      cidr: '100.64.0.1/32',
      internal: false,
    },
  ];

  it('lists non-loopback, non-link-local addresses with the WireGuard port, once each', () => {
    expect(localEndpoints(addrs, 41641, 'trellis0')).toEqual([
      { addr: '192.0.2.10:41641', type: 'local' },
      { addr: '[2001:db8::10]:41641', type: 'local' },
    ]);
  });

  it('lists nothing without a usable port', () => {
    expect(localEndpoints(addrs, 0, 'trellis0')).toEqual([]);
  });
});
