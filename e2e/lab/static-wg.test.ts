/**
 * Plain WireGuard (static-wg.ts, the throughput baseline) across two easy NATs. It connects only
 * because each router drops what arrives unsolicited for itself (nat.ts): otherwise the first
 * peer's packet would be recorded as a flow to the other router and that router's own outgoing
 * mapping would lose its port, so neither side could reach the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireLabPrerequisites } from './netns.js';
import { runPing } from './ping.js';
import { STATIC_WG_PORT, staticWireGuardLink, type StaticWgLink } from './static-wg.js';
import { createNatLab, type NatLab, type Site } from './topology.js';

let lab: NatLab;
let sites: Site[];
let link: StaticWgLink;

beforeAll(async () => {
  requireLabPrerequisites(['nft', 'ping', 'wireguard-go', 'wg', 'conntrack']);
  lab = await createNatLab();
  sites = await Promise.all(['east', 'west'].map((name) => lab.site({ name, nat: 'easy' })));
  const [a, b] = await Promise.all(sites.map((s) => s.device(`${s.name}pc`)));
  link = await staticWireGuardLink(lab, a!, b!);
}, 120_000);

afterAll(async () => {
  await link?.dispose();
  await lab?.dispose();
});

describe('plain WireGuard between two easy NATs', () => {
  it('carries pings both ways', async () => {
    const [a, b] = link.ends;
    const there = await runPing(lab, a.device.ns, b.address, { count: 3, intervalS: 0.2 });
    const back = await runPing(lab, b.device.ns, a.address, { count: 3, intervalS: 0.2 });
    expect(there.replies.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(back.replies.map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it("keeps each device's port on both routers: one flow, port-preserved, replied", async () => {
    for (const [i, site] of sites.entries()) {
      const other = sites[1 - i]!;
      const { stdout } = await lab.exec(site.router.ns, 'conntrack', ['-L', '-p', 'udp']);
      const flows = stdout.split('\n').filter((l) => l.startsWith('udp'));
      expect(flows, stdout).toHaveLength(1);
      const flow = flows[0]!;
      expect(flow).not.toContain('UNREPLIED');
      // Original direction from the device; reply direction addressed to the router's own port.
      expect(flow).toContain(`dst=${other.publicAddress} sport=${STATIC_WG_PORT}`);
      expect(flow).toContain(
        `src=${other.publicAddress} dst=${site.publicAddress} sport=${STATIC_WG_PORT} dport=${STATIC_WG_PORT}`,
      );
    }
  });
});
