/** Host facts for daemon tests: one LAN interface, Debian 12. Test-only. */
import type { HostEnv, InterfaceAddress } from '../control-client/hostinfo.js';

export function fakeHostEnv(over: Partial<HostEnv> = {}, interfaces?: InterfaceAddress[]): HostEnv {
  const addrs: InterfaceAddress[] = interfaces ?? [
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
  ];
  return {
    hostname: () => 'testbox',
    osRelease: async () => 'VERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    kernelVersion: () => '6.1.0-test',
    arch: () => 'x64',
    interfaces: () => addrs,
    ...over,
  };
}
