/**
 * UPnP IGD port mapping in the namespace lab, with real miniupnpd speaking UPnP only (NAT-PMP and
 * PCP off) on a site router: trellisd finds the gateway over SSDP, maps magicsock's port with
 * SOAP AddPortMapping, `trellis netcheck` reports UPnP, a hard-hard pair goes direct on the mapped
 * endpoint, and stopping trellisd deletes the mapping (DeletePortMapping).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildMeshLab,
  isDirectAt,
  waitForPeerPath,
  type MeshDevice,
  type MeshLab,
} from './lab/mesh.js';
import { requireLabPrerequisites } from './lab/netns.js';
import { MINIUPNPD, portMappings, useUpnpOnly, waitForPortMapping } from './lab/portmap.js';

/** Generous: two daemons on a loaded two-core machine, a netcheck every 20–26 s. */
const PATH_BOUND_MS = 60_000;
const MAPPING_BOUND_MS = 45_000;

let mesh: MeshLab;
let mapped: MeshDevice;
let plain: MeshDevice;

beforeAll(async () => {
  requireLabPrerequisites([MINIUPNPD]);
  mesh = await buildMeshLab({
    sites: [
      { name: 'up1a', nat: 'hard', portMapping: true },
      { name: 'hd2b', nat: 'hard' },
    ],
  });
  mapped = mesh.device('up1a');
  plain = mesh.device('hd2b');
  await useUpnpOnly(mesh.lab, mapped.site);
  await mesh.start();
  await mesh.up();
}, 300_000);

afterAll(async () => {
  await mesh?.dispose();
});

describe('port mapping (UPnP IGD via miniupnpd)', () => {
  it('maps magicsock’s port over UPnP, and netcheck reports UPnP only', async () => {
    const rule = await waitForPortMapping(mesh.lab, mapped, MAPPING_BOUND_MS);
    expect(rule.internalAddress).toBe(mapped.device.lanAddress);
    // miniupnpd speaks nothing but UPnP here, so the rule can only have come from it.
    const report = await mapped.daemon.netcheck();
    expect(report.portMapping).toEqual({ upnp: true, natPmp: false, pcp: false });
    const text = await mapped.daemon.cli(['netcheck'], 60_000);
    expect(text).toMatch(/Port mapping:\s+UPnP\n/);
    expect(text).toContain(`Port mapped:       ${mapped.publicAddress}:${rule.externalPort}`);
    expect((await plain.daemon.netcheck()).portMapping).toEqual({
      upnp: false,
      natPmp: false,
      pcp: false,
    });
  }, 120_000);

  it('a hard-hard pair goes direct on the UPnP-mapped endpoint', async () => {
    const [rule] = await portMappings(mesh.lab, mapped.site.router.ns);
    expect(rule).toBeDefined();
    const mappedEndpoint = `${mapped.publicAddress}:${rule!.externalPort}`;
    const ba = await waitForPeerPath(
      plain,
      mapped,
      (p) => isDirectAt(p, mapped.publicAddress),
      PATH_BOUND_MS,
    );
    expect(ba.peer.path).toMatchObject({ type: 'direct', endpoint: mappedEndpoint });
    const pong = await plain.daemon.ping((await mapped.daemon.self()).addresses.ipv4, 3, 5_000);
    expect(pong.results).toContainEqual(
      expect.objectContaining({
        outcome: 'pong',
        path: { type: 'direct', endpoint: mappedEndpoint },
      }),
    );
  }, 180_000);

  it('stopping trellisd deletes the mapping', async () => {
    expect(await portMappings(mesh.lab, mapped.site.router.ns)).toHaveLength(1);
    await mapped.daemon.stop();
    expect(await portMappings(mesh.lab, mapped.site.router.ns)).toEqual([]);
  }, 60_000);
});
