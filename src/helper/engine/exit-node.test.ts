/** Exit-node choice and what it does to the WireGuard and OS configs; primary routes. */
import { describe, expect, it } from 'vitest';
import type { Netmap, Peer } from '../../shared/schema/control/netmap.js';
import { SAMPLE_TIME, sampleKey, sampleNetmap, samplePeer } from '../../shared/schema/samples.js';
import { planDns } from '../dns/plan.js';
import { TRELLIS_FWMARK } from '../os/exit-routing.js';
import { AUTO_EXIT_SWITCH_MARGIN_MS, chooseExitNode, pickExitNode } from './exit-node.js';
import { osConfigFromNetmap } from './os-config.js';
import { routedPrefixes } from './routes.js';
import { wgConfigFromNetmap } from './wg-config.js';

const now = new Date(SAMPLE_TIME);
const exitPeer = (n: number, over: Partial<Peer> = {}): Peer => ({
  ...samplePeer(n),
  exitNodeOffered: true,
  ...over,
});
const netmapWith = (peers: Peer[]): Netmap => ({ ...sampleNetmap(0), peers });
const noLatency = () => null;

describe('chooseExitNode', () => {
  const nm = netmapWith([samplePeer(1), exitPeer(2), exitPeer(3, { online: false })]);

  it('uses none without a selector, and the named or addressed exit node', () => {
    expect(
      chooseExitNode({ netmap: nm, selector: null, latencyMs: noLatency, currentId: null, now }),
    ).toEqual({ type: 'none' });
    for (const selector of [
      { type: 'id' as const, id: 'dev-2' },
      { type: 'name' as const, name: 'peer-2' },
      { type: 'name' as const, name: 'peer-2.acme.trellis' },
      { type: 'address' as const, address: '100.64.0.3' },
    ]) {
      const c = chooseExitNode({
        netmap: nm,
        selector,
        latencyMs: noLatency,
        currentId: null,
        now,
      });
      expect(c.type === 'using' && c.peer.id).toBe('dev-2');
    }
  });

  it('keeps a chosen exit node that went offline (fail closed), and refuses what is not one', () => {
    const offline = chooseExitNode({
      netmap: nm,
      selector: { type: 'name', name: 'peer-3' },
      latencyMs: noLatency,
      currentId: null,
      now,
    });
    expect(offline.type === 'using' && offline.peer.id).toBe('dev-3');
    expect(
      chooseExitNode({
        netmap: nm,
        selector: { type: 'name', name: 'peer-1' },
        latencyMs: noLatency,
        currentId: null,
        now,
      }),
    ).toEqual({
      type: 'unavailable',
      reason: 'peer-1 is not an exit node this device may use',
    });
    expect(
      chooseExitNode({
        netmap: nm,
        selector: { type: 'name', name: 'gone' },
        latencyMs: noLatency,
        currentId: null,
        now,
      }).type,
    ).toBe('unavailable');
  });

  it('auto: an online exit node, the lowest latency one when measured, with a margin', () => {
    const nm3 = netmapWith([exitPeer(1), exitPeer(2), exitPeer(3, { online: false })]);
    const auto = { type: 'auto' as const };
    const pick = (lat: Record<string, number>, currentId: string | null) => {
      const c = chooseExitNode({
        netmap: nm3,
        selector: auto,
        latencyMs: (id) => lat[id] ?? null,
        currentId,
        now,
      });
      return c.type === 'using' ? c.peer.id : c.type;
    };
    expect(pick({}, null)).toBe('dev-1');
    expect(pick({ 'dev-1': 40, 'dev-2': 20, 'dev-3': 1 }, null)).toBe('dev-2');
    expect(pick({ 'dev-1': 40, 'dev-2': 40 - AUTO_EXIT_SWITCH_MARGIN_MS }, 'dev-1')).toBe('dev-1');
    expect(pick({ 'dev-1': 40, 'dev-2': 39 - AUTO_EXIT_SWITCH_MARGIN_MS }, 'dev-1')).toBe('dev-2');
    const none = chooseExitNode({
      netmap: netmapWith([exitPeer(3, { online: false })]),
      selector: auto,
      latencyMs: noLatency,
      currentId: null,
      now,
    });
    expect(none).toEqual({ type: 'unavailable', reason: 'no exit node is online' });
    expect(pickExitNode(nm3, (id) => (id === 'dev-2' ? 12 : null), null, now)).toMatchObject({
      latencyMs: 12,
      reason: 'lowest latency of 2 online exit nodes',
    });
  });
});

