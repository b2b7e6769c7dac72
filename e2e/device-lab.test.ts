/**
 * Device features end to end in the network lab: a real trellis-control, a real trellisd (with
 * wireguard-go and magicsock) per device, policy and DNS set through the admin API, and real
 * packets and sockets everywhere.
 *
 *   internet: control 198.51.100.10 · web 198.51.100.80 (the "public" host) · dns 198.51.100.53
 *   site home (no NAT): alice (group A, the owner's device) · bob (tag:guest)
 *   site dc (no NAT):   exit1 (tag:server, exit node) · router1, router2 (tag:router)
 *   LAN 10.99.0.0/24 behind both routers: lanhost 10.99.0.10 (whoami, corp nameserver)
 *
 * Checked: the exit node (the public host sees the exit node; LAN access pref; DNS follows;
 * turning it off), the tcp/22-only ACL from group A to tag:server (and nothing from group B), a
 * posture check on a running process, subnet routes with acceptRoutes and router failover,
 * MagicDNS names and split DNS, and that stopping leaves every namespace as it was.
 */
import { copyFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoLab, DEMO_ADDRESSES, type DemoLab } from './lab/demo.js';
import {
  adminCalls,
  DNS_STUB_SCRIPT,
  dnsQuery,
  WHOAMI_SCRIPT,
  whoami,
  type NsExec,
} from './lab/device-probes.js';
import {
  buildRouterLan,
  named,
  eventually as waitUntil,
  serveScript,
  taggedKeyRequest,
} from './lab/device-world.js';
import { netSnapshot, requireLabPrerequisites, type NetSnapshot } from './lab/netns.js';
import type { LabProcess } from './lab/process.js';
import type { Device } from './lab/topology.js';
import { LabTrellisd } from './lab/trellisd.js';

const DNS_HOST = '198.51.100.53';
/** What every device's namespace resolved with before Trellis (the "dns" host). */
const ORIGINAL_RESOLV_CONF = `nameserver ${DNS_HOST}\n`;
const LAN = {
  prefix: '10.99.0.0/24',
  host: '10.99.0.10',
  router1: '10.99.0.1',
  router2: '10.99.0.2',
};
const WHOAMI_PORT = 8;
/** Policy changes, posture reports and failover travel through control: allow for a busy machine. */
const CONVERGE_MS = 90_000;

let demo: DemoLab;
let exec: NsExec;
const daemons = new Map<string, LabTrellisd>();
const devices = new Map<string, Device>();
const before = new Map<string, NetSnapshot>();
const meshIp = new Map<string, string>();
let lanNs: string;
let dnsStub: LabProcess;

const d = (name: string): LabTrellisd => named(daemons, 'daemon', name);
const dev = (name: string): Device => named(devices, 'device', name);

const serve = (ns: string, script: string, args: string[]): Promise<LabProcess> =>
  serveScript(demo.lab, ns, script, args);

/** Waits for a value to settle, allowing CONVERGE_MS unless told otherwise. */
const eventually = <T>(
  what: string,
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = CONVERGE_MS,
): Promise<T> => waitUntil(what, fn, ok, timeoutMs);

/** Who the whoami server at `server` sees, asked from device `from`; "blocked" on no answer. */
async function seenAs(from: string, server: string, timeoutMs = 2_000): Promise<string> {
  const r = await whoami(exec, dev(from).ns, server, { timeoutMs });
  return r.ok ? r.seenAs : 'blocked';
}

async function pings(from: string, to: string): Promise<boolean> {
  return exec(dev(from).ns, 'ping', ['-n', '-q', '-c', '2', '-i', '0.3', '-W', '1', to]).then(
    () => true,
    () => false,
  );
}

