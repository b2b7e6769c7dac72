/**
 * The mesh harness itself (mesh.ts), with real trellisd and wireguard-go in every device: devices
 * behind every NAT kind reach control and join with the pre-auth key, two devices with public
 * addresses ping each other through the tunnel (their endpoints need no NAT traversal), and the
 * levers the NAT-traversal checks pull really act: a region's STUN/relay host stops and starts,
 * control stops and starts (devices notice, the tunnel keeps working), and a NAT rebinding gives
 * a site a new public address while keeping its NAT kind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetwork } from './addressing.js';
import { DEMO_REGION_IDS } from './demo.js';
import {
  buildMeshLab,
  isDirectAt,
  measureConnect,
  pingThroughTunnel,
  waitForPeerPath,
  type MeshDevice,
  type MeshLab,
} from './mesh.js';
import { stunProbe } from './stun.js';

const SITES = [
  { name: 'open1', nat: 'none' },
  { name: 'open2', nat: 'none' },
  { name: 'home', nat: 'easy' },
  { name: 'mobile', nat: 'hard' },
  { name: 'cgnat', nat: 'double' },
  { name: 'corp', nat: 'blocked' },
] as const;
/** Generous on a shared two-core machine; the real figures are printed, not asserted. */
const CONNECT_TIMEOUT_MS = 30_000;
/** Map-stream reconnects back off up to 30 s (DEFAULT_BACKOFF). */
const CONTROL_RECONNECT_TIMEOUT_MS = 60_000;
const STUN_TIMEOUT_MS = 1_000;

let mesh: MeshLab;
const dev = (name: (typeof SITES)[number]['name']): MeshDevice => mesh.device(name);

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  mesh = await buildMeshLab({ sites: SITES, upAll: true });
}, 300_000);

afterAll(async () => {
  await mesh?.dispose();
});

