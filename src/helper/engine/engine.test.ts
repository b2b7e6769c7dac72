import { describe, expect, it } from 'vitest';
import type { Netmap, Peer } from '../../shared/schema/control/netmap.js';
import { Status } from '../../shared/schema/localapi.js';
import { SAMPLE_TIME, sampleKey, sampleNetmap, samplePeer } from '../../shared/schema/samples.js';
import { chooseEndpoint } from './endpoint.js';
import { osConfigFromNetmap } from './os-config.js';
import { buildStatus, peerPath } from './status.js';
import { PERSISTENT_KEEPALIVE_SECONDS, wgConfigFromNetmap } from './wg-config.js';

const now = new Date(SAMPLE_TIME);
const priv = sampleKey(200);

function netmapWith(peers: Peer[]): Netmap {
  return { ...sampleNetmap(0), peers };
}

/** Peer 2 routes a subnet and offers itself as an exit node. */
function routerPeer(): Peer {
  const p = samplePeer(2);
  return {
    ...p,
    allowedIPs: [...p.allowedIPs, '10.20.0.0/16', '0.0.0.0/0', '::/0'],
    routesOffered: ['10.20.0.0/16'],
    exitNodeOffered: true,
  };
}

describe('chooseEndpoint', () => {
  it('prefers a local endpoint, then a STUN one, else none', () => {
    expect(
      chooseEndpoint({
        endpoints: [
          { addr: '203.0.113.1:41641', type: 'stun' },
          { addr: '192.168.1.5:41641', type: 'local' },
          { addr: '192.168.2.5:41641', type: 'local' },
        ],
      }),
    ).toBe('192.168.1.5:41641');
    expect(chooseEndpoint({ endpoints: [{ addr: '203.0.113.1:41641', type: 'stun' }] })).toBe(
      '203.0.113.1:41641',
    );
    expect(
      chooseEndpoint({ endpoints: [{ addr: '198.51.100.1:5351', type: 'portmap' }] }),
    ).toBeNull();
    expect(chooseEndpoint({ endpoints: [] })).toBeNull();
  });
});

describe('wgConfigFromNetmap', () => {
  it('makes one peer per netmap peer with its key, endpoint, addresses and keepalive', () => {
    const nm = sampleNetmap(2);
    const cfg = wgConfigFromNetmap({
      netmap: nm,
      prefs: { acceptRoutes: false },
      privateKey: priv,
      listenPort: 41641,
      now,
    });
    expect(cfg.privateKey).toBe(priv);
    expect(cfg.listenPort).toBe(41641);
    expect(cfg.fwmark).toBe(0);
    expect(cfg.peers).toEqual([
      {
        publicKey: nm.peers[0]!.nodeKey,
        endpoint: '192.168.1.1:41641',
        allowedIps: ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128'],
        persistentKeepalive: PERSISTENT_KEEPALIVE_SECONDS,
      },
      {
        publicKey: nm.peers[1]!.nodeKey,
        endpoint: '192.168.1.2:41641',
        allowedIps: ['100.64.0.3/32', 'fd7a:115c:a1e0::3/128'],
        persistentKeepalive: PERSISTENT_KEEPALIVE_SECONDS,
      },
    ]);
  });

  it('leaves out default routes always and subnet routes unless acceptRoutes', () => {
    const nm = netmapWith([routerPeer()]);
    const off = wgConfigFromNetmap({
      netmap: nm,
      prefs: { acceptRoutes: false },
      privateKey: priv,
      listenPort: 0,
      now,
    });
    expect(off.peers[0]!.allowedIps).toEqual(['100.64.0.3/32', 'fd7a:115c:a1e0::3/128']);
    const on = wgConfigFromNetmap({
      netmap: nm,
      prefs: { acceptRoutes: true },
      privateKey: priv,
      listenPort: 0,
      now,
    });
    expect(on.peers[0]!.allowedIps).toEqual([
      '100.64.0.3/32',
      'fd7a:115c:a1e0::3/128',
      '10.20.0.0/16',
    ]);
  });

  it('skips ourselves and expired peers, and gives a duplicated prefix to the first peer only', () => {
    const nm = sampleNetmap(0);
    const a = { ...samplePeer(1), allowedIPs: [...samplePeer(1).allowedIPs, '10.1.0.0/16'] };
    const b = { ...samplePeer(2), allowedIPs: [...samplePeer(2).allowedIPs, '10.1.0.0/16'] };
    const me = { ...samplePeer(3), nodeKey: nm.self.nodeKey };
    const expired = { ...samplePeer(4), keyExpiry: '2025-01-01T00:00:00.000Z' };
    const cfg = wgConfigFromNetmap({
      netmap: netmapWith([a, b, me, expired]),
      prefs: { acceptRoutes: true },
      privateKey: priv,
      listenPort: 0,
      now,
    });
    expect(cfg.peers.map((p) => p.publicKey)).toEqual([a.nodeKey, b.nodeKey]);
    expect(cfg.peers[0]!.allowedIps).toContain('10.1.0.0/16');
    expect(cfg.peers[1]!.allowedIps).not.toContain('10.1.0.0/16');
  });

  it('gives a peer without usable endpoints a null endpoint (WireGuard learns it)', () => {
    const p = { ...samplePeer(1), endpoints: [] };
    const cfg = wgConfigFromNetmap({
      netmap: netmapWith([p]),
      prefs: { acceptRoutes: false },
      privateKey: priv,
      listenPort: 0,
      now,
    });
    expect(cfg.peers[0]!.endpoint).toBeNull();
  });
});