function policy(ownerEmail: string, agentPath: string): string {
  return JSON.stringify({
    groups: { 'group:a': [ownerEmail] },
    tagOwners: {
      'tag:server': ['autogroup:admin'],
      'tag:router': ['autogroup:admin'],
      'tag:guest': ['autogroup:admin'],
    },
    postures: { 'posture:edr': [{ kind: 'process', processes: [{ linux: agentPath }] }] },
    acls: [
      { action: 'accept', src: ['group:a'], dst: ['tag:server:22'], proto: 'tcp' },
      { action: 'accept', src: ['group:a'], dst: ['autogroup:internet:*'] },
      { action: 'accept', src: ['group:a'], dst: [`${LAN.prefix}:*`] },
      {
        action: 'accept',
        src: ['group:a'],
        dst: ['tag:server:443'],
        proto: 'tcp',
        srcPosture: ['posture:edr'],
      },
      // Group B sees the server (so the server's filter is what stops it), on another port.
      { action: 'accept', src: ['tag:guest'], dst: ['tag:server:8443'], proto: 'tcp' },
    ],
    autoApprovers: { routes: { [LAN.prefix]: ['tag:router'] }, exitNode: ['tag:server'] },
  });
}

beforeAll(async () => {
  requireLabPrerequisites(['nft', 'ping', 'wireguard-go', 'wg']);
  demo = await buildDemoLab({
    sites: [
      { name: 'home', nat: 'none', devices: ['alice', 'bob'] },
      { name: 'dc', nat: 'none', devices: ['exit1', 'router1', 'router2'] },
    ],
    onDevice: async ({ lab, device, control }) => {
      devices.set(device.name, device);
      daemons.set(device.name, new LabTrellisd(lab, device, { controlUrl: control.url }));
    },
  });
  const lab = demo.lab;
  exec = (ns, command, args, options) => lab.exec(ns, command, args, options);

  // The routers' LAN: a bridge in its own namespace, one veth to each router.
  lanNs = await buildRouterLan(lab, {
    prefix: LAN.prefix,
    host: LAN.host,
    routers: [
      { device: dev('router1'), address: LAN.router1 },
      { device: dev('router2'), address: LAN.router2 },
    ],
  });
  await serve(lanNs, WHOAMI_SCRIPT, ['serve', '--host', LAN.host, '--port', String(WHOAMI_PORT)]);
  await serve(lanNs, DNS_STUB_SCRIPT, [
    '--host',
    LAN.host,
    '--port',
    '53',
    '--answer',
    '10.99.0.99',
  ]);
  const dnsHost = await lab.service('dns', { address: DNS_HOST });
  dnsStub = await serve(dnsHost.ns, DNS_STUB_SCRIPT, [
    '--host',
    DNS_HOST,
    '--port',
    '53',
    '--answer',
    '198.51.100.99',
  ]);
  await serve(demo.web.service.ns, WHOAMI_SCRIPT, [
    'serve',
    '--host',
    DEMO_ADDRESSES.web,
    '--port',
    String(WHOAMI_PORT),
  ]);
  const home = demo.sites.find((s) => s.name === 'home');
  if (!home) throw new Error('no home site');
  await serve(home.router.ns, WHOAMI_SCRIPT, [
    'serve',
    '--host',
    home.router.lanAddress,
    '--port',
    String(WHOAMI_PORT),
  ]);

  // Each device namespace has its own resolv.conf (never the host's), recorded before Trellis.
  for (const x of devices.values()) {
    lab.base.setResolvConf(x.ns, ORIGINAL_RESOLV_CONF);
    before.set(x.name, await netSnapshot(x.ns));
  }

  // Policy, tagged keys and split DNS, as an admin would set them.
  const agent = join(lab.workDir(), 'edr-agent');
  const owner = demo.control.owner;
  if (!owner) throw new Error('control reported no owner');
  const results = await adminCalls(
    exec,
    demo.control.service.ns,
    lab.workDir(),
    {
      url: demo.control.url,
      owner,
    },
    [
      { method: 'PUT', path: '/v1/admin/policy', body: { policy: policy(owner.email, agent) } },
      taggedKeyRequest('tag:server'),
      taggedKeyRequest('tag:router'),
      taggedKeyRequest('tag:guest'),
      {
        method: 'PATCH',
        path: '/v1/admin/settings',
        body: { dns: { splitDns: { 'corp.example.com': [LAN.host] } } },
      },
    ],
  );
  const secret = (i: number) => (results[i]?.body as { secret: string }).secret;
  const keys: Record<string, string> = {
    alice: demo.control.authKey,
    bob: secret(3),
    exit1: secret(1),
    router1: secret(2),
    router2: secret(2),
  };
  await Promise.all([...daemons.values()].map((t) => t.start()));
  await Promise.all([...daemons.values()].map((t) => t.up(keys[t.name] ?? '')));
  for (const t of daemons.values()) meshIp.set(t.name, (await t.self()).addresses.ipv4);
  await d('exit1').cli(['set', '--advertise-exit-node'], 30_000);
  await d('router1').cli(['set', `--advertise-routes=${LAN.prefix}`], 30_000);
  await d('router2').cli(['set', `--advertise-routes=${LAN.prefix}`], 30_000);
  const ex = meshIp.get('exit1') ?? '';
  for (const port of [22, 80, 443, 8443]) {
    await serve(dev('exit1').ns, WHOAMI_SCRIPT, ['serve', '--host', ex, '--port', String(port)]);
  }
  // alice sees the exit node offered once control auto-approved it.
  await eventually(
    'exit1 offered to alice',
    () => d('alice').status(),
    (s) => s.peers.some((p) => p.name === 'exit1' && p.exitNodeOption),
  );
}, 600_000);

