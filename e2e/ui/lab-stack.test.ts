/**
 * The desktop UI driving a real device in the network lab: a real trellis-control (with its
 * relay and STUN), a real trellisd per device (wireguard-go, magicsock, nftables, routing), the
 * web bridge on the test device's LocalAPI socket, and Debian's Chromium. Everything the user
 * does goes through the page; what it changes is checked with real packets from the device's
 * namespace.
 *
 *   internet: control 198.51.100.10 (relay region 1) · web 198.51.100.80 (the "public" host)
 *   site home (easy NAT): alice — the device whose app the test drives
 *   site dc (no NAT):     exit1 (tag:server, exit node) · router1 (tag:router, 10.99.0.0/24)
 *   site corp (UDP blocked): workpc — reachable only through the relay
 *   LAN 10.99.0.0/24 behind router1: lanhost 10.99.0.10 (whoami)
 *
 * Checked: peers appear as they sign in, labelled direct or relayed as the helper measured;
 * picking an exit node makes the public host see the exit node; accept routes opens the LAN;
 * a failing posture check shows its reason and what to do, then passes; diagnostics ping over
 * the relay. A screenshot of each view lands in out/e2e-ui.
 */
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoLab, DEMO_ADDRESSES, type DemoLab } from '../lab/demo.js';
import { adminCalls, WHOAMI_SCRIPT, whoami } from '../lab/device-probes.js';
import {
  buildRouterLan,
  eventually,
  named,
  serveScript,
  taggedKeyRequest,
} from '../lab/device-world.js';
import { requireLabPrerequisites } from '../lab/netns.js';
import type { Device } from '../lab/topology.js';
import { LabTrellisd } from '../lab/trellisd.js';
import { openUi, requireChromium, screenshot, type UiWorld } from './harness.js';

const LAN = { prefix: '10.99.0.0/24', host: '10.99.0.10', router1: '10.99.0.1' };
const WHOAMI_PORT = 8;
/** Sign-in, policy and route changes travel through control: allow for a busy machine. */
const CONVERGE_MS = 90_000;
/** How long the page may take to show what the helper reports. */
const UI_MS = 30_000;

let demo: DemoLab;
let ui: UiWorld;
let page: Page;
let agentPath: string;
const daemons = new Map<string, LabTrellisd>();
const devices = new Map<string, Device>();
const keys = new Map<string, string>();
const meshIp = new Map<string, string>();

const d = (name: string): LabTrellisd => named(daemons, 'daemon', name);
const dev = (name: string): Device => named(devices, 'device', name);
const nav = (name: string) =>
  page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name, exact: true });

/** Who the whoami server at `server` sees, asked from alice's namespace; "blocked" on no answer. */
async function aliceSeenAs(server: string): Promise<string> {
  const r = await whoami(
    (ns, command, args, options) => demo.lab.exec(ns, command, args, options),
    dev('alice').ns,
    server,
    { timeoutMs: 2_000 },
  );
  return r.ok ? r.seenAs : 'blocked';
}

/** A few packets from alice to `peer`'s mesh address, so magicsock finds (or gives up on) a path. */
async function pingFromAlice(peer: string): Promise<void> {
  const to = meshIp.get(peer);
  if (!to) throw new Error(`no mesh address for ${peer}`);
  await demo.lab
    .exec(dev('alice').ns, 'ping', ['-n', '-q', '-c', '3', '-i', '0.3', '-W', '2', to])
    .catch(() => undefined);
}

function policy(ownerEmail: string): string {
  return JSON.stringify({
    groups: { 'group:staff': [ownerEmail] },
    tagOwners: { 'tag:server': ['autogroup:admin'], 'tag:router': ['autogroup:admin'] },
    postures: { 'posture:edr': [{ kind: 'process', processes: [{ linux: agentPath }] }] },
    acls: [
      // Everything: the mesh, the internet through exit nodes, and subnet routes.
      { action: 'accept', src: ['group:staff'], dst: ['*:*'] },
      // A rule that names the posture, so control evaluates it for staff devices.
      {
        action: 'accept',
        src: ['group:staff'],
        dst: ['tag:server:443'],
        proto: 'tcp',
        srcPosture: ['posture:edr'],
      },
    ],
    autoApprovers: { routes: { [LAN.prefix]: ['tag:router'] }, exitNode: ['tag:server'] },
  });
}

