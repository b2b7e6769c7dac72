import { describe, expect, it } from 'vitest';
import { err, ok, type Result } from '../../shared/result.js';
import { ManualClock } from '../testing/manual-clock.js';
import type { PortMapClient, PortMapping, PortmapError, PortmapProbe } from './client.js';
import { epochWentBack, MIN_RENEW_MS, PortMapper, RENEW_RETRY_MS } from './mapper.js';

/** An in-process gateway: what the lifecycle sees of NAT-PMP/PCP (the codecs have own tests). */
class FakeGateway implements PortMapClient {
  answering = true;
  /** Speak only UPnP (no epoch in answers or mappings). */
  upnpOnly = false;
  epoch = 100;
  lifetimeSec = 600;
  nextPort = 50000;
  maps: { gateway: string; renew: boolean }[] = [];
  unmaps: PortMapping[] = [];

  probe(): Promise<PortmapProbe> {
    if (!this.answering) {
      return Promise.resolve({ support: { upnp: false, natPmp: false, pcp: false }, epoch: null });
    }
    return Promise.resolve(
      this.upnpOnly
        ? { support: { upnp: true, natPmp: false, pcp: false }, epoch: null }
        : { support: { upnp: false, natPmp: true, pcp: true }, epoch: this.epoch },
    );
  }

  map(
    gateway: string,
    internalPort: number,
    previous: PortMapping | null,
  ): Promise<Result<PortMapping, PortmapError>> {
    this.maps.push({ gateway, renew: previous !== null });
    if (!this.answering) return Promise.resolve(err({ code: 'no-answer', message: 'silent' }));
    return Promise.resolve(
      ok({
        protocol: this.upnpOnly ? 'upnp' : 'pcp',
        gateway,
        internalPort,
        externalAddress: '203.0.113.120',
        externalPort: previous?.externalPort ?? this.nextPort++,
        lifetimeSec: this.lifetimeSec,
        epoch: this.upnpOnly ? null : this.epoch,
        nonce: this.upnpOnly ? null : new Uint8Array(12),
        upnp: null,
      }),
    );
  }

  unmap(m: PortMapping): Promise<void> {
    this.unmaps.push(m);
    return Promise.resolve();
  }
}

const flush = () => new Promise((r) => setImmediate(r));

function setup() {
  const clock = new ManualClock();
  const gw = new FakeGateway();
  let gateway: string | null = '10.1.0.1';
  const changes: (string | null)[] = [];
  const mapper = new PortMapper({
    client: gw,
    gateway: () => Promise.resolve(gateway),
    localPort: () => 41641,
    clock,
    onChange: (m) => changes.push(m && `${m.externalAddress}:${m.externalPort}`),
  });
  return { clock, gw, mapper, changes, setGateway: (g: string | null) => (gateway = g) };
}

