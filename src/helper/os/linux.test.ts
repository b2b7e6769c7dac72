/**
 * Diff logic of the Linux configurator against an in-memory stand-in for `ip`, `nft` and
 * `sysctl` (the real thing runs in e2e/os-linux.test.ts inside network namespaces).
 */
import { describe, expect, it } from 'vitest';
import type { FilterRule } from '../../shared/schema/control/netmap.js';
import { ExecError, type Exec, type ExecResult } from '../exec.js';
import { EXIT_ROUTE_TABLE } from './exit-routing.js';
import { LinuxOsConfigurator, planSet, routeDstToCidr, TRELLIS_ROUTE_PROTOCOL } from './linux.js';
import type { DnsHost } from './system-dns.js';
import { OsConfigError, type OsNetworkConfig } from './types.js';

interface FakeAddr {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
}
interface FakeRoute {
  family: 4 | 6;
  /** As `ip` prints it: host routes without a length, 0/0 as "default". */
  dst: string;
  dev: string;
  proto: string;
  table: string;
  type?: string;
  metric?: number;
}
interface FakeRule {
  family: 4 | 6;
  priority: number;
  dst?: string;
  dstlen?: number;
  fwmark?: string;
  fwmask?: string;
  table: string;
  protocol: string;
}

const PROTO = String(TRELLIS_ROUTE_PROTOCOL);
const ok = (stdout = ''): ExecResult => ({ stdout, stderr: '' });

/**
 * Just enough of iproute2, nft and sysctl for the configurator, with the kernel's side effects
 * of a link going down. Every invocation is logged as one line.
 */
class FakeHost {
  links = new Map<string, { mtu: number; up: boolean; addrs: FakeAddr[] }>();
  routes: FakeRoute[] = [];
  rules: FakeRule[] = [];
  sysctls = new Map<string, string>([
    ['net.ipv4.ip_forward', '0'],
    ['net.ipv6.conf.all.forwarding', '0'],
    ['net.ipv4.conf.all.src_valid_mark', '0'],
  ]);
  /** The nft script of our table as last applied, or null when there is no table. */
  table: string | null = null;
  /** Makes `nft -f` fail, as on a kernel without nf_tables. */
  nftBroken = false;
  log: string[] = [];

  exec: Exec = async (command, args, options) => {
    this.log.push(`${command} ${args.join(' ')}`);
    return this.dispatch(command, [...args], options?.input);
  };

  /** Invocations that change something (not `show`, `list` or `sysctl -n`). */
  mutations(): string[] {
    return this.log.filter((l) => !/ show( |$)| list |sysctl -n /.test(l));
  }

  private fail(command: string, args: string[], stderr: string): never {
    throw new ExecError('exit_status', command, args, 2, null, stderr);
  }

  private dispatch(command: string, args: string[], input?: string): ExecResult {
    if (command === 'ip' && args[0] === 'netns' && args[1] === 'exec') {
      return this.dispatch(args[3] ?? '', args.slice(4), input);
    }
    if (command === 'ip') return this.ip(args);
    if (command === 'nft') return this.nft(args, input);
    if (command === 'sysctl') return this.sysctl(args);
    throw new Error(`fake host does not know: ${command} ${args.join(' ')}`);
  }

  private sysctl(args: string[]): ExecResult {
    if (args[0] === '-n') {
      const v = this.sysctls.get(args[1] ?? '');
      if (v === undefined) this.fail('sysctl', args, `sysctl: cannot stat ${args[1]}`);
      return ok(`${v}\n`);
    }
    const [name = '', value = ''] = (args[2] ?? '').split('=');
    this.sysctls.set(name, value);
    return ok();
  }