beforeAll(async () => {
  requireLabPrerequisites(['nft', 'ping', 'wireguard-go', 'wg']);
  requireChromium();
  demo = await buildDemoLab({
    sites: [
      { name: 'home', nat: 'easy', devices: ['alice'] },
      { name: 'dc', nat: 'none', devices: ['exit1', 'router1'] },
      { name: 'corp', nat: 'blocked', devices: ['workpc'] },
    ],
    onDevice: async ({ lab, device, control }) => {
      devices.set(device.name, device);
      daemons.set(device.name, new LabTrellisd(lab, device, { controlUrl: control.url }));
    },
  });
  const lab = demo.lab;
  const lanNs = await buildRouterLan(lab, {
    prefix: LAN.prefix,
    host: LAN.host,
    routers: [{ device: dev('router1'), address: LAN.router1 }],
  });
  await serveScript(lab, lanNs, WHOAMI_SCRIPT, [
    'serve',
    '--host',
    LAN.host,
    '--port',
    String(WHOAMI_PORT),
  ]);
  await serveScript(lab, demo.web.service.ns, WHOAMI_SCRIPT, [
    'serve',
    '--host',
    DEMO_ADDRESSES.web,
    '--port',
    String(WHOAMI_PORT),
  ]);
  // Each device namespace resolves with a file of its own, never the host's.
  for (const x of devices.values()) lab.base.setResolvConf(x.ns, 'nameserver 198.51.100.53\n');

  agentPath = join(lab.workDir(), 'edr-agent');
  const owner = demo.control.owner;
  if (!owner) throw new Error('control reported no owner');
  const results = await adminCalls(
    (ns, command, args, options) => lab.exec(ns, command, args, options),
    demo.control.service.ns,
    lab.workDir(),
    { url: demo.control.url, owner },
    [
      { method: 'PUT', path: '/v1/admin/policy', body: { policy: policy(owner.email) } },
      taggedKeyRequest('tag:server'),
      taggedKeyRequest('tag:router'),
    ],
  );
  const secret = (i: number) => (results[i]?.body as { secret: string }).secret;
  keys.set('alice', demo.control.authKey);
  keys.set('workpc', demo.control.authKey);
  keys.set('exit1', secret(1));
  keys.set('router1', secret(2));
  await Promise.all([...daemons.values()].map((t) => t.start()));

  // alice signs in first; the others join while the app is open.
  await d('alice').up(keys.get('alice') ?? '');
  meshIp.set('alice', (await d('alice').self()).addresses.ipv4);
  ui = await openUi({ socketPath: d('alice').socket });
  page = ui.page;
}, 600_000);

afterAll(async () => {
  await ui?.close();
  await demo?.lab.dispose();
}, 120_000);

