import { afterEach, describe, expect, it } from 'vitest';
import type { Netmap } from '../../shared/schema/control/netmap.js';
import { sampleKey, sampleNetmap, samplePeer } from '../../shared/schema/samples.js';
import { FakeMapServer, type FakeMapConnection } from '../testing/fake-map-server.js';
import { ManualClock } from '../testing/manual-clock.js';
import { waitFor } from '../testing/wait.js';
import {
  MapClient,
  mapStreamUrl,
  STABLE_STREAM_MS,
  type MapClientOptions,
  type MapClientState,
} from './map-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const CREDENTIAL = 'tr_node_0123456789abcdef0123';
const NODE_KEY = sampleKey(1);
const DISCO_KEY = sampleKey(9);

async function setup(over: Partial<MapClientOptions> = {}) {
  const server = await FakeMapServer.start();
  cleanups.push(() => server.close());
  const client = new MapClient({
    controlUrl: server.url,
    nodeCredential: CREDENTIAL,
    nodeKey: NODE_KEY,
    discoKey: DISCO_KEY,
    random: () => 0,
    ...over,
  });
  cleanups.push(() => client.stop());
  const netmaps: { netmap: Netmap; kind: string }[] = [];
  const states: MapClientState[] = [];
  client.on('netmap', (netmap, kind) => netmaps.push({ netmap, kind }));
  client.on('state', (s) => states.push(s));
  return { server, client, netmaps, states };
}

async function hello(c: FakeMapConnection): Promise<Record<string, unknown>> {
  return (await waitFor(() => c.received[0], 'hello')) as Record<string, unknown>;
}

function full(seq: number, netmap: Netmap = sampleNetmap(2), token = 'tok-1') {
  return { type: 'full', seq, resumeToken: token, netmap };
}