  private nft(args: string[], input?: string): ExecResult {
    const missing = () => this.fail('nft', args, 'Error: No such file or directory');
    if (args[0] === '-f') {
      if (this.nftBroken)
        this.fail('nft', args, 'Error: Could not process rule: Operation not supported');
      const script = input ?? '';
      expect(script.startsWith('add table inet trellis\ndelete table inet trellis\n')).toBe(true);
      this.table = script.includes('table inet trellis {') ? script : null;
      return ok();
    }
    if (args.join(' ') === '-t list table inet trellis') {
      if (this.table === null) return missing();
      const comment = /\n\tcomment "[^"]*"/.exec(this.table)?.[0] ?? '';
      return ok(`table inet trellis {${comment}\n}\n`);
    }
    if (args.join(' ') === 'delete table inet trellis') {
      if (this.table === null) missing();
      this.table = null;
      return ok();
    }
    throw new Error(`fake nft does not know: nft ${args.join(' ')}`);
  }

  private link(args: string[], name: string) {
    const l = this.links.get(name);
    if (!l)
      throw new ExecError('exit_status', 'ip', args, 1, null, `Device "${name}" does not exist.`);
    return l;
  }

  private ip(all: string[]): ExecResult {
    let args = all;
    if (args[0] === '-n') args = args.slice(2);
    let family: 4 | 6 | null = null;
    if (args[0] === '-4' || args[0] === '-6') {
      family = args[0] === '-4' ? 4 : 6;
      args = args.slice(1);
    }
    const json = args[0] === '-json';
    if (json) args = args.slice(1);
    if (args[0] === '-details') args = args.slice(1);
    const out = (v: unknown): ExecResult => ok(JSON.stringify(v));
    const [obj, verb] = args;
    const opt = (k: string) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
    const dev = opt('dev') ?? '';
    if (obj === 'link' && verb === 'show' && json) {
      const l = this.link(all, dev);
      return out([
        {
          ifindex: 7,
          ifname: dev,
          mtu: l.mtu,
          flags: l.up ? ['POINTOPOINT', 'UP'] : ['POINTOPOINT'],
          linkinfo: { info_kind: 'tun' },
        },
      ]);
    }
    if (obj === 'link' && verb === 'set') {
      const l = this.link(all, dev);
      if (args.includes('mtu')) l.mtu = Number(opt('mtu'));
      if (args.includes('up')) l.up = true;
      if (args.includes('down')) {
        l.up = false;
        // The kernel drops IPv6 addresses and every route through a device that goes down.
        l.addrs = l.addrs.filter((a) => a.family === 'inet');
        this.routes = this.routes.filter((r) => r.dev !== dev);
      }
      return ok();
    }
    if (obj === 'address' && verb === 'show' && json) {
      if (!dev) {
        return out([...this.links].map(([ifname, l]) => ({ ifname, addr_info: l.addrs })));
      }
      const l = this.link(all, dev);
      return out([{ ifname: dev, addr_info: l.addrs }]);
    }
    if (obj === 'address' && (verb === 'add' || verb === 'del')) {
      const l = this.link(all, dev);
      const [local = '', len = ''] = (args[2] ?? '').split('/');
      const fam = local.includes(':') ? 'inet6' : 'inet';
      const i = l.addrs.findIndex((a) => a.local === local && a.prefixlen === Number(len));
      if (verb === 'add') {
        if (i >= 0) this.fail('ip', all, 'RTNETLINK answers: File exists');
        l.addrs.push({
          family: fam,
          local,
          prefixlen: Number(len),
          scope: opt('scope') ?? 'global',
        });
      } else {
        if (i < 0) this.fail('ip', all, 'RTNETLINK answers: Cannot assign requested address');
        l.addrs.splice(i, 1);
      }
      return ok();
    }
    if (obj === 'route' && verb === 'show' && json) {
      if (dev) this.link(all, dev);
      return out(
        this.routes
          .filter(
            (r) =>
              r.family === family &&
              (!dev || r.dev === dev) &&
              (opt('proto') === undefined || r.proto === opt('proto')) &&
              (opt('table') === undefined || r.table === opt('table')),
          )
          .map((r) => ({
            dst: r.dst,
            ...(r.dev ? { dev: r.dev } : {}),
            ...(r.type ? { type: r.type } : {}),
            ...(r.metric !== undefined ? { metric: r.metric } : {}),
          })),
      );
    }
    if (obj === 'route' && (verb === 'add' || verb === 'del')) {
      const unreachable = args[2] === 'unreachable';
      const prefix = args[unreachable ? 3 : 2] ?? '';
      const dst = /\/0$/.test(prefix)
        ? 'default'
        : /\/(32|128)$/.test(prefix)
          ? prefix.replace(/\/\d+$/, '')
          : prefix;
      const proto = opt('proto') ?? 'boot';
      const table = opt('table') ?? 'main';
      const metric = opt('metric') === undefined ? undefined : Number(opt('metric'));
      const type = unreachable ? 'unreachable' : undefined;
      const same = (r: FakeRoute) =>
        r.family === (family ?? 4) &&
        r.dst === dst &&
        r.table === table &&
        r.type === type &&
        r.metric === metric;
      if (verb === 'add') {
        if (dev) this.link(all, dev);
        if (this.routes.some(same)) this.fail('ip', all, 'RTNETLINK answers: File exists');
        this.routes.push({
          family: family ?? 4,
          dst,
          dev,
          proto,
          table,
          ...(type ? { type } : {}),
          ...(metric !== undefined ? { metric } : {}),
        });
      } else {
        const i = this.routes.findIndex(
          (r) => same(r) && (!dev || r.dev === dev) && r.proto === proto,
        );
        if (i < 0) this.fail('ip', all, 'RTNETLINK answers: No such process');
        this.routes.splice(i, 1);
      }
      return ok();
    }
    if (obj === 'rule' && verb === 'show' && json) {
      return out(
        this.rules
          .filter((r) => r.family === family)
          .map(({ family: _f, ...r }) => ({ src: 'all', ...r })),
      );
    }
    if (obj === 'rule' && (verb === 'add' || verb === 'del')) {
      const to = opt('to');
      const [mark, mask] = (opt('fwmark') ?? '').split('/');
      const rule: FakeRule = {
        family: family ?? 4,
        priority: Number(opt('priority')),
        ...(to ? { dst: to.split('/')[0], dstlen: Number(to.split('/')[1]) } : {}),
        ...(mark ? { fwmark: mark, fwmask: mask } : {}),
        table: opt('lookup') ?? 'main',
        protocol: opt('proto') ?? 'boot',
      };
      const key = JSON.stringify(rule);
      const i = this.rules.findIndex((r) => JSON.stringify(r) === key);
      if (verb === 'add') this.rules.push(rule);
      else if (i < 0) this.fail('ip', all, 'RTNETLINK answers: No such file or directory');
      else this.rules.splice(i, 1);
      return ok();
    }
    throw new Error(`fake ip does not know: ip ${all.join(' ')}`);
  }
}