describe('PortMapper', () => {
  it('maps on the first probe and renews at half the lifetime, keeping the port', async () => {
    const { clock, gw, mapper, changes } = setup();
    expect(await mapper.probe()).toEqual({ upnp: false, natPmp: true, pcp: true });
    expect(changes).toEqual(['203.0.113.120:50000']);
    expect(clock.pending()).toEqual([300_000]);
    clock.advance(299_999);
    await flush();
    expect(gw.maps).toHaveLength(1);
    clock.advance(1);
    await flush();
    expect(gw.maps).toEqual([
      { gateway: '10.1.0.1', renew: false },
      { gateway: '10.1.0.1', renew: true },
    ]);
    // Same mapping: no change reported, next renewal scheduled.
    expect(changes).toHaveLength(1);
    expect(clock.pending()).toEqual([300_000]);
    // A later probe with the mapping in place does not map again.
    await mapper.probe();
    expect(gw.maps).toHaveLength(2);
  });

  it('never renews sooner than the floor, whatever lifetime the gateway grants', async () => {
    const { clock, gw, mapper } = setup();
    gw.lifetimeSec = 0;
    await mapper.probe();
    expect(clock.pending()).toEqual([MIN_RENEW_MS]);
  });

  it('retries a failed renewal, then drops the mapping at expiry', async () => {
    const { clock, gw, mapper, changes } = setup();
    await mapper.probe();
    gw.answering = false;
    clock.advance(300_000);
    await flush();
    expect(mapper.current).not.toBeNull();
    expect(clock.pending()).toEqual([RENEW_RETRY_MS]);
    for (let i = 0; i < 40 && mapper.current !== null; i++) {
      clock.advance(RENEW_RETRY_MS);
      await flush();
    }
    expect(mapper.current).toBeNull();
    expect(changes).toEqual(['203.0.113.120:50000', null]);
    // Gave up within the granted lifetime.
    expect(clock.now()).toBeLessThanOrEqual(600_000);
  });

  it('drops the mapping when the gateway stops answering probes', async () => {
    const { gw, mapper, changes } = setup();
    await mapper.probe();
    gw.answering = false;
    expect(await mapper.probe()).toEqual({ upnp: false, natPmp: false, pcp: false });
    expect(changes).toEqual(['203.0.113.120:50000', null]);
  });

  it('drops the mapping on a gateway change and maps on the new one', async () => {
    const { gw, mapper, changes, setGateway } = setup();
    await mapper.probe();
    setGateway('10.2.0.1');
    await mapper.probe();
    expect(gw.unmaps.map((m) => m.gateway)).toEqual(['10.1.0.1']);
    expect(gw.maps.at(-1)).toEqual({ gateway: '10.2.0.1', renew: false });
    expect(changes).toEqual(['203.0.113.120:50000', null, '203.0.113.120:50001']);
    setGateway(null);
    expect(await mapper.probe()).toBeNull();
    expect(changes.at(-1)).toBeNull();
  });

  it('maps again when the gateway epoch goes back (it rebooted)', async () => {
    const { clock, gw, mapper, changes } = setup();
    await mapper.probe();
    clock.advance(60_000);
    gw.epoch = 160; // advanced with our clock: no reset
    await mapper.probe();
    expect(gw.maps).toHaveLength(1);
    clock.advance(60_000);
    gw.epoch = 3;
    await mapper.probe();
    expect(gw.maps).toHaveLength(2);
    expect(changes).toEqual(['203.0.113.120:50000', null, '203.0.113.120:50001']);
  });

  it('keeps a UPnP mapping (no epoch) across probes and renewals, and deletes it on stop', async () => {
    const { clock, gw, mapper, changes } = setup();
    gw.upnpOnly = true;
    expect(await mapper.probe()).toEqual({ upnp: true, natPmp: false, pcp: false });
    expect(mapper.current).toMatchObject({ protocol: 'upnp', externalPort: 50000 });
    for (let i = 0; i < 3; i++) {
      clock.advance(300_000);
      await flush();
      await mapper.probe();
    }
    // Renewed at each half-lifetime, never dropped for want of an epoch.
    expect(gw.maps.map((m) => m.renew)).toEqual([false, true, true, true]);
    expect(changes).toEqual(['203.0.113.120:50000']);
    await mapper.stop();
    expect(gw.unmaps.map((m) => m.protocol)).toEqual(['upnp']);
  });

  it('deletes the mapping on stop and cancels renewals', async () => {
    const { clock, gw, mapper, changes } = setup();
    await mapper.probe();
    await mapper.stop();
    expect(gw.unmaps).toHaveLength(1);
    expect(changes.at(-1)).toBeNull();
    expect(clock.pending()).toEqual([]);
    expect(await mapper.probe()).toBeNull();
    expect(gw.maps).toHaveLength(1);
  });
});

describe('epochWentBack', () => {
  it('allows the server clock to run at 7/8 of ours, with a second of slack', () => {
    const prev = { epoch: 1000, atMs: 0 };
    expect(epochWentBack(prev, { epoch: 1100, atMs: 100_000 })).toBe(false);
    expect(epochWentBack(prev, { epoch: 1087, atMs: 100_000 })).toBe(false);
    expect(epochWentBack(prev, { epoch: 1080, atMs: 100_000 })).toBe(true);
    expect(epochWentBack(prev, { epoch: 5, atMs: 1_000 })).toBe(true);
    expect(epochWentBack(prev, { epoch: 999, atMs: 0 })).toBe(false);
  });
});
