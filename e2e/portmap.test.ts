/**
 * Port mapping in the namespace lab with real miniupnpd (NAT-PMP and PCP) on a site router:
 * trellisd maps magicsock's port on its gateway, `trellis netcheck` reports the protocols, a
 * hard-hard pair (one router with port mapping) gets a direct path on the mapped endpoint,
 * which without the mapping stays relayed (e2e/nat-matrix.test.ts), and stopping trellisd
 * deletes the mapping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildMeshLab,
  isDirectAt,
  pingThroughTunnel,
  waitForPeerPath,
  type MeshDevice,
  type MeshLab,
} from './lab/mesh.js';
import { requireLabPrerequisites } from './lab/netns.js';
import { MINIUPNPD, portMappings, waitForPortMapping } from './lab/portmap.js';

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
      { name: 'pm1a', nat: 'hard', portMapping: true },
      { name: 'hd1b', nat: 'hard' },
    ],
  });
  mapped = mesh.device('pm1a');
  plain = mesh.device('hd1b');
  await mesh.start();
  await mesh.up();
}, 300_000);

afterAll(async () => {
  await mesh?.dispose();
});

describe('port mapping (NAT-PMP/PCP via miniupnpd)', () => {
  it('maps magicsock’s port on the gateway, and netcheck reports NAT-PMP and PCP', async () => {
    const rule = await waitForPortMapping(mesh.lab, mapped, MAPPING_BOUND_MS);
    expect(rule.internalAddress).toBe(mapped.device.lanAddress);
    const report = await mapped.daemon.netcheck();
    expect(report.portMapping).toEqual({ upnp: false, natPmp: true, pcp: true });
    expect(report.mappingVariesByDest).toBe(true);
    const text = await mapped.daemon.cli(['netcheck'], 60_000);
    expect(text).toMatch(/Port mapping:\s+NAT-PMP, PCP/);
    expect(text).toContain(`Port mapped:       ${mapped.publicAddress}:${rule.externalPort}`);
    // The router without miniupnpd answers neither.
    expect((await plain.daemon.netcheck()).portMapping).toEqual({
      upnp: false,
      natPmp: false,
      pcp: false,
    });
  }, 120_000);

  it('a hard-hard pair goes direct on the mapped endpoint', async () => {
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
    // The mapped side answers at the plain side's (random, per-flow) public port.
    await waitForPeerPath(mapped, plain, (p) => isDirectAt(p, plain.publicAddress), PATH_BOUND_MS);
    const plainIp = (await plain.daemon.self()).addresses.ipv4;
    const ping = await pingThroughTunnel(mapped, plainIp);
    expect(ping.replies.length).toBeGreaterThan(0);
    // A disco ping (`trellis ping`) is answered on the direct path at the mapped endpoint.
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