const DEV = 'trellis0';

function setup(
  options: { netns?: string; dnsHost?: DnsHost; resolve?: (h: string) => Promise<string[]> } = {},
) {
  const host = new FakeHost();
  host.links.set(DEV, { mtu: 1420, up: false, addrs: [] });
  host.links.set('eth0', {
    mtu: 1500,
    up: true,
    addrs: [{ family: 'inet', local: '192.168.1.5', prefixlen: 24, scope: 'global' }],
  });
  // Routes that are not ours: another protocol on our interface, and the LAN.
  host.routes.push(
    { family: 4, dst: '192.168.1.0/24', dev: 'eth0', proto: 'kernel', table: 'main' },
    { family: 4, dst: '10.200.0.0/16', dev: 'eth0', proto: 'static', table: 'main' },
  );
  const os = new LinuxOsConfigurator({
    interfaceName: DEV,
    exec: host.exec,
    ...(options.netns ? { netns: options.netns } : {}),
    ...(options.dnsHost ? { dnsHost: options.dnsHost } : {}),
    resolveHost: options.resolve ?? (async () => []),
  });
  return { host, ip: host, os };
}

const config = (over: Partial<OsNetworkConfig> = {}): OsNetworkConfig => ({
  interfaceName: DEV,
  addresses: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'],
  mtu: 1280,
  routes: ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128', '10.1.0.0/16'],
  ...over,
});

const SSH_RULE: FilterRule = {
  srcs: ['100.64.0.2/32'],
  dsts: [{ cidr: '100.64.0.1/32', ports: { first: 22, last: 22 } }],
  protos: ['tcp'],
};