describe('mapStreamUrl', () => {
  it('switches http to ws and https to wss and appends /v1/map', () => {
    expect(mapStreamUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/v1/map');
    expect(mapStreamUrl('https://control.example.com/base/')).toBe(
      'wss://control.example.com/base/v1/map',
    );
  });
});

describe('MapClient', () => {
  it('authenticates, says hello, applies a full map and then deltas, and sends updates once subscribed', async () => {
    const { server, client, netmaps } = await setup();
    client.update({ endpoints: [{ addr: '192.168.1.10:41641', type: 'local' }] });
    client.start();
    const c = await server.connection(0);
    expect(c.authorization).toBe(`Bearer ${CREDENTIAL}`);
    expect(await hello(c)).toEqual({
      type: 'hello',
      version: 1,
      nodeKey: NODE_KEY,
      discoKey: DISCO_KEY,
    });
    // Nothing but the hello until control has sent the map (an early update would be refused).
    await new Promise((r) => setTimeout(r, 50));
    expect(c.received).toHaveLength(1);

    c.send(full(1));
    await waitFor(() => netmaps.length === 1, 'full netmap');
    expect(netmaps[0]?.kind).toBe('full');
    expect(client.connected).toBe(true);
    await waitFor(() => c.received.length === 2, 'update after the map');
    expect(c.received[1]).toEqual({
      type: 'update',
      endpoints: [{ addr: '192.168.1.10:41641', type: 'local' }],
    });

    c.send({
      type: 'delta',
      seq: 2,
      patch: { peersAdded: [samplePeer(3)], peersRemoved: ['dev-1'] },
    });
    await waitFor(() => netmaps.length === 2, 'delta');
    expect(netmaps[1]?.kind).toBe('delta');
    expect(netmaps[1]?.netmap.peers.map((p) => p.id).sort()).toEqual(['dev-2', 'dev-3']);

    // A change is sent at once; an unchanged field is not sent again.
    client.update({
      endpoints: [{ addr: '192.168.1.10:41641', type: 'local' }],
      preferredRelayRegion: 1,
    });
    await waitFor(() => c.received.length === 3, 'second update');
    expect(c.received[2]).toEqual({ type: 'update', preferredRelayRegion: 1 });
  });

  it('reconnects after a drop and resumes with the last token and sequence', async () => {
    const { server, client, netmaps } = await setup({ backoff: { initialMs: 20, maxMs: 40 } });
    client.update({ endpoints: [] });
    client.start();
    const c0 = await server.connection(0);
    await hello(c0);
    c0.send(full(5, sampleNetmap(2), 'tok-a'));
    c0.send({ type: 'delta', seq: 6, patch: { peersRemoved: ['dev-2'] } });
    await waitFor(() => netmaps.length === 2, 'map and delta');
    c0.ws.close(1001, 'restart');
    const c1 = await server.connection(1);
    expect(await hello(c1)).toMatchObject({ resume: { token: 'tok-a', seq: 6 } });
    c1.send({ type: 'delta', seq: 7, patch: { peersAdded: [samplePeer(4)] } });
    await waitFor(() => netmaps.length === 3, 'resumed delta');
    expect(netmaps[2]?.netmap.peers.map((p) => p.id).sort()).toEqual(['dev-1', 'dev-4']);
    // The device's state is told again to the new stream.
    await waitFor(() => c1.received.length === 2, 'update on the resumed stream');
    expect(c1.received[1]).toEqual({ type: 'update', endpoints: [] });
  });

  it('counts garbage, keeps the last good netmap and reconnects without resume', async () => {
    const { server, client, netmaps } = await setup({ backoff: { initialMs: 20, maxMs: 40 } });
    client.start();
    const c0 = await server.connection(0);
    await hello(c0);
    c0.send(full(1));
    await waitFor(() => netmaps.length === 1, 'map');
    const good = client.latest;
    c0.sendRaw('{"type":"full","seq":2,"resumeToken":"t","netmap":{"peers":"nope"}}');
    const c1 = await server.connection(1);
    expect(await hello(c1)).not.toHaveProperty('resume');
    expect(client.counters.badMessages).toBe(1);
    expect(client.latest).toBe(good);
    expect(netmaps).toHaveLength(1);
    // Not JSON at all, and a delta that skips a sequence number: the same treatment.
    c1.send(full(1));
    await waitFor(() => netmaps.length === 2, 'second map');
    c1.sendRaw('this is not json');
    const c2 = await server.connection(2);
    expect(await hello(c2)).not.toHaveProperty('resume');
    c2.send(full(10));
    await waitFor(() => netmaps.length === 3, 'third map');
    c2.send({ type: 'delta', seq: 12, patch: {} });
    const c3 = await server.connection(3);
    expect(await hello(c3)).not.toHaveProperty('resume');
    expect(client.counters.badMessages).toBe(3);
  });

  it('treats a delta for an unknown peer as out of sync', async () => {
    const { server, client, netmaps } = await setup({ backoff: { initialMs: 20, maxMs: 40 } });
    client.start();
    const c0 = await server.connection(0);
    await hello(c0);
    c0.send(full(1));
    await waitFor(() => netmaps.length === 1, 'map');
    c0.send({
      type: 'delta',
      seq: 2,
      patch: { peersPatched: [{ id: 'dev-nobody', online: false }] },
    });
    const c1 = await server.connection(1);
    expect(await hello(c1)).not.toHaveProperty('resume');
    expect(client.counters.badMessages).toBe(1);
  });

  it('skips message types it does not know without reconnecting', async () => {
    const { server, client, netmaps } = await setup();
    client.start();
    const c0 = await server.connection(0);
    await hello(c0);
    c0.send(full(1));
    c0.send({ type: 'future-thing', data: 1 });
    c0.send({ type: 'delta', seq: 2, patch: { peersRemoved: ['dev-1'] } });
    await waitFor(() => netmaps.length === 2, 'delta after the unknown message');
    expect(client.counters.unknownMessages).toBe(1);
    expect(server.connections).toHaveLength(1);
  });

  it('stops and reports reauth-required', async () => {
    const { server, client } = await setup();
    const reauth: string[] = [];
    client.on('reauth-required', (reason) => reauth.push(reason));
    client.start();
    const c0 = await server.connection(0);
    await hello(c0);
    c0.send({ type: 'reauth-required', reason: 'key-expired', message: 'sign in again' });
    await waitFor(() => reauth.length === 1, 'reauth event');
    expect(reauth).toEqual(['key-expired']);
    expect(client.state.state).toBe('stopped');
    await new Promise((r) => setTimeout(r, 100));
    expect(server.connections).toHaveLength(1);
  });

  it('reports a refused credential (HTTP 401 on upgrade) as reauth-required', async () => {
    const { server, client } = await setup();
    server.refuseWith = 401;
    const reauth: string[] = [];
    client.on('reauth-required', (reason) => reauth.push(reason));
    client.start();
    await waitFor(() => reauth.length === 1, 'reauth event');
    expect(reauth).toEqual(['credential-revoked']);
  });

  it('backs off exponentially with jitter while control refuses, honouring retryAfter', async () => {
    const clock = new ManualClock();
    const { server, client, states } = await setup({
      clock,
      backoff: { initialMs: 1000, maxMs: 8000 },
    });
    server.refuseWith = 503;
    client.start();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await waitFor(
        () =>
          states.filter((x) => x.state === 'backoff')[i] as
            Extract<MapClientState, { state: 'backoff' }> | undefined,
        `backoff #${i}`,
      );
      delays.push(s.retryInMs);
      clock.advance(s.retryInMs);
    }
    // random() = 0 → half of the exponential cap: 500, 1000, 2000, 4000, then capped at 8000/2.
    expect(delays).toEqual([500, 1000, 2000, 4000, 4000]);

    server.refuseWith = null;
    const n = server.connections.length;
    clock.advance(10_000);
    const c = await server.connection(n);
    await hello(c);
    c.send({ type: 'error', code: 'unavailable', message: 'db down', retryAfterSeconds: 60 });
    const last = await waitFor(
      () =>
        states.filter((x) => x.state === 'backoff').length === 6 &&
        (states.at(-1) as Extract<MapClientState, { state: 'backoff' }>),
      'backoff after error',
    );
    expect(last.retryInMs).toBe(60_000);
  });

  it('sends keepalives when idle and reconnects, with resume, after silence', async () => {
    const clock = new ManualClock();
    const { server, client, netmaps } = await setup({
      clock,
      keepaliveMs: 30_000,
      idleTimeoutMs: 75_000,
    });
    client.start();
    const c0 = await server.connection(0);
    await hello(c0);
    c0.send(full(3));
    await waitFor(() => netmaps.length === 1, 'map');
    clock.advance(30_000);
    await waitFor(
      () => c0.received.some((m) => (m as { type?: string }).type === 'keepalive'),
      'keepalive',
    );
    // Control goes quiet (no keepalives, socket still open): after 75 s the client gives up on it.
    clock.advance(STABLE_STREAM_MS + 75_000);
    clock.advance(1_000);
    const c1 = await server.connection(1);
    expect(await hello(c1)).toMatchObject({ resume: { token: 'tok-1', seq: 3 } });
  });
});
