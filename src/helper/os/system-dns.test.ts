/** System DNS through systemd-resolved (resolvectl); the resolv.conf side is in linux.test.ts. */
import { describe, expect, it } from 'vitest';
import type { Exec } from '../exec.js';
import { LinuxSystemDns, type DnsHost } from './system-dns.js';

function resolvedHost(): DnsHost {
  return {
    read: async () => 'nameserver 127.0.0.53\n',
    write: async () => {
      throw new Error('resolv.conf must not be written while systemd-resolved manages it');
    },
    remove: async () => {
      throw new Error('no');
    },
    realpath: async () => '/run/systemd/resolve/stub-resolv.conf',
    foreignResolvConf: async () => null,
  };
}

describe('LinuxSystemDns with systemd-resolved', () => {
  it('sets per-link DNS, routing and search domains, once, and reverts on teardown', async () => {
    const calls: string[] = [];
    const exec: Exec = async (command, args) => {
      calls.push(`${command} ${args.join(' ')}`);
      return { stdout: '', stderr: '' };
    };
    const dns = new LinuxSystemDns({ exec, interfaceName: 'trellis0', host: resolvedHost() });
    const config = {
      nameservers: ['100.100.100.100'],
      searchDomains: ['acme.trellis'],
      matchDomains: ['acme.trellis', 'corp.example.com.'],
      defaultRoute: false,
    };
    await dns.apply(config);
    await dns.apply(config);
    expect(calls).toEqual([
      'resolvectl dns trellis0 100.100.100.100',
      'resolvectl domain trellis0 ~acme.trellis ~corp.example.com acme.trellis',
      'resolvectl default-route trellis0 no',
    ]);
    calls.length = 0;
    await dns.apply({ ...config, defaultRoute: true });
    expect(calls).toContain('resolvectl default-route trellis0 yes');
    calls.length = 0;
    await dns.teardown();
    expect(calls).toEqual(['resolvectl revert trellis0']);
    calls.length = 0;
    await dns.teardown();
    expect(calls).toEqual([]);
  });
});