describe('osConfigFromNetmap', () => {
  it('assigns our addresses as host prefixes and routes every peer address, sorted', () => {
    const cfg = osConfigFromNetmap({
      netmap: sampleNetmap(2),
      prefs: { acceptRoutes: false },
      interfaceName: 'trellis0',
      mtu: 1280,
      now,
    });
    expect(cfg).toEqual({
      interfaceName: 'trellis0',
      addresses: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'],
      localAddresses: [],
      mtu: 1280,
      routes: ['100.64.0.2/32', '100.64.0.3/32', 'fd7a:115c:a1e0::2/128', 'fd7a:115c:a1e0::3/128'],
      // The netmap's filter, no exit node, no forwarding, system DNS untouched.
      filter: { rules: sampleNetmap(2).packetFilter, blockIncoming: false },
      exitRouting: null,
      forwarding: false,
      dns: null,
    });
  });

  it('routes subnets only with acceptRoutes and never the exit node default routes', () => {
    const nm = netmapWith([routerPeer()]);
    const off = osConfigFromNetmap({
      netmap: nm,
      prefs: { acceptRoutes: false },
      interfaceName: 't',
      mtu: 1280,
      now,
    });
    expect(off.routes).toEqual(['100.64.0.3/32', 'fd7a:115c:a1e0::3/128']);
    const on = osConfigFromNetmap({
      netmap: nm,
      prefs: { acceptRoutes: true },
      interfaceName: 't',
      mtu: 1280,
      now,
    });
    expect(on.routes).toEqual(['10.20.0.0/16', '100.64.0.3/32', 'fd7a:115c:a1e0::3/128']);
    expect(on.routes).not.toContain('0.0.0.0/0');
    expect(on.routes).not.toContain('::/0');
  });
});