afterAll(async () => {
  await demo?.lab.dispose();
});

describe('device lab: exit node', () => {
  const web = `${DEMO_ADDRESSES.web}:${WHOAMI_PORT}`;

  it('reaches the public host through its own site without an exit node', async () => {
    expect(await seenAs('alice', web)).toBe(dev('alice').publicAddress);
  });

  it('lists and suggests exit nodes, and routes through the chosen one', async () => {
    const list = await d('alice').cli(['exit-node', 'list'], 30_000);
    expect(list).toMatch(/^exit1\s+100\.64\.\S+\s+yes/m);
    expect(await d('alice').cli(['exit-node', 'suggest'], 30_000)).toMatch(
      /^Suggested exit node: exit1/,
    );
    await d('alice').cli(['set', '--exit-node=exit1'], 30_000);
    const s = await eventually(
      'alice using exit1',
      () => d('alice').status(),
      (x) => x.exitNode?.name === 'exit1',
    );
    expect(s.exitNode).toMatchObject({ name: 'exit1', online: true, allowLAN: false });
    await eventually(
      'the public host to see exit1',
      () => seenAs('alice', web),
      (x) => x === dev('exit1').publicAddress,
    );
  });

  it('honours LAN access: off sends the LAN through the exit node, on keeps it local', async () => {
    const home = demo.sites.find((s) => s.name === 'home');
    const gateway = `${home?.router.lanAddress}:${WHOAMI_PORT}`;
    expect(await seenAs('alice', gateway)).toBe(dev('exit1').publicAddress);
    await d('alice').cli(['set', '--exit-node-allow-lan'], 30_000);
    await eventually(
      'the LAN to be direct',
      () => seenAs('alice', gateway),
      (x) => x === dev('alice').lanAddress,
    );
    expect(await seenAs('alice', web)).toBe(dev('exit1').publicAddress);
    await d('alice').cli(['set', '--exit-node-allow-lan=false'], 30_000);
  });

  it('sends DNS through the exit node: the nameserver sees the exit node ask', async () => {
    const asked = async (name: string) => {
      await dnsStub.waitForLine(new RegExp(`"asked":"${name.replace(/\./g, '\\.')}"`), 20_000);
      return dnsStub
        .output()
        .split('\n')
        .filter((l) => l.includes(`"asked":"${name}"`));
    };
    const r = await dnsQuery(exec, dev('alice').ns, '100.100.100.100', 'via-exit.example.org');
    expect(r).toMatchObject({ ok: true, rcode: 'NOERROR', answers: [{ data: '198.51.100.99' }] });
    expect((await asked('via-exit.example.org')).join()).toContain(
      `"from":"${dev('exit1').publicAddress}"`,
    );
  });

  it('turning the exit node off restores the direct path and removes the policy routing', async () => {
    await d('alice').cli(['set', '--exit-node='], 30_000);
    await eventually(
      'the direct path again',
      () => seenAs('alice', web),
      (x) => x === dev('alice').publicAddress,
    );
    const rules = (await exec(dev('alice').ns, 'ip', ['rule', 'show'])).stdout;
    expect(rules).not.toMatch(/lookup 84/);
    const r = await dnsQuery(exec, dev('alice').ns, '100.100.100.100', 'direct.example.org');
    expect(r).toMatchObject({ ok: true, answers: [{ data: '198.51.100.99' }] });
    await dnsStub.waitForLine(/"asked":"direct\.example\.org"/, 20_000);
    expect(dnsStub.output()).toContain(
      `{"asked":"direct.example.org","from":"${dev('alice').publicAddress}"}`,
    );
  });
});