describe('mesh lab harness', () => {
  it('brings up a trellisd behind every NAT kind: registered, on control, every peer online', async () => {
    await mesh.lab.assertIsolated();
    const selves = await Promise.all(mesh.devices.map((d) => d.daemon.self()));
    for (const s of selves) expect(inNetwork(s.addresses.ipv4, '100.64.0.0', 10)).toBe(true);
    expect(new Set(selves.map((s) => s.addresses.ipv4)).size).toBe(SITES.length);
    for (const d of mesh.devices) {
      await waitFor(
        `${d.name} sees every other device online`,
        async () => {
          const s = await d.daemon.status();
          const online = new Set(s.peers.filter((p) => p.online).map((p) => p.id));
          return (
            s.backend.state === 'running' &&
            s.controlConnected &&
            selves.every((x) => x.name === d.name || online.has(x.id))
          );
        },
        CONNECT_TIMEOUT_MS,
      );
    }
    // Every device got control's relay map with the two standalone regions.
    expect(mesh.regions.map((r) => [r.id, r.standalone])).toEqual([
      [DEMO_REGION_IDS.builtIn, true],
      [DEMO_REGION_IDS.second, true],
    ]);
  });

  it('two devices with public addresses ping each other through the tunnel, directly', async () => {
    const [a, b] = [dev('open1'), dev('open2')];
    const times = await measureConnect(a, b, CONNECT_TIMEOUT_MS);
    expect(times.firstReplyMs).not.toBeNull();
    expect(times.directMs).not.toBeNull();
    const [ipA, ipB] = await Promise.all([a.daemon.self(), b.daemon.self()]).then((s) =>
      s.map((x) => x.addresses.ipv4),
    );
    const there = await pingThroughTunnel(a, ipB!);
    const back = await pingThroughTunnel(b, ipA!);
    expect(there.replies.length).toBeGreaterThan(0);
    expect(back.replies.length).toBeGreaterThan(0);
    const { peer } = await waitForPeerPath(a, b, (p) => isDirectAt(p, b.publicAddress), 10_000);
    expect(peer.path.type).toBe('direct');
    // The user's view: `trellis ping` and LocalAPI /ping both say direct, at b's address.
    const cli = await a.daemon.cliPing(ipB!, 2);
    const api = await a.daemon.ping(ipB!, 2);
    for (const line of cli) {
      expect(line.outcome).toBe('pong');
      if (line.outcome === 'pong') expect(line.via).toMatchObject({ type: 'direct' });
    }
    for (const r of api.results) {
      expect(r.outcome).toBe('pong');
      if (r.outcome === 'pong' && r.path.type === 'direct') {
        expect(r.path.endpoint.startsWith(`${b.publicAddress}:`)).toBe(true);
      } else expect(r).toMatchObject({ path: { type: 'direct' } });
    }
    process.stdout.write(
      `mesh harness: none-none first reply ${times.firstReplyMs} ms, direct ${times.directMs} ms\n`,
    );
  });

  it("stops and starts a region's STUN/relay host", async () => {
    const region = mesh.region(DEMO_REGION_IDS.builtIn);
    const probe = () =>
      stunProbe(mesh.lab, dev('home').device.ns, [region.stun], { timeoutMs: STUN_TIMEOUT_MS });
    expect((await probe()).answers[0]?.ok).toBe(true);
    await region.stop();
    expect(region.running).toBe(false);
    expect((await probe()).answers[0]).toMatchObject({ ok: false, error: { code: 'timeout' } });
    await region.start();
    expect(region.running).toBe(true);
    expect((await probe()).answers[0]?.ok).toBe(true);
  });

  it('stops control (devices notice, the tunnel keeps working) and starts it again', async () => {
    const [a, b] = [dev('open1'), dev('open2')];
    const ipB = (await b.daemon.self()).addresses.ipv4;
    await mesh.control.stop();
    await waitFor(
      'open1 notices control is gone',
      async () => !(await a.daemon.status()).controlConnected,
      CONTROL_RECONNECT_TIMEOUT_MS,
    );
    const run = await pingThroughTunnel(a, ipB, { count: 5, intervalS: 0.2, replyWaitS: 2 });
    expect(run.replies.length).toBe(5);
    await mesh.control.start();
    await waitFor(
      'open1 reconnects to control',
      async () => (await a.daemon.status()).controlConnected,
      CONTROL_RECONNECT_TIMEOUT_MS,
    );
  });

  it('rebinds a NAT: an easy site gets a new public address and stays endpoint-independent', async () => {
    const d = dev('home');
    const servers = mesh.regions.map((r) => r.stun);
    const before = await stunProbe(mesh.lab, d.device.ns, servers);
    const old = d.publicAddress;
    expect(before.answers.map((a) => a.ok && a.mapped.address)).toEqual([old, old]);
    const fresh = await d.site.rebindNat();
    expect(fresh).not.toBe(old);
    expect(d.publicAddress).toBe(fresh);
    expect(d.site.publicAddress).toBe(fresh);
    expect(d.site.router.ruleset).toContain(`snat ip to ${fresh}`);
    const after = await stunProbe(mesh.lab, d.device.ns, servers);
    for (const a of after.answers) {
      expect(a).toMatchObject({ ok: true, mapped: { address: fresh, port: after.local.port } });
    }
    // A double NAT rebinds at its outer (carrier) router; a 'none' site has nothing to rebind.
    const cg = dev('cgnat');
    const cgFresh = await cg.site.rebindNat();
    expect(cg.site.outer?.ruleset).toContain(`snat ip to ${cgFresh}`);
    const cgProbe = await stunProbe(mesh.lab, cg.device.ns, servers);
    expect(cgProbe.answers.map((a) => a.ok && a.mapped.address)).toEqual([cgFresh, cgFresh]);
    await expect(dev('open1').site.rebindNat()).rejects.toThrow(/no NAT/);
  });
});