describe('buildStatus', () => {
  it('joins netmap peers with WireGuard counters into a Status the schema accepts', () => {
    const nm = sampleNetmap(2);
    const handshake = new Date(now.getTime() - 10_000);
    const status = buildStatus({
      daemonVersion: '0.1.0',
      backend: { state: 'running' },
      controlUrl: 'http://127.0.0.1:1',
      controlConnected: false,
      netmap: nm,
      registration: null,
      wgStats: {
        listenPort: 41641,
        peers: [
          {
            publicKey: nm.peers[0]!.nodeKey,
            endpoint: '192.168.1.1:41641',
            lastHandshake: handshake,
            rxBytes: 100,
            txBytes: 200,
          },
        ],
      },
      health: [
        { code: 'control-unreachable', severity: 'warning', message: 'x', since: SAMPLE_TIME },
      ],
      hostOs: 'linux',
      now,
    });
    expect(Status.safeParse(status).success).toBe(true);
    expect(status.self?.addresses.ipv4).toBe('100.64.0.1');
    expect(status.self?.os).toBe('linux');
    expect(status.user).toEqual({ id: 'u1', email: 'alice@example.com', name: 'Alice' });
    expect(status.peers[0]).toMatchObject({
      name: 'peer-1',
      path: { type: 'direct', endpoint: '192.168.1.1:41641' },
      lastHandshake: handshake.toISOString(),
      rxBytes: 100,
      txBytes: 200,
    });
    expect(status.peers[1]).toMatchObject({
      path: { type: 'none' },
      lastHandshake: null,
      rxBytes: 0,
    });
    expect(status.health).toHaveLength(1);
  });

  it('falls back to the registration for network and user before the first netmap', () => {
    const status = buildStatus({
      daemonVersion: '0.1.0',
      backend: { state: 'starting' },
      controlUrl: null,
      controlConnected: false,
      netmap: null,
      registration: { network: { id: 'n', name: 'N', domain: 'n.trellis' }, user: null },
      wgStats: null,
      health: [],
      hostOs: 'linux',
      now,
    });
    expect(Status.safeParse(status).success).toBe(true);
    expect(status.network?.domain).toBe('n.trellis');
    expect(status.self).toBeNull();
    expect(status.peers).toEqual([]);
  });

  it('reports a path only while the WireGuard session is live', () => {
    const stale = new Date(now.getTime() - 181_000);
    expect(
      peerPath(
        {
          publicKey: 'k',
          endpoint: '[2001:db8::1]:5',
          lastHandshake: stale,
          rxBytes: 0,
          txBytes: 0,
        },
        now,
      ),
    ).toEqual({ type: 'none' });
    expect(
      peerPath(
        {
          publicKey: 'k',
          endpoint: '[2001:DB8:0::1]:5',
          lastHandshake: now,
          rxBytes: 0,
          txBytes: 0,
        },
        now,
      ),
    ).toEqual({
      type: 'direct',
      endpoint: '[2001:db8::1]:5',
    });
    expect(
      peerPath(
        { publicKey: 'k', endpoint: 'garbage', lastHandshake: now, rxBytes: 0, txBytes: 0 },
        now,
      ),
    ).toEqual({ type: 'none' });
  });
});

describe('with magicsock', () => {
  it('points WireGuard at the proxies and lets only the first key of a pair keep alive', () => {
    const nm = sampleNetmap(2);
    const [p1, p2] = nm.peers as [Peer, Peer];
    // Sorts after peer 1's key and before peer 2's.
    const self = `${p1.nodeKey.slice(0, 42)}P=`;
    expect(p1.nodeKey < self && self < p2.nodeKey).toBe(true);
    const cfg = wgConfigFromNetmap({
      netmap: { ...nm, self: { ...nm.self, nodeKey: self } },
      prefs: { acceptRoutes: false },
      privateKey: priv,
      listenPort: 0,
      now,
      endpointFor: (p) => (p === p1 ? '127.0.0.1:1001' : '127.0.0.1:1002'),
      keepaliveFromFirstKeyOnly: true,
    });
    expect(cfg.peers.map((p) => [p.endpoint, p.persistentKeepalive])).toEqual([
      ['127.0.0.1:1001', 0],
      ['127.0.0.1:1002', PERSISTENT_KEEPALIVE_SECONDS],
    ]);
  });

  it('reports the path and latency magicsock measured instead of WireGuard’s endpoint', () => {
    const nm = sampleNetmap(2);
    const status = buildStatus({
      daemonVersion: '0.1.0',
      backend: { state: 'running' },
      controlUrl: null,
      controlConnected: true,
      netmap: nm,
      registration: null,
      wgStats: {
        listenPort: 40000,
        peers: nm.peers.map((p) => ({
          publicKey: p.nodeKey,
          endpoint: '127.0.0.1:1001',
          lastHandshake: now,
          rxBytes: 1,
          txBytes: 2,
        })),
      },
      health: [],
      hostOs: 'linux',
      now,
      paths: (k) =>
        k === nm.peers[0]!.nodeKey
          ? { path: { type: 'direct', endpoint: '203.0.113.9:41641' }, latencyMs: 3.5 }
          : { path: { type: 'relay', region: 2 }, latencyMs: 40 },
    });
    expect(Status.safeParse(status).success).toBe(true);
    expect(status.peers.map((p) => [p.path, p.latencyMs])).toEqual([
      [{ type: 'direct', endpoint: '203.0.113.9:41641' }, 3.5],
      [{ type: 'relay', region: 2 }, 40],
    ]);
  });
});