describe('device lab: access policy on real sockets', () => {
  const server = (port: number) => `${meshIp.get('exit1')}:${port}`;

  it('lets group A reach tag:server on tcp/22 only: tcp/80 and ICMP are dropped', async () => {
    await eventually(
      'tcp/22 from alice',
      () => seenAs('alice', server(22)),
      (x) => x === meshIp.get('alice'),
    );
    expect(await seenAs('alice', server(80))).toBe('blocked');
    expect(await pings('alice', meshIp.get('exit1') ?? '')).toBe(false);
  });

  it('lets nothing from group B through (it sees the server, whose filter drops it)', async () => {
    expect(await seenAs('bob', server(22))).toBe('blocked');
    expect(await seenAs('bob', server(80))).toBe('blocked');
    expect(await seenAs('bob', server(8443))).toBe(meshIp.get('bob'));
  });

  it('takes away what a posture grants while the required process is missing, and gives it back', async () => {
    expect(await seenAs('alice', server(443))).toBe('blocked');
    const agent = join(demo.lab.workDir(), 'edr-agent');
    copyFileSync('/bin/sleep', agent);
    chmodSync(agent, 0o755);
    const running = await demo.lab.spawn(dev('alice').ns, agent, ['3600'], { label: 'edr-agent' });
    await eventually(
      'tcp/443 with the agent running',
      () => seenAs('alice', server(443)),
      (x) => x === meshIp.get('alice'),
    );
    const status = await d('alice').status();
    expect(status.posture.find((p) => p.kind === 'process')?.passed).toBe(true);
    await running.stop();
    await eventually(
      'tcp/443 gone with the agent',
      () => seenAs('alice', server(443)),
      (x) => x === 'blocked',
    );
    expect(await seenAs('alice', server(22))).toBe(meshIp.get('alice'));
  });
});

describe('device lab: subnet router and MagicDNS', () => {
  const lanWhoami = `${LAN.host}:${WHOAMI_PORT}`;

  it('reaches the LAN host only once it accepts routes', async () => {
    expect(await pings('alice', LAN.host)).toBe(false);
    expect(await seenAs('alice', lanWhoami)).toBe('blocked');
    await d('alice').cli(['set', '--accept-routes'], 30_000);
    await eventually(
      'the LAN host over the subnet route',
      () => seenAs('alice', lanWhoami),
      (x) => [LAN.router1, LAN.router2].includes(x),
    );
    expect(await pings('alice', LAN.host)).toBe(true);
  });

  it('answers mesh names and sends the split domain to its nameserver behind the router', async () => {
    const seen = (await exec(dev('alice').ns, 'cat', ['/etc/resolv.conf'])).stdout;
    expect(seen).toContain('nameserver 100.100.100.100');
    const fqdn = (await d('exit1').self()).fqdn;
    const name = await dnsQuery(exec, dev('alice').ns, '100.100.100.100', fqdn);
    expect(name).toMatchObject({
      ok: true,
      rcode: 'NOERROR',
      answers: [{ type: 'A', data: meshIp.get('exit1') }],
    });
    const split = await dnsQuery(exec, dev('alice').ns, '100.100.100.100', 'wiki.corp.example.com');
    expect(split).toMatchObject({ ok: true, answers: [{ data: '10.99.0.99' }] });
  });

  it('moves to the other router when the primary one goes away', async () => {
    const primary = await seenAs('alice', lanWhoami);
    const [gone, other] =
      primary === LAN.router1 ? ['router1', LAN.router2] : ['router2', LAN.router1];
    await d(gone).stop();
    await eventually(
      'traffic through the other router',
      () => seenAs('alice', lanWhoami),
      (x) => x === other,
    );
  });
});

describe('device lab: stop', () => {
  it('leaves every device namespace as it found it: nftables, rules, routes, sysctls, DNS', async () => {
    for (const t of daemons.values()) await t.stop();
    for (const x of devices.values()) {
      const after = await netSnapshot(x.ns);
      expect({ name: x.name, ...after }).toEqual({ name: x.name, ...before.get(x.name) });
    }
  });
});