describe('desktop UI on a device in the lab', () => {
  it('shows this device connected, with its mesh address', async () => {
    await expect
      .poll(() => page.getByTestId('connection-state').textContent(), { timeout: UI_MS })
      .toBe('Connected');
    expect(await page.getByTestId('self-name').textContent()).toBe('alice');
    expect(await page.getByTestId('self-ipv4').textContent()).toBe(meshIp.get('alice'));
    await screenshot(page, 'lab-home');
  });

  it('shows peers appear as they sign in, labelled direct or relayed as measured', async () => {
    await nav('Peers').click();
    const list = page.getByRole('list', { name: 'Peers' });
    const row = (name: string) => list.getByRole('button', { name: new RegExp(`^${name}`) });
    expect(await list.getByRole('button').count()).toBe(0);

    for (const name of ['exit1', 'router1', 'workpc']) {
      await d(name).up(keys.get(name) ?? '');
      meshIp.set(name, (await d(name).self()).addresses.ipv4);
      await expect.poll(() => row(name).count(), { timeout: UI_MS }).toBe(1);
      await expect.poll(() => row(name).textContent(), { timeout: UI_MS }).toContain(', online');
    }
    expect(await row('workpc').textContent()).toContain(meshIp.get('workpc'));

    // Traffic makes magicsock probe: exit1 (no NAT) is reached directly from alice's easy NAT,
    // workpc (UDP blocked at its site) only through the relay.
    for (const name of ['exit1', 'workpc']) await pingFromAlice(name);
    await expect
      .poll(
        async () => {
          await pingFromAlice('exit1');
          return row('exit1').textContent();
        },
        { timeout: CONVERGE_MS, interval: 1_000 },
      )
      .toMatch(/direct/);
    await expect
      .poll(
        async () => {
          await pingFromAlice('workpc');
          return row('workpc').textContent();
        },
        { timeout: CONVERGE_MS, interval: 1_000 },
      )
      .toMatch(/relayed \(region 1\)/);
    // The labels are the helper's own measurement, not the page's guess.
    const status = await d('alice').status();
    const path = (name: string) => status.peers.find((p) => p.name === name)?.path;
    expect(path('exit1')).toMatchObject({ type: 'direct' });
    expect(path('workpc')).toMatchObject({ type: 'relay', region: 1 });
    await screenshot(page, 'lab-peers');

    await row('exit1').click();
    const detail = page.getByRole('region', { name: 'Details of exit1' });
    const direct = path('exit1');
    expect(await detail.textContent()).toContain(
      `direct via ${direct?.type === 'direct' ? direct.endpoint : '?'}`,
    );
    await screenshot(page, 'lab-peer-detail');
    await page.getByRole('button', { name: 'Close details' }).click();
  }, 300_000);

  it('picks an exit node: the public host then sees the exit node, and None undoes it', async () => {
    const web = `${DEMO_ADDRESSES.web}:${WHOAMI_PORT}`;
    expect(await aliceSeenAs(web)).toBe(dev('alice').publicAddress);
    // exit1 offers itself; the policy's autoApprovers approve it.
    await d('exit1').cli(['set', '--advertise-exit-node'], 30_000);
    await nav('Exit node').click();
    const group = page.getByRole('radiogroup', { name: 'Exit node' });
    const exit1 = group.getByRole('radio', { name: /^exit1/ });
    await expect.poll(() => exit1.count(), { timeout: CONVERGE_MS }).toBe(1);
    await expect.poll(() => exit1.isDisabled(), { timeout: UI_MS }).toBe(false);
    expect(await group.getByRole('radio', { name: 'None' }).isChecked()).toBe(true);
    await exit1.check();
    await expect
      .poll(() => page.getByTestId('header-state').textContent(), { timeout: UI_MS })
      .toBe('Connected via exit1');
    await eventually(
      'the public host to see exit1',
      () => aliceSeenAs(web),
      (x) => x === dev('exit1').publicAddress,
      CONVERGE_MS,
    );
    expect((await d('alice').status()).exitNode).toMatchObject({ name: 'exit1', online: true });
    await screenshot(page, 'lab-exit-node');

    await group.getByRole('radio', { name: 'None' }).check();
    await expect
      .poll(() => page.getByTestId('header-state').textContent(), { timeout: UI_MS })
      .toBe('Connected');
    await eventually(
      'the public host to see alice’s own site again',
      () => aliceSeenAs(web),
      (x) => x === dev('alice').publicAddress,
      CONVERGE_MS,
    );
  }, 240_000);

  it('turns accept routes on to reach the LAN behind the router, and off again', async () => {
    const lanHost = `${LAN.host}:${WHOAMI_PORT}`;
    await d('router1').cli(['set', `--advertise-routes=${LAN.prefix}`], 30_000);
    await nav('Routes').click();
    const table = page.getByRole('table', { name: 'Offered routes' });
    const offered = table.getByRole('row').filter({ hasText: LAN.prefix });
    await expect.poll(() => offered.count(), { timeout: CONVERGE_MS }).toBe(1);
    expect(await offered.textContent()).toContain('router1');
    expect(await offered.textContent()).toContain('not used');
    expect(await aliceSeenAs(lanHost)).toBe('blocked');

    const accept = page.getByRole('switch', { name: 'Use subnet routes' });
    expect(await accept.getAttribute('aria-checked')).toBe('false');
    await accept.click();
    await expect.poll(() => accept.getAttribute('aria-checked'), { timeout: UI_MS }).toBe('true');
    await expect.poll(() => offered.textContent(), { timeout: UI_MS }).toContain('primary');
    await eventually(
      'the LAN host over the subnet route',
      () => aliceSeenAs(lanHost),
      (x) => x === LAN.router1,
      CONVERGE_MS,
    );
    const prefs = await d('alice').client.getPrefs();
    expect(prefs.ok && prefs.value.acceptRoutes).toBe(true);
    await screenshot(page, 'lab-routes');

    await accept.click();
    await expect.poll(() => accept.getAttribute('aria-checked'), { timeout: UI_MS }).toBe('false');
    await eventually(
      'the LAN host out of reach again',
      () => aliceSeenAs(lanHost),
      (x) => x === 'blocked',
      CONVERGE_MS,
    );
  }, 240_000);

  it('shows the failing posture check with its reason and what to do, then its pass', async () => {
    await nav('Posture').click();
    const checks = page.getByRole('list', { name: 'Posture checks' });
    await expect.poll(() => checks.getByRole('listitem').count(), { timeout: UI_MS }).toBe(1);
    const item = checks.getByRole('listitem').first();
    const text = await item.textContent();
    expect(text).toContain('fails');
    expect(text).toContain(`Start ${agentPath} (it is not running).`);
    expect(text).toContain('What to do: Start the application your administrators require');
    expect(await page.getByRole('status').filter({ hasText: 'checks fail' }).textContent()).toBe(
      '1 of 1 checks fail: some peers may be unreachable until they pass.',
    );
    const failing = (await d('alice').status()).posture;
    expect(failing).toMatchObject([{ kind: 'process', passed: false }]);
    expect(text).toContain(failing[0]?.check);
    await screenshot(page, 'lab-posture-failing');

    // The required process starts: the helper reports it and control's verdict reaches the page.
    copyFileSync('/bin/sleep', agentPath);
    chmodSync(agentPath, 0o755);
    const agent = await demo.lab.spawn(dev('alice').ns, agentPath, ['3600'], {
      label: 'edr-agent',
    });
    try {
      await expect
        .poll(() => page.getByRole('status').filter({ hasText: 'checks pass' }).count(), {
          timeout: CONVERGE_MS,
        })
        .toBe(1);
      expect(await item.textContent()).toContain('passes');
      await screenshot(page, 'lab-posture-passing');
    } finally {
      await agent.stop();
    }
  }, 180_000);

  it('runs a network check and pings the relayed peer from diagnostics', async () => {
    await nav('Diagnostics').click();
    await page.getByRole('button', { name: 'Run network check' }).click();
    // alice's site NAT is endpoint-independent: one public address, the site's.
    await expect
      .poll(
        () =>
          page
            .getByRole('definition')
            .filter({ hasText: `${dev('alice').publicAddress}:` })
            .count(),
        { timeout: CONVERGE_MS },
      )
      .toBeGreaterThan(0);
    await page.getByRole('combobox', { name: 'Peer' }).fill('workpc');
    await page.getByRole('button', { name: 'Ping', exact: true }).click();
    const results = page.getByRole('list', { name: 'Ping results for workpc' });
    await expect
      .poll(() => results.getByRole('listitem').count(), { timeout: UI_MS })
      .toBeGreaterThan(0);
    await expect
      .poll(() => results.getByRole('listitem').first().textContent(), { timeout: UI_MS })
      .toMatch(/^pong from workpc via relay region 1 in \d+ ms/);
    await screenshot(page, 'lab-diagnostics');
  }, 180_000);

  it('shows settings with this device’s versions', async () => {
    await nav('Settings').click();
    await expect
      .poll(() => page.getByRole('region', { name: 'Account' }).count(), { timeout: UI_MS })
      .toBe(1);
    await screenshot(page, 'lab-settings');
  });
});
