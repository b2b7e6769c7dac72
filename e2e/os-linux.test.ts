/**
 * The Linux OS configurator against the real kernel, on a wireguard-go interface inside a fresh
 * network namespace: state is read back with `ip -json` and compared before and after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, type Exec } from '../src/helper/exec.js';
import { LinuxOsConfigurator, TRELLIS_ROUTE_PROTOCOL } from '../src/helper/os/linux.js';
import type { OsNetworkConfig } from '../src/helper/os/types.js';
import { WireGuardGoBackend, type WireGuardGoDevice } from '../src/helper/wg/wireguard-go.js';
import { createLab, netSnapshot, requireLabPrerequisites, type Lab } from './lab/netns.js';

let lab: Lab;
let ns: string;
let dev: WireGuardGoDevice;

/** Records every `ip` command that changes state (anything but `show`). */
function recordingExec(): { exec: Exec; mutations: string[] } {
  const mutations: string[] = [];
  const exec: Exec = (command, args, options) => {
    if (!args.includes('show')) mutations.push(`${command} ${args.join(' ')}`);
    return runCommand(command, args, options);
  };
  return { exec, mutations };
}

async function ipJson(args: string[]): Promise<unknown[]> {
  const { stdout } = await runCommand('ip', ['-n', ns, '-json', ...args]);
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as unknown[]);
}

/** Global addresses on the device, as "address/len". */
async function globalAddresses(): Promise<string[]> {
  const [link] = (await ipJson(['address', 'show', 'dev', dev.name])) as Array<{
    addr_info: Array<{ local: string; prefixlen: number; scope: string }>;
  }>;
  return (link?.addr_info ?? [])
    .filter((a) => a.scope === 'global')
    .map((a) => `${a.local}/${a.prefixlen}`)
    .sort();
}

/** Routes in the main table carrying our protocol number, as ip prints their destinations. */
async function ourRoutes(): Promise<string[]> {
  const sel = ['route', 'show', 'table', 'main', 'proto', String(TRELLIS_ROUTE_PROTOCOL)];
  const v4 = (await ipJson(['-4', ...sel])) as Array<{ dst: string; dev: string }>;
  const v6 = (await ipJson(['-6', ...sel])) as Array<{ dst: string; dev: string }>;
  return [...v4, ...v6].map((r) => `${r.dst} ${r.dev}`).sort();
}

async function link(): Promise<{ mtu: number; flags: string[] }> {
  const [l] = (await ipJson(['link', 'show', 'dev', dev.name])) as Array<{
    mtu: number;
    flags: string[];
  }>;
  if (!l) throw new Error(`${dev.name} is gone`);
  return l;
}

const config = (over: Partial<OsNetworkConfig> = {}): OsNetworkConfig => ({
  interfaceName: dev.name,
  addresses: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'],
  mtu: 1380,
  routes: ['100.64.0.2/32', '10.1.0.0/16', 'fd7a:115c:a1e0::2/128'],
  ...over,
});

beforeAll(async () => {
  requireLabPrerequisites(['wireguard-go']);
  lab = createLab();
  ns = await lab.createNamespace('os');
  dev = await new WireGuardGoBackend({ netns: ns }).create(lab.ifname('os'), { mtu: 1420 });
});

afterAll(async () => {
  await dev?.close().catch(() => undefined);
  await lab?.dispose();
});

describe('LinuxOsConfigurator in a network namespace', () => {
  it('applies, diffs and tears down addresses, routes, MTU and link state', async () => {
    const before = await netSnapshot(ns);
    expect((await link()).flags).not.toContain('UP');
    const { exec, mutations } = recordingExec();
    const os = new LinuxOsConfigurator({ interfaceName: dev.name, netns: ns, exec });

    await os.apply(config());
    expect(await globalAddresses()).toEqual(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']);
    expect(await ourRoutes()).toEqual([
      `10.1.0.0/16 ${dev.name}`,
      `100.64.0.2 ${dev.name}`,
      `fd7a:115c:a1e0::2 ${dev.name}`,
    ]);
    const l = await link();
    expect(l.mtu).toBe(1380);
    expect(l.flags).toContain('UP');

    // Unchanged: nothing runs.
    mutations.length = 0;
    await os.apply(config());
    expect(mutations).toEqual([]);

    // A diff: one address and one route swapped, IPv6 route dropped.
    await os.apply(
      config({
        addresses: ['100.64.0.1/32', 'fd7a:115c:a1e0::9/128'],
        routes: ['100.64.0.2/32', '100.64.0.3/32'],
      }),
    );
    expect(mutations).toHaveLength(5);
    expect(await globalAddresses()).toEqual(['100.64.0.1/32', 'fd7a:115c:a1e0::9/128']);
    expect(await ourRoutes()).toEqual([`100.64.0.2 ${dev.name}`, `100.64.0.3 ${dev.name}`]);

    await os.teardown();
    expect(await netSnapshot(ns)).toEqual(before);
    expect((await link()).mtu).toBe(1420);
  });

  it('leaves routes it does not own alone: other protocols on its interface, its protocol elsewhere', async () => {
    await runCommand('ip', ['-n', ns, 'link', 'set', 'dev', dev.name, 'up']);
    await runCommand('ip', [
      '-n',
      ns,
      'route',
      'add',
      '10.77.0.0/16',
      'dev',
      dev.name,
      'proto',
      'static',
    ]);
    // Our protocol number, but on another interface: not ours either.
    await runCommand('ip', [
      '-n',
      ns,
      'route',
      'add',
      '10.78.0.0/16',
      'dev',
      'lo',
      'proto',
      String(TRELLIS_ROUTE_PROTOCOL),
    ]);
    const mainRoutes = async (): Promise<string[]> =>
      ((await ipJson(['-4', 'route', 'show', 'table', 'main'])) as Array<{ dst: string }>).map(
        (r) => r.dst,
      );
    const os = new LinuxOsConfigurator({ interfaceName: dev.name, netns: ns });
    await os.apply(config({ routes: ['100.64.0.2/32'] }));
    await os.apply(config({ routes: ['100.64.0.3/32'] }));
    expect(await mainRoutes()).toEqual(
      expect.arrayContaining(['10.77.0.0/16', '10.78.0.0/16', '100.64.0.3']),
    );
    await os.teardown();
    // (The kernel itself flushes IPv4 routes through an interface whose last IPv4 address goes,
    // so only the route on the other interface is left to check after teardown.)
    expect(await mainRoutes()).toContain('10.78.0.0/16');
    await runCommand('ip', ['-n', ns, 'route', 'del', '10.78.0.0/16', 'dev', 'lo']);
  });

  it('after a crash (configurator dropped without teardown) a new one removes the leftovers', async () => {
    // The link is already up with its usual MTU, so the crashed run changes nothing but
    // addresses and routes, and the before/after snapshots must match exactly.
    await runCommand('ip', ['-n', ns, 'link', 'set', 'dev', dev.name, 'up']);
    const before = await netSnapshot(ns);
    // The "crashed" configurator applies and is then simply dropped: no teardown.
    await new LinuxOsConfigurator({ interfaceName: dev.name, netns: ns }).apply(
      config({ mtu: 1420 }),
    );
    expect(await globalAddresses()).toHaveLength(2);
    expect(await ourRoutes()).toHaveLength(3);

    const successor = new LinuxOsConfigurator({ interfaceName: dev.name, netns: ns });
    await successor.teardown();
    expect(await globalAddresses()).toEqual([]);
    expect(await ourRoutes()).toEqual([]);
    expect(await netSnapshot(ns)).toEqual(before);
  });
});
