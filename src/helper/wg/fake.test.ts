import { describe, expect, it } from 'vitest';
import { generateKeyPair, keyToBase64 } from '../../shared/keys.js';
import { FakeWireGuardBackend, FAKE_DEFAULT_LISTEN_PORT } from './fake.js';
import { WgError, type WgInterfaceConfig } from './types.js';

const priv = keyToBase64(generateKeyPair().privateKey);
const peerA = keyToBase64(generateKeyPair().publicKey);
const peerB = keyToBase64(generateKeyPair().publicKey);

const config = (over: Partial<WgInterfaceConfig> = {}): WgInterfaceConfig => ({
  privateKey: priv,
  listenPort: 0,
  fwmark: 0,
  peers: [
    {
      publicKey: peerA,
      endpoint: '10.0.0.2:51820',
      allowedIps: ['100.64.0.2/32'],
      persistentKeepalive: 0,
    },
  ],
  ...over,
});

describe('FakeWireGuardBackend (in-memory, for unit tests of daemon logic)', () => {
  it('records configs, diffs and UAPI requests; unchanged applies send nothing', async () => {
    const dev = await new FakeWireGuardBackend().create('trellis0', { mtu: 1280 });
    await dev.apply(config());
    await dev.apply(config());
    await dev.apply(
      config({
        peers: [
          ...config().peers,
          {
            publicKey: peerB,
            endpoint: null,
            allowedIps: ['100.64.0.3/32'],
            persistentKeepalive: 25,
          },
        ],
      }),
    );
    expect(dev.applied).toHaveLength(3);
    expect(dev.diffs.map((d) => d.replacePeers)).toEqual([true, false]);
    expect(dev.diffs[1]?.peers).toEqual([
      {
        kind: 'add',
        publicKey: peerB,
        endpoint: null,
        allowedIps: ['100.64.0.3/32'],
        persistentKeepalive: 25,
      },
    ]);
    expect(dev.requests[0]).toContain('replace_peers=true');
    const stats = await dev.stats();
    expect(stats.listenPort).toBe(FAKE_DEFAULT_LISTEN_PORT);
    expect(stats.peers.map((p) => p.publicKey).sort()).toEqual([peerA, peerB].sort());
  });

  it('simulates traffic and handshakes in stats', async () => {
    const dev = await new FakeWireGuardBackend().create('trellis0', { mtu: 1280 });
    await dev.apply(config());
    const at = new Date('2026-01-01T00:00:00Z');
    dev.simulateTraffic(peerA, { rxBytes: 100, txBytes: 50, handshakeAt: at });
    dev.simulateTraffic(peerA, { rxBytes: 1 });
    const [p] = (await dev.stats()).peers;
    expect(p).toMatchObject({ rxBytes: 101, txBytes: 50, lastHandshake: at });
    expect(() => dev.simulateTraffic(peerB, { rxBytes: 1 })).toThrow();
  });

  it('an injected failure makes the next apply a full one, like a real backend', async () => {
    const dev = await new FakeWireGuardBackend().create('trellis0', { mtu: 1280 });
    await dev.apply(config());
    dev.failNextApply(new WgError('uapi_unreachable', 'injected'));
    await expect(dev.apply(config({ fwmark: 7 }))).rejects.toMatchObject({
      code: 'uapi_unreachable',
    });
    await dev.apply(config({ fwmark: 7 }));
    expect(dev.diffs.at(-1)?.replacePeers).toBe(true);
    expect(dev.deviceState.fwmark).toBe(7);
  });

  it('rejects bad configs and names, and everything after close', async () => {
    const backend = new FakeWireGuardBackend();
    await expect(backend.create('bad/name', { mtu: 1280 })).rejects.toMatchObject({
      code: 'create_failed',
    });
    const dev = await backend.create('trellis0', { mtu: 1280 });
    await expect(dev.apply(config({ privateKey: 'x' }))).rejects.toMatchObject({
      code: 'bad_config',
    });
    await dev.close();
    await expect(dev.apply(config())).rejects.toMatchObject({ code: 'closed' });
    await expect(dev.stats()).rejects.toMatchObject({ code: 'closed' });
  });

  it('a second create of a live name adopts the device state, and its first apply replaces it', async () => {
    const backend = new FakeWireGuardBackend();
    const first = await backend.create('trellis0', { mtu: 1280 });
    await first.apply(config());
    const second = await backend.create('trellis0', { mtu: 1280 });
    expect(second.deviceState.peers.map((p) => p.publicKey)).toEqual([peerA]);
    await second.apply(config({ peers: [] }));
    expect(second.diffs[0]?.replacePeers).toBe(true);
    expect(second.deviceState.peers).toEqual([]);
  });
});
