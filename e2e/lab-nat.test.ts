/**
 * The lab's NAT kinds, verified with real packets: a device in a site of each kind probes two
 * STUN servers on different internet networks from one UDP socket, and the mapped addresses they
 * report must show that kind's behaviour (docs/lab.md). Reachability: ICMP to an internet host,
 * and TCP for the UDP-blocked site.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetwork } from './lab/addressing.js';
import { NAT_KINDS, type NatKind } from './lab/nat.js';
import { requireLabPrerequisites } from './lab/netns.js';
import { pings } from './lab/ping.js';
import type { HostPort, StunProbeOutput } from './lab/script-output.js';
import { startLabStunServer, stunProbe, stunProbeAndListen } from './lab/stun.js';
import { startLabTcpEcho, tcpProbe } from './lab/tcp.js';
import { createNatLab, type Device, type NatLab, type Service, type Site } from './lab/topology.js';
import { sendDatagram } from './lab/udp.js';

/** Two STUN servers on different networks, so "same mapping" is not an artefact of one route. */
const STUN1_ADDRESS = '198.51.100.20';
const STUN2_ADDRESS = '203.0.113.20';
const WEB_ADDRESS = '198.51.100.30';
/** Where relays and control listen in real deployments: TCP 443 must get out of every site. */
const WEB_TCP_PORT = 443;
/** A firewalled probe waits this long per server; an answered one takes about a millisecond. */
const BLOCKED_PROBE_TIMEOUT_MS = 1_000;
/** How long a probe listens for unsolicited datagrams: the senders start within milliseconds. */
const LISTEN_MS = 1_500;

let lab: NatLab;
let stun: HostPort[];
let stunHosts: Service[];
let web: Service;
let webEcho: HostPort;
const sites = new Map<NatKind, Site>();
const devices = new Map<NatKind, Device>();

const device = (kind: NatKind): Device => {
  const d = devices.get(kind);
  if (!d) throw new Error(`no device for ${kind}`);
  return d;
};
const site = (kind: NatKind): Site => {
  const s = sites.get(kind);
  if (!s) throw new Error(`no site for ${kind}`);
  return s;
};

/** Both answers, which must both have succeeded. */
function mappings(probe: StunProbeOutput): [HostPort, HostPort] {
  const [a, b] = probe.answers;
  if (!a?.ok || !b?.ok) throw new Error(`a STUN server did not answer: ${JSON.stringify(probe)}`);
  return [a.mapped, b.mapped];
}

beforeAll(async () => {
  requireLabPrerequisites(['nft', 'ping']);
  lab = await createNatLab();
  const [s1, s2, w] = await Promise.all([
    lab.service('stun1', { address: STUN1_ADDRESS }),
    lab.service('stun2', { address: STUN2_ADDRESS }),
    lab.service('web', { address: WEB_ADDRESS }),
  ]);
  web = w;
  stunHosts = [s1, s2];
  const [server1, server2, echo] = await Promise.all([
    startLabStunServer(lab, s1),
    startLabStunServer(lab, s2),
    startLabTcpEcho(lab, w, WEB_TCP_PORT),
    ...NAT_KINDS.map(async (nat) => {
      const s = await lab.site({ name: nat, nat });
      sites.set(nat, s);
      devices.set(nat, await s.device(`${nat}1`));
    }),
  ]);
  stun = [server1.endpoint, server2.endpoint];
  webEcho = echo.endpoint;
});

afterAll(async () => {
  await lab?.dispose();
});