/** Everything a teardown must restore, as one comparable value. */
const machine = (h: FakeHost) =>
  JSON.stringify([[...h.links], h.routes, h.rules, [...h.sysctls], h.table]);

describe('LinuxOsConfigurator (fake ip: the diff logic)', () => {
  it('first apply: MTU, link up, addresses (IPv6 without DAD) and routes marked with our protocol', async () => {
    const { ip, os } = setup();
    await os.apply(config());
    expect(ip.mutations()).toEqual([
      `ip link set dev ${DEV} mtu 1280`,
      `ip link set dev ${DEV} up`,
      `ip address add 100.64.0.1/32 dev ${DEV}`,
      `ip address add fd7a:115c:a1e0::1/128 dev ${DEV} nodad`,
      `ip -4 route add 10.1.0.0/16 dev ${DEV} proto ${PROTO} table main`,
      `ip -4 route add 100.64.0.2/32 dev ${DEV} proto ${PROTO} table main`,
      `ip -6 route add fd7a:115c:a1e0::2/128 dev ${DEV} proto ${PROTO} table main`,
    ]);
  });

  it('re-applying the same config (in another spelling) runs no changing command', async () => {
    const { ip, os } = setup();
    await os.apply(config({ filter: { rules: [SSH_RULE], blockIncoming: false } }));
    ip.log = [];
    await os.apply(
      config({
        addresses: ['fd7a:115c:a1e0:0::1/128', '100.64.0.1'],
        routes: ['10.1.7.7/16', '100.64.0.2', 'fd7a:115c:a1e0::2/128'],
        filter: { rules: [SSH_RULE], blockIncoming: false },
      }),
    );
    expect(ip.mutations()).toEqual([]);
  });

  it('applies only the difference and never touches routes that are not ours', async () => {
    const { ip, os } = setup();
    await os.apply(config());
    ip.log = [];
    await os.apply(
      config({ addresses: ['100.64.0.9/32'], routes: ['100.64.0.2/32', '100.64.0.3/32'] }),
    );
    expect(ip.mutations()).toEqual([
      `ip address add 100.64.0.9/32 dev ${DEV}`,
      `ip address del 100.64.0.1/32 dev ${DEV}`,
      `ip address del fd7a:115c:a1e0::1/128 dev ${DEV}`,
      `ip -4 route add 100.64.0.3/32 dev ${DEV} proto ${PROTO} table main`,
      `ip -4 route del 10.1.0.0/16 dev ${DEV} proto ${PROTO} table main`,
      `ip -6 route del fd7a:115c:a1e0::2/128 dev ${DEV} proto ${PROTO} table main`,
    ]);
    expect(ip.routes.filter((r) => r.dev === 'eth0')).toHaveLength(2);
  });

  it('teardown removes our addresses and routes and restores MTU and link state', async () => {
    const { ip, os } = setup();
    const before = machine(ip);
    await os.apply(config());
    await os.teardown();
    expect(machine(ip)).toBe(before);
    ip.log = [];
    await os.teardown();
    expect(ip.mutations()).toEqual([]);
  });

  it('a new configurator’s teardown removes what a crashed one left behind', async () => {
    const { ip, os } = setup();
    await os.apply(config());
    const successor = new LinuxOsConfigurator({ interfaceName: DEV, exec: ip.exec });
    await successor.teardown();
    expect(ip.routes.map((r) => r.dev)).toEqual(['eth0', 'eth0']);
    expect(ip.links.get(DEV)?.addrs).toEqual([]);
  });

  it('adds local-only addresses with host scope, and diffs and removes them like the others', async () => {
    const { ip, os } = setup();
    await os.apply(config({ localAddresses: ['100.100.100.100/32'] }));
    expect(ip.mutations()).toContain(`ip address add 100.100.100.100/32 dev ${DEV} scope host`);
    ip.log = [];
    await os.apply(config({ localAddresses: ['100.100.100.100'] }));
    expect(ip.mutations()).toEqual([]);
    await os.apply(config({ localAddresses: [] }));
    expect(ip.mutations()).toEqual([`ip address del 100.100.100.100/32 dev ${DEV}`]);
  });

  it('keeps applying the other routes when one conflicts, then reports it', async () => {
    const { ip, os } = setup();
    const e = await os
      .apply(config({ routes: ['10.200.0.0/16', '100.64.0.2/32'] }))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OsConfigError);
    expect((e as OsConfigError).code).toBe('command_failed');
    expect((e as OsConfigError).message).toContain('10.200.0.0/16');
    expect(ip.routes.some((r) => r.dst === '100.64.0.2' && r.dev === DEV)).toBe(true);
  });

  it('rejects configs it must not apply', async () => {
    const { ip, os } = setup();
    await expect(os.apply(config({ interfaceName: 'eth0' }))).rejects.toMatchObject({
      code: 'bad_config',
    });
    await expect(os.apply(config({ routes: ['0.0.0.0/0'] }))).rejects.toMatchObject({
      code: 'bad_config',
    });
    await expect(os.apply(config({ routes: ['::/0'] }))).rejects.toMatchObject({
      code: 'bad_config',
    });
    await expect(os.apply(config({ mtu: 1000 }))).rejects.toMatchObject({ code: 'bad_config' });
    await expect(os.apply(config({ addresses: ['100.64.0.1/33'] }))).rejects.toMatchObject({
      code: 'bad_config',
    });
    await expect(
      os.apply(config({ exitRouting: { bypass: ['-rf /'], allowLan: false } })),
    ).rejects.toMatchObject({ code: 'bad_config' });
    await expect(
      os.apply(
        config({
          dns: {
            nameservers: ['100.100.100.100'],
            searchDomains: ['evil\nnameserver 6.6.6.6'],
            matchDomains: [],
            defaultRoute: false,
          },
        }),
      ),
    ).rejects.toMatchObject({ code: 'bad_config' });
    expect(ip.mutations()).toEqual([]);
    expect(() => new LinuxOsConfigurator({ interfaceName: '-x' })).toThrow(OsConfigError);
  });

  it('reports a missing interface as not_found, and tears down a vanished one quietly', async () => {
    const { ip, os } = setup();
    ip.links.delete(DEV);
    await expect(os.apply(config())).rejects.toMatchObject({ code: 'not_found' });
    await expect(os.teardown()).resolves.toBeUndefined();
  });

  it('runs every command inside the given namespace', async () => {
    const { ip, os } = setup({ netns: 'tlabcdns' });
    await os.apply(
      config({
        filter: { rules: [SSH_RULE], blockIncoming: false },
        forwarding: true,
        exitRouting: { bypass: ['192.0.2.7'], allowLan: false },
      }),
    );
    await os.teardown();
    expect(ip.log.length).toBeGreaterThan(20);
    expect(
      ip.log.every(
        (l) => l.startsWith('ip -n tlabcdns ') || l.startsWith('ip netns exec tlabcdns '),
      ),
    ).toBe(true);
  });
});

