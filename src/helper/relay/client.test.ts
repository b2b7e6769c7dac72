import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { generateKeyPair, keysEqual } from '../../shared/keys.js';
import {
  decodeRelayFrame,
  encodeRelayFrame,
  RELAY_PROTOCOL_VERSION,
} from '../../shared/relay/frame.js';
import { startRelayServer, type RunningRelay } from '../../control/relay/standalone.js';
import { issueRelayToken } from '../../control/relay/token.js';
import { generateRelayTokenKeyPair } from '../../control/relay/token-keys.js';
import { RelayClient, type RelayClientState } from './client.js';
import { ManualClock } from '../testing/manual-clock.js';

const issuer = generateRelayTokenKeyPair();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function relay(port = 0): Promise<RunningRelay> {
  const r = await startRelayServer({
    host: '127.0.0.1',
    port,
    publicKey: issuer.publicKey,
    regionId: 1,
  });
  cleanups.push(() => r.close());
  return r;
}

const token = (nodeKey: Uint8Array, signer = issuer.privateKey) =>
  issueRelayToken(signer, { nodeKey, networkId: 'net' });

function client(url: string, opts: Partial<ConstructorParameters<typeof RelayClient>[0]> = {}) {
  const keys = generateKeyPair();
  const c = new RelayClient({
    url,
    nodeKey: keys.publicKey,
    token: () => token(keys.publicKey),
    ...opts,
  });
  cleanups.push(() => c.close());
  return { c, keys };
}

function nextState(
  c: RelayClient,
  pred: (s: RelayClientState) => boolean,
): Promise<RelayClientState> {
  return new Promise((resolve) => {
    if (pred(c.state)) return resolve(c.state);
    const on = (s: RelayClientState) => {
      if (!pred(s)) return;
      c.off('state', on);
      resolve(s);
    };
    c.on('state', on);
  });
}

describe('relay client', () => {
  it('connects, delivers packets both ways and measures RTT', async () => {
    const r = await relay();
    const a = client(r.url);
    const b = client(r.url);
    a.c.start();
    b.c.start();
    const info = await a.c.whenConnected();
    await b.c.whenConnected();
    expect(info.regionId).toBe(1);
    const got = new Promise<[Uint8Array, Uint8Array]>((resolve) =>
      b.c.once('receive', (src, p) => resolve([src, new Uint8Array(p)])),
    );
    expect(a.c.send(b.keys.publicKey, new Uint8Array([1, 2, 3]))).toBe(true);
    const [src, payload] = await got;
    expect(keysEqual(src, a.keys.publicKey)).toBe(true);
    expect([...payload]).toEqual([1, 2, 3]);
    expect(await a.c.ping()).toBeGreaterThanOrEqual(0);
    expect(a.c.counters.sent).toBe(1);
    expect(b.c.counters.received).toBe(1);
  });

  it('refuses to send while not connected and counts the drop', () => {
    const a = client('ws://127.0.0.1:9/v1/relay');
    expect(a.c.send(generateKeyPair().publicKey, new Uint8Array(1))).toBe(false);
    expect(a.c.counters.dropped).toBe(1);
  });

  it('reports unauthorized, backs off, and connects with a fresh token on the next attempt', async () => {
    const r = await relay();
    const clock = new ManualClock();
    const keys = generateKeyPair();
    const forger = generateRelayTokenKeyPair();
    let calls = 0;
    const c = new RelayClient({
      url: r.url,
      nodeKey: keys.publicKey,
      token: () => token(keys.publicKey, calls++ === 0 ? forger.privateKey : issuer.privateKey),
      clock,
      random: () => 0,
    });
    cleanups.push(() => c.close());
    c.start();
    const s = await nextState(c, (x) => x.state === 'backoff');
    expect(s.state === 'backoff' && s.error.code).toBe('unauthorized');
    expect(s.state === 'backoff' && s.retryInMs).toBe(250);
    expect(c.state.state).toBe('backoff'); // nothing happens until the clock moves
    clock.advance(250);
    await c.whenConnected();
    expect(calls).toBe(2);
  });

  it('reconnects after the relay restarts on the same port', async () => {
    const first = await relay();
    const port = first.port;
    const a = client(first.url, { backoff: { initialMs: 20, maxMs: 100 } });
    a.c.start();
    await a.c.whenConnected();
    const down = nextState(a.c, (s) => s.state === 'backoff');
    await first.close();
    const s = await down;
    expect(s.state === 'backoff' && s.error.code).toBe('server-going-away');
    const second = await relay(port);
    await a.c.whenConnected();
    expect(second.relay.metrics.clients).toBe(1);
    expect(a.c.counters.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('times out a silent relay (no keep-alives) and backs off', async () => {
    // A relay that says hello (keep-alive every 1 s) and then never sends anything again.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    wss.on('connection', (ws) =>
      ws.on('message', (data) => {
        const f = decodeRelayFrame(new Uint8Array(data as Buffer));
        if (f.ok && f.value.type === 'client-hello') {
          ws.send(
            encodeRelayFrame({
              type: 'server-hello',
              version: RELAY_PROTOCOL_VERSION,
              info: { regionId: 2, keepAliveSeconds: 1, maxPayload: 65536 },
            }),
          );
        }
      }),
    );
    const clock = new ManualClock();
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/relay`;
    const a = client(url, { clock, random: () => 0 });
    a.c.start();
    await a.c.whenConnected();
    clock.advance(2000); // < 2.5 keep-alive periods: still connected
    expect(a.c.state.state).toBe('connected');
    clock.advance(600);
    const s = a.c.state;
    expect(s.state === 'backoff' && s.error.code).toBe('timeout');
  });

  it('waits the longest backoff when another connection took over its key', async () => {
    const r = await relay();
    const clock = new ManualClock();
    const keys = generateKeyPair();
    const mk = () =>
      new RelayClient({
        url: r.url,
        nodeKey: keys.publicKey,
        token: () => token(keys.publicKey),
        clock,
        random: () => 0,
      });
    const first = mk();
    const second = mk();
    cleanups.push(
      () => first.close(),
      () => second.close(),
    );
    first.start();
    await first.whenConnected();
    const replaced = nextState(first, (s) => s.state === 'backoff');
    second.start();
    const s = await replaced;
    expect(s.state === 'backoff' && s.error.code).toBe('replaced');
    expect(s.state === 'backoff' && s.retryInMs).toBe(15_000);
  });

  it('stops for good on close()', async () => {
    const r = await relay();
    const a = client(r.url);
    a.c.start();
    await a.c.whenConnected();
    await a.c.close();
    expect(a.c.state.state).toBe('closed');
    await expect.poll(() => r.relay.metrics.clients).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(a.c.state.state).toBe('closed');
    expect(r.relay.metrics.connectionsAccepted).toBe(1);
  });
});