describe('namespace NAT lab', () => {
  it('stays inside its own namespaces, all named with the run prefix', async () => {
    await lab.assertIsolated();
    const names = lab.namespaces();
    // internet + 3 services + 6 routers (double has two) + 5 devices
    expect(names).toHaveLength(1 + 3 + 6 + 5);
    for (const ns of names) expect(ns.startsWith(`${lab.prefix}-`)).toBe(true);
    expect(STUN1_ADDRESS).not.toBe(STUN2_ADDRESS);
    expect(stun.map((s) => s.address)).toEqual([STUN1_ADDRESS, STUN2_ADDRESS]);
  });

  it("none: the device's own public address is what the internet sees", async () => {
    const d = device('none');
    expect(inNetwork(d.lanAddress, '192.0.2.0', 24)).toBe(true);
    const probe = await stunProbe(lab, d.ns, stun);
    const [m1, m2] = mappings(probe);
    expect(m1).toEqual({ address: d.lanAddress, port: probe.local.port });
    expect(m2).toEqual(m1);
    // Routed, not NATed: an internet host reaches the device unsolicited.
    expect(await pings(lab, web.ns, d.lanAddress)).toBe(true);
  });

  it('easy: one public ip:port for every destination (endpoint-independent, port-preserving)', async () => {
    const d = device('easy');
    const probe = await stunProbe(lab, d.ns, stun);
    const [m1, m2] = mappings(probe);
    expect(m1).toEqual({ address: site('easy').router.wanAddress, port: probe.local.port });
    expect(m2).toEqual(m1);
    expect(d.publicAddress).toBe(m1.address);
    // NATed: the private address is not reachable from the internet.
    expect(await pings(lab, web.ns, d.lanAddress)).toBe(false);
  });

  it('none: an unsolicited datagram from any internet host reaches the device', async () => {
    const d = device('none');
    const { probe, received } = await stunProbeAndListen(lab, d.ns, stun.slice(0, 1), LISTEN_MS);
    const [mapped] = probe.answers.map((a) => (a.ok ? a.mapped : null));
    expect(mapped).toBeTruthy();
    await sendDatagram(lab, web.ns, mapped!);
    expect((await received).map((r) => r.from.address)).toEqual([WEB_ADDRESS]);
  });

  it('easy: filtering is address-dependent: any port of a contacted host gets in, other hosts do not', async () => {
    const d = device('easy');
    const { probe, received } = await stunProbeAndListen(lab, d.ns, stun.slice(0, 1), LISTEN_MS);
    const [mapped] = probe.answers.map((a) => (a.ok ? a.mapped : null));
    expect(mapped?.address).toBe(site('easy').router.wanAddress);
    // The STUN server's host from another (ephemeral) port gets in; a host never contacted not.
    await sendDatagram(lab, web.ns, mapped!);
    await sendDatagram(lab, stunHosts[0]!.ns, mapped!);
    expect((await received).map((r) => r.from.address)).toEqual([stunHosts[0]!.address]);
  });

  it('hard: filtering is address-and-port dependent: not even the contacted host from another port', async () => {
    const d = device('hard');
    const { probe, received } = await stunProbeAndListen(lab, d.ns, stun.slice(0, 1), LISTEN_MS);
    const [mapped] = probe.answers.map((a) => (a.ok ? a.mapped : null));
    expect(mapped?.address).toBe(site('hard').router.wanAddress);
    await sendDatagram(lab, web.ns, mapped!);
    await sendDatagram(lab, stunHosts[0]!.ns, mapped!);
    expect(await received).toEqual([]);
  });

  it('hard: a different public port for each destination (symmetric)', async () => {
    const d = device('hard');
    const probe = await stunProbe(lab, d.ns, stun);
    const [m1, m2] = mappings(probe);
    expect(m1.address).toBe(site('hard').router.wanAddress);
    expect(m2.address).toBe(m1.address);
    // Random ports from the whole range: equal by chance with probability ~1/64 000.
    expect(m2.port).not.toBe(m1.port);
  });

  it("double: mapped to the outer router's WAN address, still endpoint-independent", async () => {
    const d = device('double');
    const s = site('double');
    expect(s.outer).not.toBeNull();
    const probe = await stunProbe(lab, d.ns, stun);
    const [m1, m2] = mappings(probe);
    expect(m1).toEqual({ address: s.outer?.wanAddress, port: probe.local.port });
    expect(m2).toEqual(m1);
    expect(m1.address).not.toBe(s.router.wanAddress); // the inner router's is private
    expect(inNetwork(s.router.wanAddress, '172.16.0.0', 12)).toBe(true);
  });

  it('blocked: UDP to STUN times out while TCP to an internet host gets through', async () => {
    const d = device('blocked');
    const [probe, tcp] = await Promise.all([
      stunProbe(lab, d.ns, stun, { timeoutMs: BLOCKED_PROBE_TIMEOUT_MS }),
      tcpProbe(lab, d.ns, webEcho),
    ]);
    expect(probe.answers.map((a) => (a.ok ? 'answered' : a.error.code))).toEqual([
      'timeout',
      'timeout',
    ]);
    expect(tcp.ok).toBe(true);
  });

  it.each([
    ['none', true],
    ['easy', true],
    ['hard', true],
    ['double', true],
    // Only TCP leaves a 'blocked' site; ICMP is dropped like UDP (docs/lab.md).
    ['blocked', false],
  ] as const)('%s: ping to an internet host answered → %s', async (kind, expected) => {
    expect(await pings(lab, device(kind).ns, WEB_ADDRESS)).toBe(expected);
  });
});
