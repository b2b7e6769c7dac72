/**
 * Diff logic of the Linux configurator against an in-memory stand-in for `ip` (the real thing
 * runs in e2e/os-linux.test.ts inside a network namespace).
 */
import { describe, expect, it } from 'vitest';
import { ExecError, type Exec, type ExecResult } from '../exec.js';
import { LinuxOsConfigurator, planSet, routeDstToCidr, TRELLIS_ROUTE_PROTOCOL } from './linux.js';
import { OsConfigError, type OsNetworkConfig } from './types.js';

interface FakeAddr {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
}
interface FakeRoute {
  family: 4 | 6;
  /** As `ip` prints it: host routes without a length. */
  dst: string;
  dev: string;
  proto: string;
  table: string;
}

/** Just enough of iproute2 for the configurator, with the kernel's side effects of link down. */
class FakeIp {
  links = new Map<string, { mtu: number; up: boolean; addrs: FakeAddr[] }>();
  routes: FakeRoute[] = [];
  /** Every invocation, as "ip <args>". */
  log: string[] = [];

  exec: Exec = async (command, args) => {
    expect(command).toBe('ip');
    this.log.push(`ip ${args.join(' ')}`);
    return this.run([...args]);
  };

  mutations(): string[] {
    return this.log.filter((l) => !/ show /.test(l));
  }

  private fail(args: string[], stderr: string): never {
    throw new ExecError(
      'exit_status',
      'ip',
      args,
      stderr.includes('not exist') ? 1 : 2,
      null,
      stderr,
    );
  }

  private link(args: string[], name: string) {
    const l = this.links.get(name);
    if (!l) this.fail(args, `Device "${name}" does not exist.`);
    return l;
  }

  private run(args: string[]): ExecResult {
    const all = [...args];
    if (args[0] === '-n') args = args.slice(2);
    let family: 4 | 6 | null = null;
    if (args[0] === '-4' || args[0] === '-6') {
      family = args[0] === '-4' ? 4 : 6;
      args = args.slice(1);
    }
    const json = args[0] === '-json';
    if (json) args = args.slice(1);
    if (args[0] === '-details') args = args.slice(1);
    const out = (v: unknown): ExecResult => ({ stdout: JSON.stringify(v), stderr: '' });
    const [obj, verb] = args;
    const devAt = args.indexOf('dev');
    const dev = devAt >= 0 ? (args[devAt + 1] ?? '') : '';
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
      if (args.includes('mtu')) l.mtu = Number(args[args.indexOf('mtu') + 1]);
      if (args.includes('up')) l.up = true;
      if (args.includes('down')) {
        l.up = false;
        // The kernel drops IPv6 addresses and every route through a device that goes down.
        l.addrs = l.addrs.filter((a) => a.family === 'inet');
        this.routes = this.routes.filter((r) => r.dev !== dev);
      }
      return { stdout: '', stderr: '' };
    }
    if (obj === 'address' && verb === 'show' && json) {
      const l = this.link(all, dev);
      return out([{ ifname: dev, addr_info: l.addrs }]);
    }
    if (obj === 'address' && (verb === 'add' || verb === 'del')) {
      const l = this.link(all, dev);
      const [local = '', len = ''] = (args[2] ?? '').split('/');
      const fam = local.includes(':') ? 'inet6' : 'inet';
      const i = l.addrs.findIndex((a) => a.local === local && a.prefixlen === Number(len));
      if (verb === 'add') {
        if (i >= 0) this.fail(all, 'RTNETLINK answers: File exists');
        l.addrs.push({ family: fam, local, prefixlen: Number(len), scope: 'global' });
      } else {
        if (i < 0) this.fail(all, 'RTNETLINK answers: Cannot assign requested address');
        l.addrs.splice(i, 1);
      }
      return { stdout: '', stderr: '' };
    }
    if (obj === 'route' && verb === 'show' && json) {
      const sel = (k: string) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
      if (dev) this.link(all, dev);
      return out(
        this.routes
          .filter(
            (r) =>
              r.family === family &&
              (!dev || r.dev === dev) &&
              (sel('proto') === undefined || r.proto === sel('proto')) &&
              (sel('table') === undefined || r.table === sel('table')),
          )
          .map((r) => ({ dst: r.dst, dev: r.dev })),
      );
    }
    if (obj === 'route' && (verb === 'add' || verb === 'del')) {
      const prefix = args[2] ?? '';
      const dst = /\/(32|128)$/.test(prefix) ? prefix.replace(/\/\d+$/, '') : prefix;
      const proto = args[args.indexOf('proto') + 1] ?? 'boot';
      const table = args[args.indexOf('table') + 1] ?? 'main';
      if (verb === 'add') {
        this.link(all, dev);
        if (this.routes.some((r) => r.dst === dst && r.table === table))
          this.fail(all, 'RTNETLINK answers: File exists');
        this.routes.push({ family: family ?? 4, dst, dev, proto, table });
      } else {
        const i = this.routes.findIndex((r) => r.dst === dst && r.dev === dev && r.proto === proto);
        if (i < 0) this.fail(all, 'RTNETLINK answers: No such process');
        this.routes.splice(i, 1);
      }
      return { stdout: '', stderr: '' };
    }
    throw new Error(`fake ip does not know: ip ${all.join(' ')}`);
  }
}

const DEV = 'trellis0';
const PROTO = String(TRELLIS_ROUTE_PROTOCOL);

function setup(netns?: string) {
  const ip = new FakeIp();
  ip.links.set(DEV, { mtu: 1420, up: false, addrs: [] });
  ip.links.set('eth0', {
    mtu: 1500,
    up: true,
    addrs: [{ family: 'inet', local: '192.168.1.5', prefixlen: 24, scope: 'global' }],
  });
  // Routes that are not ours: another protocol on our interface, and the LAN.
  ip.routes.push(
    { family: 4, dst: '192.168.1.0/24', dev: 'eth0', proto: 'kernel', table: 'main' },
    { family: 4, dst: '10.200.0.0/16', dev: 'eth0', proto: 'static', table: 'main' },
  );
  const os = new LinuxOsConfigurator({
    interfaceName: DEV,
    exec: ip.exec,
    ...(netns ? { netns } : {}),
  });
  return { ip, os };
}

const config = (over: Partial<OsNetworkConfig> = {}): OsNetworkConfig => ({
  interfaceName: DEV,
  addresses: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'],
  mtu: 1280,
  routes: ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128', '10.1.0.0/16'],
  ...over,
});

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
    await os.apply(config());
    ip.log = [];
    await os.apply(
      config({
        addresses: ['fd7a:115c:a1e0:0::1/128', '100.64.0.1'],
        routes: ['10.1.7.7/16', '100.64.0.2', 'fd7a:115c:a1e0::2/128'],
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
    const before = JSON.stringify([...ip.links.entries(), ip.routes]);
    await os.apply(config());
    await os.teardown();
    expect(JSON.stringify([...ip.links.entries(), ip.routes])).toBe(before);
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
    const { ip, os } = setup('tlabcdns');
    await os.apply(config());
    expect(ip.log.length).toBeGreaterThan(0);
    expect(ip.log.every((l) => l.startsWith('ip -n tlabcdns '))).toBe(true);
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