describe('LinuxOsConfigurator: filter, forwarding and sysctls', () => {
  it('installs the filter as one nft transaction and replaces it whole on a change', async () => {
    const { host, os } = setup();
    await os.apply(config({ filter: { rules: [SSH_RULE], blockIncoming: false } }));
    const nftRuns = () => host.log.filter((l) => l === 'nft -f -');
    expect(nftRuns()).toHaveLength(1);
    expect(host.table).toContain('ip saddr @r0_src4 ip daddr 100.64.0.1/32 tcp dport 22 accept');
    expect(host.table).toContain(`iifname "${DEV}" counter name "filter_dropped" drop`);
    // No forwarding, no exit routing: no sysctl touched, no comment.
    expect(host.table).not.toContain('comment');
    expect(host.mutations().filter((l) => l.startsWith('sysctl'))).toEqual([]);

    await os.apply(config({ filter: { rules: [], blockIncoming: true } }));
    expect(nftRuns()).toHaveLength(2);
    expect(host.table).not.toContain('tcp dport 22');
  });

  it('adds no address or route while the filter cannot be installed (fail closed)', async () => {
    const { host, os } = setup();
    host.nftBroken = true;
    await expect(
      os.apply(config({ filter: { rules: [SSH_RULE], blockIncoming: false } })),
    ).rejects.toMatchObject({ code: 'command_failed', message: /^packet filter: / });
    expect(host.links.get(DEV)?.addrs).toEqual([]);
    expect(host.routes.some((r) => r.dev === DEV)).toBe(false);
    host.nftBroken = false;
    await os.apply(config({ filter: { rules: [SSH_RULE], blockIncoming: false } }));
    expect(host.links.get(DEV)?.addrs).toHaveLength(2);
  });

  it('turns forwarding on only after recording the originals, and restores them when done', async () => {
    const { host, os } = setup();
    host.sysctls.set('net.ipv6.conf.all.forwarding', '1');
    const before = machine(host);
    await os.apply(config({ filter: { rules: [], blockIncoming: false }, forwarding: true }));
    expect(host.table).toContain('comment "trellis-restore v4fwd=0 v6fwd=1"');
    expect(host.table).toContain(`iifname "${DEV}" oifname != "${DEV}" masquerade`);
    expect(host.sysctls.get('net.ipv4.ip_forward')).toBe('1');
    // The table (with the record) is written before the sysctl changes.
    const m = host.mutations();
    expect(m.indexOf('nft -f -')).toBeLessThan(m.indexOf('sysctl -q -w net.ipv4.ip_forward=1'));
    // Already on: not written.
    expect(m).not.toContain('sysctl -q -w net.ipv6.conf.all.forwarding=1');

    await os.apply(config({ filter: { rules: [], blockIncoming: false }, forwarding: false }));
    expect(host.sysctls.get('net.ipv4.ip_forward')).toBe('0');
    expect(host.sysctls.get('net.ipv6.conf.all.forwarding')).toBe('1');
    expect(host.table).not.toContain('comment');
    expect(host.table).not.toContain('masquerade');

    await os.teardown();
    expect(machine(host)).toBe(before);
  });

  it('a successor restores the sysctls a crashed run changed, from the table’s record', async () => {
    const { host, os } = setup();
    // A successor cannot know the link's original MTU and state: start with the applied ones.
    host.links.set(DEV, { mtu: 1280, up: true, addrs: [] });
    const before = machine(host);
    await os.apply(
      config({
        filter: { rules: [SSH_RULE], blockIncoming: false },
        forwarding: true,
        exitRouting: { bypass: [], allowLan: false },
      }),
    );
    expect(host.sysctls.get('net.ipv4.conf.all.src_valid_mark')).toBe('1');
    // The crashed run is simply dropped; the next start's teardown cleans up.
    await new LinuxOsConfigurator({ interfaceName: DEV, exec: host.exec }).teardown();
    expect(machine(host)).toBe(before);
  });

  it('a successor that applies at once keeps the crashed run’s originals, not the changed values', async () => {
    const { host, os } = setup();
    await os.apply(config({ forwarding: true }));
    const successor = new LinuxOsConfigurator({ interfaceName: DEV, exec: host.exec });
    await successor.apply(config({ forwarding: true }));
    expect(host.table).toContain('v4fwd=0');
    await successor.teardown();
    expect(host.sysctls.get('net.ipv4.ip_forward')).toBe('0');
    expect(host.table).toBeNull();
  });

  it('skips a sysctl the kernel does not have (IPv6 off) and forwards the other family', async () => {
    const { host, os } = setup();
    host.sysctls.delete('net.ipv6.conf.all.forwarding');
    await os.apply(config({ forwarding: true }));
    expect(host.sysctls.get('net.ipv4.ip_forward')).toBe('1');
    expect(host.table).toContain('comment "trellis-restore v4fwd=0"');
  });
});

