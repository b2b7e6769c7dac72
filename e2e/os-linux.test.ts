/**
 * The Linux OS configurator against the real kernel, inside fresh network namespaces: addresses
 * and routes on a wireguard-go interface, then the device features (packet filter, exit-node
 * routing, forwarding, MagicDNS and resolv.conf) with real packets and sockets. State is read back
 * (`ip -json`, `nft -j`, sysctl, the namespace's resolv.conf) and compared before and after.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FilterRule, Netmap } from '../src/shared/schema/control/netmap.js';
import { sampleNetmap } from '../src/shared/schema/samples.js';
import { planDns } from '../src/helper/dns/plan.js';
import { runCommand, type Exec, type ExecOptions } from '../src/helper/exec.js';
import { EXIT_ROUTE_TABLE, TRELLIS_FWMARK } from '../src/helper/os/exit-routing.js';
import { LinuxOsConfigurator, TRELLIS_ROUTE_PROTOCOL } from '../src/helper/os/linux.js';
import type { OsNetworkConfig } from '../src/helper/os/types.js';
import { WireGuardGoBackend, type WireGuardGoDevice } from '../src/helper/wg/wireguard-go.js';
import {
  DNS_STUB_SCRIPT,
  dnsQuery,
  MAGICDNS_SERVE_SCRIPT,
  WHOAMI_SCRIPT,
  whoami,
} from './lab/device-probes.js';
import { createLab, netSnapshot, requireLabPrerequisites, type Lab } from './lab/netns.js';
import { SYSTEM_DNS_PROBE_SCRIPT, SystemDnsProbeReady } from './lab/os-probes.js';
import { labEnv, nodeScriptCommand, spawnInNamespace, type LabProcess } from './lab/process.js';
import { ReadyLine } from './lab/script-output.js';

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
  requireLabPrerequisites(['wireguard-go', 'nft', 'ping']);
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

// -- device features: packet filter, exit node, forwarding, MagicDNS ---------------------------
//
// These use a veth pair as the "tunnel": the configurator only cares about the interface name,
// and a veth lets packets from a peer namespace arrive on it exactly as they would from
// WireGuard (the full stack with WireGuard is e2e/device-lab.test.ts). Every namespace is this
// run's own; nothing links to the host.

const TUN = 'tun0';
const peerA = '100.64.0.2';
const peerB = '100.64.0.3';
const self = '100.64.0.1';
const port = (n: number) => ({ first: n, last: n });
const servers: LabProcess[] = [];

async function serve(ns: string, script: string, args: string[]): Promise<LabProcess> {
  const node = nodeScriptCommand(script);
  const p = await spawnInNamespace(ns, node.command, [...node.args, ...args], {
    env: labEnv(),
    label: script.split('/').pop() ?? script,
  });
  servers.push(p);
  await p.waitForJson(ReadyLine);
  return p;
}

const exec = (ns: string, command: string, args: readonly string[], options?: ExecOptions) =>
  lab.exec(ns, command, args, options);

async function pingFrom(ns: string, to: string, from?: string): Promise<boolean> {
  const args = ['-n', '-q', '-c', '2', '-i', '0.2', '-W', '1', ...(from ? ['-I', from] : []), to];
  return lab.exec(ns, 'ping', args).then(
    () => true,
    () => false,
  );
}

/** Two namespaces joined by a veth named TUN on both sides; returns their names. */
async function tunnelPair(a: string, b: string): Promise<[string, string]> {
  const nsA = await lab.createNamespace(a);
  const nsB = await lab.createNamespace(b);
  await lab.createVeth(nsA, TUN, nsB, TUN);
  await lab.setUp(nsA, TUN);
  await lab.setUp(nsB, TUN);
  await lab.waitLinkReady(nsA, TUN);
  await lab.waitLinkReady(nsB, TUN);
  return [nsA, nsB];
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe('packet filter (nftables) with real sockets', () => {
  let dev: string;
  let peer: string;
  let before: Awaited<ReturnType<typeof netSnapshot>>;
  let os: LinuxOsConfigurator;
  const sshOnlyFromA: FilterRule = {
    srcs: [`${peerA}/32`],
    dsts: [{ cidr: `${self}/32`, ports: port(22) }],
    protos: ['tcp'],
  };
  const base = (filter: OsNetworkConfig['filter']): OsNetworkConfig => ({
    interfaceName: TUN,
    addresses: [`${self}/32`],
    mtu: 1420,
    routes: [`${peerA}/32`, `${peerB}/32`],
    ...(filter ? { filter } : {}),
  });

  beforeAll(async () => {
    [dev, peer] = await tunnelPair('fdev', 'fpeer');
    for (const a of [peerA, peerB]) await lab.addAddress(peer, TUN, `${a}/32`);
    await lab.exec(peer, 'ip', ['route', 'add', `${self}/32`, 'dev', TUN]);
    before = await netSnapshot(dev);
    os = new LinuxOsConfigurator({ interfaceName: TUN, netns: dev });
    await os.apply(base(undefined));
    await serve(dev, WHOAMI_SCRIPT, ['serve', '--host', self, '--port', '22']);
    await serve(dev, WHOAMI_SCRIPT, ['serve', '--host', self, '--port', '80']);
    await serve(peer, WHOAMI_SCRIPT, ['serve', '--host', peerA, '--port', '8080']);
  }, 120_000);

  it('without a filter, everything gets through', async () => {
    expect(await whoami(exec, peer, `${self}:80`, { bind: peerB })).toMatchObject({ ok: true });
    expect(await pingFrom(peer, self, peerB)).toBe(true);
  });

  it('allows only tcp/22 from group A: tcp/80, ICMP and group B are dropped and counted', async () => {
    await os.apply(base({ rules: [sshOnlyFromA], blockIncoming: false }));
    const counted0 = (await os.dropCounter())?.packets ?? -1;
    expect(counted0).toBe(0);
    expect(await whoami(exec, peer, `${self}:22`, { bind: peerA })).toEqual({
      ok: true,
      seenAs: peerA,
      local: peerA,
    });
    expect(await whoami(exec, peer, `${self}:80`, { bind: peerA, timeoutMs: 1500 })).toMatchObject({
      ok: false,
      error: { code: 'timeout' },
    });
    expect(await pingFrom(peer, self, peerA)).toBe(false);
    expect(await whoami(exec, peer, `${self}:22`, { bind: peerB, timeoutMs: 1500 })).toMatchObject({
      ok: false,
    });
    const counted = (await os.dropCounter())?.packets ?? 0;
    // At least: a SYN to :80, two echo requests, a SYN from B (retransmissions add more).
    expect(counted).toBeGreaterThanOrEqual(4);
  });

  it('lets replies to connections this device opened come back (established)', async () => {
    expect(await whoami(exec, dev, `${peerA}:8080`)).toEqual({
      ok: true,
      seenAs: self,
      local: self,
    });
    expect(await pingFrom(dev, peerA)).toBe(true);
  });

  it('blockIncoming drops even what the policy allows, but not replies', async () => {
    await os.apply(base({ rules: [sshOnlyFromA], blockIncoming: true }));
    expect(await whoami(exec, peer, `${self}:22`, { bind: peerA, timeoutMs: 1500 })).toMatchObject({
      ok: false,
    });
    expect(await whoami(exec, dev, `${peerA}:8080`)).toMatchObject({ ok: true });
    await os.apply(base({ rules: [sshOnlyFromA], blockIncoming: false }));
    expect(await whoami(exec, peer, `${self}:22`, { bind: peerA })).toMatchObject({ ok: true });
  });

  it('teardown leaves nftables, rules, routes and sysctls as they were', async () => {
    await os.teardown();
    expect(await netSnapshot(dev)).toEqual(before);
  });
});

describe('exit node: client policy routing, server forwarding and masquerade', () => {
  // client ──tun0 (veth)── exit ── p-exit 10.10.2.0/24 ── pub (the "internet")
  //    └────────── eth0 ── p-dev 10.10.1.0/24 ────────────┘
  let client: string;
  let exit: string;
  let pub: string;
  let beforeClient: Awaited<ReturnType<typeof netSnapshot>>;
  let beforeExit: Awaited<ReturnType<typeof netSnapshot>>;
  let osClient: LinuxOsConfigurator;
  let osExit: LinuxOsConfigurator;
  const PUBLIC = '203.0.113.50';
  const clientConfig = (exitRouting: OsNetworkConfig['exitRouting']): OsNetworkConfig => ({
    interfaceName: TUN,
    addresses: [`${self}/32`],
    mtu: 1420,
    routes: [`${peerA}/32`],
    filter: { rules: [], blockIncoming: false },
    exitRouting,
  });

  beforeAll(async () => {
    [client, exit] = await tunnelPair('xcli', 'xexit');
    pub = await lab.createNamespace('xpub');
    const uplink = async (ns: string, n: number) => {
      await lab.createVeth(ns, 'eth0', pub, `p${n}`);
      await lab.addAddress(ns, 'eth0', `10.10.${n}.2/24`);
      await lab.addAddress(pub, `p${n}`, `10.10.${n}.1/24`);
      await lab.setUp(ns, 'eth0');
      await lab.setUp(pub, `p${n}`);
      await lab.waitLinkReady(ns, 'eth0');
      await lab.exec(ns, 'ip', ['route', 'add', 'default', 'via', `10.10.${n}.1`]);
    };
    await uplink(client, 1);
    await uplink(exit, 2);
    await lab.addAddress(pub, 'lo', `${PUBLIC}/32`);
    // A veth is a broadcast link: the exit answers ARP for what it routes (WireGuard needs none).
    await lab.exec(exit, 'sysctl', ['-q', '-w', `net.ipv4.conf.${TUN}.proxy_arp=1`]);
    beforeClient = await netSnapshot(client);
    beforeExit = await netSnapshot(exit);
    await serve(pub, WHOAMI_SCRIPT, ['serve', '--host', PUBLIC, '--port', '7']);
    await serve(pub, WHOAMI_SCRIPT, ['serve', '--host', '10.10.1.1', '--port', '7']);
    osClient = new LinuxOsConfigurator({ interfaceName: TUN, netns: client });
    osExit = new LinuxOsConfigurator({ interfaceName: TUN, netns: exit });
    await osExit.apply({
      interfaceName: TUN,
      addresses: [`${peerA}/32`],
      mtu: 1420,
      routes: [`${self}/32`],
      // What control compiles for an exit node: the client may reach everything through it.
      filter: {
        rules: [
          {
            srcs: [`${self}/32`],
            dsts: [{ cidr: '0.0.0.0/0', ports: { first: 0, last: 65535 } }],
            protos: ['any'],
          },
        ],
        blockIncoming: false,
      },
      forwarding: true,
    });
    await osClient.apply(clientConfig(null));
  }, 120_000);

  const seenFrom = async (server: string) => {
    const r = await whoami(exec, client, `${server}:7`);
    return r.ok ? r.seenAs : `failed: ${r.error.message}`;
  };

  it('the exit node forwards (sysctls on) with masquerade; the client goes direct without exit routing', async () => {
    const sysctl = async (k: string) => (await lab.exec(exit, 'sysctl', ['-n', k])).stdout.trim();
    expect(await sysctl('net.ipv4.ip_forward')).toBe('1');
    expect(await sysctl('net.ipv6.conf.all.forwarding')).toBe('1');
    expect(await seenFrom(PUBLIC)).toBe('10.10.1.2');
  });

  it('with exit routing the public host sees the exit node’s address; LAN and bypass hosts stay direct', async () => {
    await osClient.apply(clientConfig({ bypass: [], allowLan: true }));
    expect(await seenFrom(PUBLIC)).toBe('10.10.2.2');
    // allowLan: the client's own LAN (10.10.1.0/24) keeps its route.
    expect(await seenFrom('10.10.1.1')).toBe('10.10.1.2');

    await osClient.apply(clientConfig({ bypass: [], allowLan: false }));
    // Without LAN access even the LAN goes through the exit node (which reaches it via pub).
    expect(await seenFrom('10.10.1.1')).toBe('10.10.2.2');
    // A bypass host (control, relay, peer endpoint) keeps the machine's own route.
    await osClient.apply(clientConfig({ bypass: ['10.10.1.1'], allowLan: false }));
    expect(await seenFrom('10.10.1.1')).toBe('10.10.1.2');
    expect(await seenFrom(PUBLIC)).toBe('10.10.2.2');
  });

  it('keeps WireGuard’s marked packets on the main table, and fails closed without the tunnel', async () => {
    const route = async (args: string[]) =>
      (await lab.exec(client, 'ip', ['-4', 'route', 'get', ...args])).stdout;
    expect(await route([PUBLIC])).toMatch(new RegExp(`dev ${TUN} table ${EXIT_ROUTE_TABLE}`));
    expect(await route([PUBLIC, 'mark', `0x${TRELLIS_FWMARK.toString(16)}`])).toMatch(
      /via 10\.10\.1\.1 dev eth0/,
    );
    expect(await route(['169.254.1.1'])).not.toContain(TUN);
    await lab.exec(client, 'ip', ['link', 'set', 'dev', TUN, 'down']);
    try {
      await expect(route([PUBLIC])).rejects.toThrow(/No route to host/);
    } finally {
      await lab.exec(client, 'ip', ['link', 'set', 'dev', TUN, 'up']);
      await lab.waitLinkReady(client, TUN);
    }
  });

  it('turning exit routing off restores the direct path; teardown restores both machines', async () => {
    await osClient.apply(clientConfig({ bypass: [], allowLan: false }));
    await osClient.apply(clientConfig(null));
    expect(await seenFrom(PUBLIC)).toBe('10.10.1.2');
    await osClient.teardown();
    await osExit.teardown();
    expect(await netSnapshot(client)).toEqual(beforeClient);
    expect(await netSnapshot(exit)).toEqual(beforeExit);
  });
});

describe('MagicDNS in a namespace: resolver, split DNS, resolv.conf', () => {
  let ns: string;
  let upstream: string;
  let before: Awaited<ReturnType<typeof netSnapshot>>;
  let os: LinuxOsConfigurator;
  const ORIGINAL = '# the namespace’s own\nnameserver 192.0.2.53\nsearch lab.example\n';
  const netmap = (): Netmap => {
    const nm = sampleNetmap(2);
    return {
      ...nm,
      dns: {
        ...nm.dns,
        nameservers: [],
        splitDns: { 'corp.example.com': ['10.53.0.1'] },
        searchDomains: [],
        extraRecords: [],
      },
    };
  };

  beforeAll(async () => {
    [ns, upstream] = await tunnelPair('dns', 'dnsup');
    await lab.addAddress(upstream, TUN, '10.53.0.1/24');
    await lab.exec(upstream, 'ip', ['route', 'add', `${self}/32`, 'dev', TUN]);
    lab.setResolvConf(ns, ORIGINAL);
    before = await netSnapshot(ns);
    expect(before.resolvConf).toBe(ORIGINAL);
    await serve(upstream, DNS_STUB_SCRIPT, [
      '--host',
      '10.53.0.1',
      '--port',
      '53',
      '--answer',
      '10.53.0.99',
    ]);
  }, 120_000);

  it('points the namespace’s DNS at 100.100.100.100, answers mesh names and forwards split DNS', async () => {
    const nm = netmap();
    const plan = planDns({
      netmap: nm,
      prefs: { acceptDNS: true, advertiseExitNode: false },
      exitNode: null,
      resolverAvailable: true,
    });
    os = new LinuxOsConfigurator({ interfaceName: TUN, netns: ns });
    await os.apply({
      interfaceName: TUN,
      addresses: [`${self}/32`],
      localAddresses: plan.localAddresses,
      mtu: 1420,
      routes: ['10.53.0.0/24'],
      dns: plan.system,
    });
    // What programs in the namespace see as /etc/resolv.conf.
    const seen = (await lab.exec(ns, 'cat', ['/etc/resolv.conf'])).stdout;
    expect(seen).toContain('\nnameserver 100.100.100.100\nsearch acme.trellis\n');
    expect(seen).toContain('# |nameserver 192.0.2.53');

    const file = path.join(lab.workDir(), 'netmap.json');
    fs.writeFileSync(file, JSON.stringify(nm));
    await serve(ns, MAGICDNS_SERVE_SCRIPT, ['--netmap', file]);

    const peer = await dnsQuery(exec, ns, '100.100.100.100', 'peer-1.acme.trellis');
    expect(peer).toMatchObject({
      ok: true,
      rcode: 'NOERROR',
      answers: [{ type: 'A', data: '100.64.0.2' }],
    });
    const v6 = await dnsQuery(exec, ns, '100.100.100.100', 'peer-2.acme.trellis', {
      type: 'AAAA',
      tcp: true,
    });
    expect(v6).toMatchObject({ ok: true, answers: [{ type: 'AAAA', data: 'fd7a:115c:a1e0::3' }] });
    const corp = await dnsQuery(exec, ns, '100.100.100.100', 'wiki.corp.example.com');
    expect(corp).toMatchObject({ ok: true, rcode: 'NOERROR', answers: [{ data: '10.53.0.99' }] });
    const unknown = await dnsQuery(exec, ns, '100.100.100.100', 'nobody.acme.trellis');
    expect(unknown).toMatchObject({ ok: true, rcode: 'NXDOMAIN' });
  });

  it('restores the namespace’s resolv.conf byte for byte, and everything else, on teardown', async () => {
    await servers.at(-1)?.stop();
    await os.teardown();
    expect(await netSnapshot(ns)).toEqual(before);
    expect((await lab.exec(ns, 'cat', ['/etc/resolv.conf'])).stdout).toBe(ORIGINAL);
  });
});

describe('system DNS from inside a namespace (trellisd under `ip netns exec`, no --netns)', () => {
  const HOST_RESOLV_CONF = '/etc/resolv.conf';
  let ns: string;
  let hostBefore: Buffer;
  let netmapFile: string;
  let probe: LabProcess | null = null;

  const hostNow = () => fs.readFileSync(HOST_RESOLV_CONF);
  const startProbe = async () => {
    const node = nodeScriptCommand(SYSTEM_DNS_PROBE_SCRIPT);
    probe = await spawnInNamespace(
      ns,
      node.command,
      [...node.args, '--dev', TUN, '--netmap', netmapFile],
      { env: labEnv(), label: 'system-dns-probe' },
    );
    return probe.waitForJson(SystemDnsProbeReady);
  };
  const stopProbe = async () => {
    const exit = await probe?.stop();
    probe = null;
    return exit;
  };

  beforeAll(async () => {
    hostBefore = hostNow();
    [ns] = await tunnelPair('sdns', 'sdnsup');
    netmapFile = path.join(lab.workDir(), 'system-dns-netmap.json');
    fs.writeFileSync(netmapFile, JSON.stringify(sampleNetmap(2)));
  }, 120_000);

  afterAll(async () => {
    await stopProbe();
    // Should the guard ever fail, the machine gets its file back (and the tests above fail).
    if (!hostNow().equals(hostBefore)) fs.writeFileSync(HOST_RESOLV_CONF, hostBefore);
  });

  it('without /etc/netns/<ns>/resolv.conf: refuses, says why, leaves the host’s file byte for byte; MagicDNS still answers', async () => {
    expect(fs.existsSync(`/etc/netns/${ns}/resolv.conf`)).toBe(false);
    const before = await netSnapshot(ns);
    const ready = await startProbe();
    expect(ready.warnings).toHaveLength(1);
    const [warning] = ready.warnings;
    expect(warning).toMatch(
      /^system DNS not set: not changing DNS: \/etc\/resolv.conf may be the host's/,
    );
    expect(warning).toMatch(/this process is in network namespace net:\[\d+\]/);
    expect(warning).toContain(`create /etc/netns/${ns}/resolv.conf before \`ip netns exec ${ns}\``);
    expect(hostNow().equals(hostBefore)).toBe(true);
    // What programs in the namespace see is the host's file, untouched.
    expect((await lab.exec(ns, 'cat', ['/etc/resolv.conf'])).stdout).toBe(hostBefore.toString());

    // The rest of the config is in place, and the resolver answers on its address.
    await serve(ns, MAGICDNS_SERVE_SCRIPT, ['--netmap', netmapFile]);
    const peer = await dnsQuery(exec, ns, '100.100.100.100', 'peer-1.acme.trellis');
    expect(peer).toMatchObject({ ok: true, answers: [{ type: 'A', data: '100.64.0.2' }] });
    await servers.pop()?.stop();

    expect(await stopProbe()).toEqual({ code: 0, signal: null });
    expect(hostNow().equals(hostBefore)).toBe(true);
    expect(await netSnapshot(ns)).toEqual(before);
  });

  it('with the namespace’s own file: sets DNS there, restores it on stop; the host’s file stays the same', async () => {
    const ORIGINAL = '# the namespace’s own\nnameserver 192.0.2.53\n';
    lab.setResolvConf(ns, ORIGINAL);
    const ready = await startProbe();
    expect(ready.warnings).toEqual([]);
    const seen = (await lab.exec(ns, 'cat', ['/etc/resolv.conf'])).stdout;
    expect(seen).toContain('\nnameserver 100.100.100.100\nsearch acme.trellis\n');
    expect(seen).toContain('# |nameserver 192.0.2.53');
    expect(fs.readFileSync(`/etc/netns/${ns}/resolv.conf`, 'utf8')).toBe(seen);
    expect(hostNow().equals(hostBefore)).toBe(true);

    expect(await stopProbe()).toEqual({ code: 0, signal: null });
    expect(fs.readFileSync(`/etc/netns/${ns}/resolv.conf`, 'utf8')).toBe(ORIGINAL);
    expect(hostNow().equals(hostBefore)).toBe(true);
  });
});
