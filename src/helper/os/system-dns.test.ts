/**
 * System DNS through systemd-resolved (resolvectl), and the ownership guard on resolv.conf; the
 * rest of the resolv.conf side is in linux.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Exec } from '../exec.js';
import { renderResolvConf } from '../dns/resolv-conf.js';
import type { ResolvConfOwner } from './resolv-conf-owner.js';
import { LinuxSystemDns, ResolvConfNotOwnedError, type DnsHost } from './system-dns.js';

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
    resolvConfOwner: async () => ({ kind: 'initial' }),
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

/** Files in memory; every write and remove is logged. */
function fileHost(files: Record<string, string>, owner: () => ResolvConfOwner, realpath?: string) {
  const writes: string[] = [];
  const host: DnsHost = {
    read: async (f) => files[f] ?? null,
    write: async (f, t) => {
      writes.push(f);
      files[f] = t;
    },
    remove: async (f) => {
      writes.push(`rm ${f}`);
      delete files[f];
    },
    realpath: async (f) => realpath ?? f,
    resolvConfOwner: async () => owner(),
  };
  return { host, writes };
}

const noExec: Exec = async (command, args) => {
  throw new Error(`unexpected: ${command} ${args.join(' ')}`);
};
const CONFIG = {
  nameservers: ['100.100.100.100'],
  searchDomains: ['acme.trellis'],
  matchDomains: ['acme.trellis'],
  defaultRoute: false,
};
const HOST_FILE = 'nameserver 8.8.8.8\n';
const REASON = 'this process is in network namespace net:[4026532177], not the initial one';

describe('LinuxSystemDns: whose resolv.conf', () => {
  it('refuses, with a typed error, a resolv.conf it cannot prove is its own, and leaves it', async () => {
    const files = { '/etc/resolv.conf': HOST_FILE };
    const { host, writes } = fileHost(files, () => ({ kind: 'refused', reason: REASON }));
    const dns = new LinuxSystemDns({ exec: noExec, interfaceName: 'trellis0', host });
    const err = await dns.apply(CONFIG).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResolvConfNotOwnedError);
    expect(err).toMatchObject({ code: 'not_permitted', reason: REASON });
    expect((err as Error).message).toBe(`not changing DNS: ${REASON}`);
    await dns.teardown();
    expect(writes).toEqual([]);
    expect(files['/etc/resolv.conf']).toBe(HOST_FILE);
  });

  it('does not “restore” a file in our format that it cannot prove is its own', async () => {
    // What another process (a namespaced daemon before this guard) left in the host's file.
    const leftover = renderResolvConf({ nameservers: ['100.100.100.100'], searchDomains: [] }, '');
    const files = { '/etc/resolv.conf': leftover };
    const { host, writes } = fileHost(files, () => ({ kind: 'refused', reason: REASON }));
    await new LinuxSystemDns({ exec: noExec, interfaceName: 'trellis0', host }).teardown();
    expect(writes).toEqual([]);
    expect(files['/etc/resolv.conf']).toBe(leftover);
  });

  it('refuses resolvectl outside the initial namespace too (it would change the host’s resolver)', async () => {
    const { host } = fileHost(
      {},
      () => ({ kind: 'refused', reason: REASON }),
      '/run/systemd/resolve/stub-resolv.conf',
    );
    const dns = new LinuxSystemDns({ exec: noExec, interfaceName: 'trellis0', host });
    await expect(dns.apply(CONFIG)).rejects.toBeInstanceOf(ResolvConfNotOwnedError);
  });

  it('writes the namespace’s own bind-mounted file, never through resolvectl, and restores it', async () => {
    const original = '# lab device\n';
    const files = { '/etc/resolv.conf': original };
    const { host, writes } = fileHost(
      files,
      () => ({ kind: 'netns', name: 'tl-alice' }),
      '/run/systemd/resolve/stub-resolv.conf',
    );
    const dns = new LinuxSystemDns({ exec: noExec, interfaceName: 'trellis0', host });
    await dns.apply(CONFIG);
    expect(files['/etc/resolv.conf']).toContain(
      '\nnameserver 100.100.100.100\nsearch acme.trellis\n',
    );
    await dns.teardown();
    expect(files['/etc/resolv.conf']).toBe(original);
    expect(writes).toEqual(['/etc/resolv.conf', '/etc/resolv.conf']);
  });

  it('asks again before every write: a file that stops being provably its own is left alone', async () => {
    const files = { '/etc/resolv.conf': HOST_FILE };
    let owner: ResolvConfOwner = { kind: 'initial' };
    const { host, writes } = fileHost(files, () => owner);
    const dns = new LinuxSystemDns({ exec: noExec, interfaceName: 'trellis0', host });
    await dns.apply(CONFIG);
    const ours = files['/etc/resolv.conf'];
    owner = { kind: 'refused', reason: REASON };
    await expect(dns.apply({ ...CONFIG, searchDomains: [] })).rejects.toBeInstanceOf(
      ResolvConfNotOwnedError,
    );
    await dns.teardown();
    expect(files['/etc/resolv.conf']).toBe(ours);
    expect(writes).toEqual(['/etc/resolv.conf']);
    // Once provable again, teardown restores the original byte for byte.
    owner = { kind: 'initial' };
    await dns.teardown();
    expect(files['/etc/resolv.conf']).toBe(HOST_FILE);
  });
});