describe('LinuxOsConfigurator: exit-node routing', () => {
  const exitRules = (h: FakeHost) =>
    h.rules.map(
      (r) =>
        `${r.family} ${r.priority} ${r.dst ? `${r.dst}/${r.dstlen}` : 'all'}${r.fwmark ? ` mark ${r.fwmark}/${r.fwmask}` : ''} ${r.table}`,
    );

  it('routes everything into the tunnel except marked packets, bypass hosts and link scopes', async () => {
    const { host, os } = setup({
      resolve: async (h) => (h === 'control.example' ? ['198.51.100.7'] : []),
    });
    await os.apply(
      config({
        exitRouting: { bypass: ['control.example', '203.0.113.9', 'fd00::9'], allowLan: false },
      }),
    );
    expect(exitRules(host)).toEqual([
      '4 5300 all mark 0x540000/0xff0000 main',
      '4 5310 198.51.100.7/32 main',
      '4 5310 203.0.113.9/32 main',
      '4 5320 169.254.0.0/16 main',
      '4 5320 224.0.0.0/4 main',
      '4 5320 255.255.255.255/32 main',
      `4 5350 all ${EXIT_ROUTE_TABLE}`,
      '6 5300 all mark 0x540000/0xff0000 main',
      '6 5310 fd00::9/128 main',
      '6 5320 fe80::/10 main',
      '6 5320 ff00::/8 main',
      `6 5350 all ${EXIT_ROUTE_TABLE}`,
    ]);
    expect(host.rules.every((r) => r.protocol === PROTO)).toBe(true);
    const table = host.routes.filter((r) => r.table === String(EXIT_ROUTE_TABLE));
    expect(table.map((r) => `${r.family} ${r.type ?? 'unicast'} ${r.dst} ${r.dev}`)).toEqual([
      '4 unreachable default ',
      `4 unicast default ${DEV}`,
      '6 unreachable default ',
      `6 unicast default ${DEV}`,
    ]);
    expect(host.sysctls.get('net.ipv4.conf.all.src_valid_mark')).toBe('1');

    // Unchanged: nothing runs; the host name is not looked up again either.
    host.log = [];
    await os.apply(
      config({
        exitRouting: { bypass: ['control.example', '203.0.113.9', 'fd00::9'], allowLan: false },
      }),
    );
    expect(host.mutations()).toEqual([]);
  });

  it('keeps the LANs local with allowLan, and diffs the rules when that changes', async () => {
    const { host, os } = setup();
    await os.apply(config({ exitRouting: { bypass: [], allowLan: true } }));
    expect(exitRules(host)).toContain('4 5320 192.168.1.0/24 main');
    host.log = [];
    await os.apply(config({ exitRouting: { bypass: [], allowLan: false } }));
    expect(host.mutations()).toEqual([
      'ip -4 rule del priority 5320 to 192.168.1.0/24 lookup main proto 84',
    ]);
  });

  it('adds the catch-all rule last and removes it first', async () => {
    const { host, os } = setup();
    await os.apply(config({ exitRouting: { bypass: ['192.0.2.1'], allowLan: false } }));
    const adds = host.mutations().filter((l) => l.startsWith('ip -4 rule add'));
    expect(adds.at(-1)).toContain('lookup 84');
    host.log = [];
    await os.apply(config({ exitRouting: null }));
    const dels = host.mutations().filter((l) => l.startsWith('ip -4 rule del'));
    expect(dels[0]).toContain('lookup 84');
    expect(host.rules).toEqual([]);
    expect(host.routes.filter((r) => r.table === String(EXIT_ROUTE_TABLE))).toEqual([]);
    expect(host.sysctls.get('net.ipv4.conf.all.src_valid_mark')).toBe('0');
  });

  it('teardown by a successor removes a crashed run’s rules, including ones it cannot read', async () => {
    const { host, os } = setup();
    host.links.set(DEV, { mtu: 1280, up: true, addrs: [] });
    const before = machine(host);
    await os.apply(config({ exitRouting: { bypass: ['192.0.2.1'], allowLan: true } }));
    host.rules.push({
      family: 4,
      priority: 5399,
      fwmark: '0x1',
      fwmask: '0xff',
      table: '99',
      protocol: PROTO,
    });
    await new LinuxOsConfigurator({ interfaceName: DEV, exec: host.exec }).teardown();
    expect(host.rules).toEqual([]);
    expect(machine(host)).toBe(before);
  });
});