describe('exit node in the WireGuard and OS configs', () => {
  const exit = exitPeer(2);
  const nm: Netmap = {
    ...netmapWith([samplePeer(1), exit]),
    relayMap: {
      regions: [
        {
          id: 1,
          code: 'lab',
          name: 'Lab',
          relays: [
            { url: 'ws://relay.example:8443/relay', stunHost: '198.51.100.3', stunPort: 3478 },
          ],
        },
      ],
    },
  };
  const using = { type: 'using' as const, peer: exit };

  it('gives the default routes to the exit peer only and marks WireGuard’s packets', () => {
    const wg = wgConfigFromNetmap({
      netmap: nm,
      prefs: { acceptRoutes: false },
      privateKey: sampleKey(9),
      listenPort: 0,
      now,
      exitNode: using,
    });
    expect(wg.fwmark).toBe(TRELLIS_FWMARK);
    expect(wg.peers[1]?.allowedIps).toEqual([
      '100.64.0.3/32',
      'fd7a:115c:a1e0::3/128',
      '0.0.0.0/0',
      '::/0',
    ]);
    expect(wg.peers[0]?.allowedIps).not.toContain('0.0.0.0/0');
    // Unavailable: marked and routed (fail closed), but no peer takes the traffic.
    const closed = wgConfigFromNetmap({
      netmap: nm,
      prefs: { acceptRoutes: false },
      privateKey: sampleKey(9),
      listenPort: 0,
      now,
      exitNode: { type: 'unavailable', reason: 'x' },
    });
    expect(closed.fwmark).toBe(TRELLIS_FWMARK);
    expect(closed.peers.flatMap((p) => p.allowedIps)).not.toContain('0.0.0.0/0');
    const off = wgConfigFromNetmap({
      netmap: nm,
      prefs: { acceptRoutes: false },
      privateKey: sampleKey(9),
      listenPort: 0,
      now,
    });
    expect(off.fwmark).toBe(0);
  });

  it('routes through the exit node keeping control, relays, STUN and peer endpoints outside', () => {
    const os = osConfigFromNetmap({
      netmap: nm,
      prefs: {
        acceptRoutes: false,
        exitNodeAllowLAN: true,
        controlUrl: 'https://[2001:db8::5]:443',
      },
      interfaceName: 't',
      mtu: 1280,
      now,
      exitNode: using,
    });
    expect(os.exitRouting).toEqual({
      allowLan: true,
      bypass: [
        '192.168.1.1',
        '192.168.1.2',
        '198.51.100.3',
        '2001:db8::5',
        '203.0.113.1',
        '203.0.113.2',
        'relay.example',
      ],
    });
    expect(os.routes).not.toContain('0.0.0.0/0');
    expect(
      osConfigFromNetmap({
        netmap: nm,
        prefs: { acceptRoutes: false },
        interfaceName: 't',
        mtu: 1280,
        now,
      }).exitRouting,
    ).toBeNull();
  });

  it('forwards for an exit node or subnet router, and passes the filter and blockIncoming', () => {
    const base = { netmap: nm, interfaceName: 't', mtu: 1280, now };
    expect(
      osConfigFromNetmap({ ...base, prefs: { acceptRoutes: false, advertiseExitNode: true } })
        .forwarding,
    ).toBe(true);
    expect(
      osConfigFromNetmap({
        ...base,
        prefs: { acceptRoutes: false, advertiseRoutes: ['10.0.0.0/24'] },
      }).forwarding,
    ).toBe(true);
    const plain = osConfigFromNetmap({
      ...base,
      prefs: { acceptRoutes: false, blockIncoming: true },
    });
    expect(plain.forwarding).toBe(false);
    expect(plain.filter).toEqual({ rules: nm.packetFilter, blockIncoming: true });
  });

  it('adds the MagicDNS address, system DNS, and the exit-node DNS rule from the DNS plan', () => {
    const served = { ...nm, self: { ...nm.self, isExitNode: true } };
    const dns = planDns({
      netmap: served,
      prefs: { acceptDNS: true, advertiseExitNode: true },
      exitNode: null,
      resolverAvailable: true,
    });
    const os = osConfigFromNetmap({
      netmap: served,
      prefs: { acceptRoutes: false, advertiseExitNode: true },
      interfaceName: 't',
      mtu: 1280,
      now,
      dns,
    });
    expect(os.localAddresses).toEqual(['100.100.100.100/32']);
    expect(os.dns?.nameservers).toEqual(['100.100.100.100']);
    expect(os.filter?.rules.at(-1)).toEqual({
      srcs: ['0.0.0.0/0', '::/0'],
      dsts: [{ cidr: '100.64.0.1/32', ports: { first: 53, last: 53 } }],
      protos: ['udp', 'tcp'],
    });
  });
});

describe('routedPrefixes and failover', () => {
  it('takes only the prefixes a router is primary for, when the netmap says', () => {
    const p = {
      ...samplePeer(1),
      allowedIPs: [...samplePeer(1).allowedIPs, '10.1.0.0/16', '10.2.0.0/16'],
    };
    expect(routedPrefixes(p, { acceptRoutes: true })).toEqual([
      ...samplePeer(1).allowedIPs,
      '10.1.0.0/16',
      '10.2.0.0/16',
    ]);
    expect(
      routedPrefixes({ ...p, primaryRoutes: ['10.2.0.0/16'] }, { acceptRoutes: true }),
    ).toEqual([...samplePeer(1).allowedIPs, '10.2.0.0/16']);
    expect(
      routedPrefixes({ ...p, primaryRoutes: ['10.2.0.0/16'] }, { acceptRoutes: false }),
    ).toEqual(samplePeer(1).allowedIPs);
  });
});