describe('LinuxOsConfigurator: system DNS', () => {
  function fakeDnsHost(files: Record<string, string | null>): DnsHost & { files: typeof files } {
    return {
      files,
      read: async (f) => files[f] ?? null,
      write: async (f, t) => {
        files[f] = t;
      },
      remove: async (f) => {
        files[f] = null;
      },
      realpath: async (f) => f,
      resolvConfOwner: async () => ({ kind: 'initial' }),
    };
  }
  const dns = {
    nameservers: ['100.100.100.100'],
    searchDomains: ['acme.trellis'],
    matchDomains: ['acme.trellis'],
    defaultRoute: false,
  };

  it('rewrites resolv.conf with the original inside, and restores it byte for byte', async () => {
    const original = 'nameserver 192.168.1.1\nsearch home\n';
    const dnsHost = fakeDnsHost({ '/etc/resolv.conf': original });
    const { os } = setup({ dnsHost });
    await os.apply(config({ dns }));
    const written = dnsHost.files['/etc/resolv.conf'] ?? '';
    expect(written).toContain('\nnameserver 100.100.100.100\nsearch acme.trellis\n');
    expect(written).toContain('# |nameserver 192.168.1.1');
    await os.apply(config({ dns: null }));
    expect(dnsHost.files['/etc/resolv.conf']).toBe(original);
  });

  it('a successor restores a crashed run’s resolv.conf', async () => {
    const original = 'nameserver 10.0.0.1\n';
    const dnsHost = fakeDnsHost({ '/etc/resolv.conf': original });
    const { host, os } = setup({ dnsHost });
    await os.apply(config({ dns }));
    await new LinuxOsConfigurator({ interfaceName: DEV, exec: host.exec, dnsHost }).teardown();
    expect(dnsHost.files['/etc/resolv.conf']).toBe(original);
  });

  it('a DNS failure is a warning: the filter and routes are applied, the file left alone', async () => {
    const dnsHost = fakeDnsHost({ '/etc/resolv.conf': 'nameserver 10.0.0.1\n' });
    dnsHost.resolvConfOwner = async () => ({ kind: 'refused', reason: 'this is the host’s file' });
    const { host, os } = setup({ dnsHost });
    await os.apply(config({ dns, filter: { rules: [SSH_RULE], blockIncoming: false } }));
    expect(os.warnings()).toEqual([
      'system DNS not set: not changing DNS: this is the host’s file',
    ]);
    expect(host.table).toContain('tcp dport 22');
    expect(host.routes.some((r) => r.dst === '100.64.0.2')).toBe(true);
    expect(dnsHost.files['/etc/resolv.conf']).toBe('nameserver 10.0.0.1\n');
  });

  it('uses the namespace’s own resolv.conf and requires it to exist', async () => {
    const dnsHost = fakeDnsHost({});
    const { os } = setup({ netns: 'tlabcdns', dnsHost });
    await os.apply(config({ dns }));
    expect(os.warnings().join()).toMatch(/\/etc\/netns\/tlabcdns\/resolv.conf does not exist/);
    dnsHost.files['/etc/netns/tlabcdns/resolv.conf'] = 'nameserver 10.0.0.1\n';
    await os.apply(config({ dns }));
    expect(os.warnings()).toEqual([]);
    expect(dnsHost.files['/etc/netns/tlabcdns/resolv.conf']).toContain(
      'nameserver 100.100.100.100',
    );
    expect(dnsHost.files['/etc/resolv.conf']).toBeUndefined();
  });
});

describe('helpers', () => {
  it('routeDstToCidr reads ip’s route spellings', () => {
    expect(routeDstToCidr('100.64.0.2', 4)).toBe('100.64.0.2/32');
    expect(routeDstToCidr('fd7a::2', 6)).toBe('fd7a::2/128');
    expect(routeDstToCidr('10.1.0.0/16', 4)).toBe('10.1.0.0/16');
    expect(routeDstToCidr('default', 6)).toBe('::/0');
    expect(routeDstToCidr('garbage', 4)).toBeNull();
  });

  it('planSet adds the missing and removes the extra', () => {
    expect(planSet(['a', 'b'], ['b', 'c'])).toEqual({ add: ['c'], remove: ['a'] });
    expect(planSet(['a'], ['a'])).toEqual({ add: [], remove: [] });
  });
});
