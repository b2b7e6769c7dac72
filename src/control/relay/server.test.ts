import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateKeyPair, keysEqual } from '../../shared/keys.js';
import { RelayCloseCode } from '../../shared/relay/close-codes.js';
import { MAX_FRAME, RELAY_PROTOCOL_VERSION } from '../../shared/relay/frame.js';
import { RelayServer, type RelayServerOptions } from './server.js';
import { startRelayServer, type RunningRelay } from './standalone.js';
import { connectRaw, type RawRelayClient } from './test-client.js';
import { issueRelayToken } from './token.js';
import { generateRelayTokenKeyPair } from './token-keys.js';

const issuer = generateRelayTokenKeyPair();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function relay(extra: Partial<RelayServerOptions> = {}): Promise<RunningRelay> {
  const r = await startRelayServer({
    host: '127.0.0.1',
    port: 0,
    publicKey: issuer.publicKey,
    regionId: 7,
    ...extra,
  });
  cleanups.push(() => r.close());
  return r;
}

async function raw(url: string): Promise<RawRelayClient> {
  const c = await connectRaw(url);
  cleanups.push(() => c.ws.terminate());
  return c;
}

/** A connected, authenticated raw client. */
async function node(url: string, networkId = 'net1') {
  const keys = generateKeyPair();
  const c = await raw(url);
  c.hello(
    keys.publicKey,
    await issueRelayToken(issuer.privateKey, { nodeKey: keys.publicKey, networkId }),
  );
  await c.waitFor('server-hello');
  return { ...keys, c };
}

describe('relay server protocol', () => {
  it('answers the hello with its server info', async () => {
    const r = await relay({ keepAliveIntervalMs: 7000 });
    const a = await node(r.url);
    const hello = await a.c.waitFor('server-hello');
    expect(hello.version).toBe(RELAY_PROTOCOL_VERSION);
    expect(hello.info).toEqual({ regionId: 7, keepAliveSeconds: 7, maxPayload: 65536 });
    expect(r.relay.metrics.clients).toBe(1);
  });

  it('refuses a connection whose first frame is not a hello', async () => {
    const r = await relay();
    const c = await raw(r.url);
    c.sendFrame({ type: 'keep-alive' });
    expect((await c.closed).code).toBe(RelayCloseCode.policyViolation);
    expect(r.relay.metrics.authFailures['bad-hello']).toBe(1);
  });

  it('refuses a client that never says hello', async () => {
    const r = await relay({ helloTimeoutMs: 100 });
    const c = await raw(r.url);
    expect((await c.closed).code).toBe(RelayCloseCode.policyViolation);
    expect(r.relay.metrics.authFailures['hello-timeout']).toBe(1);
  });

  it('tells a client with another protocol version which one it speaks', async () => {
    const r = await relay();
    const c = await raw(r.url);
    const k = generateKeyPair().publicKey;
    const token = await issueRelayToken(issuer.privateKey, { nodeKey: k, networkId: 'n' });
    c.sendFrame({ type: 'client-hello', version: 99, nodeKey: k, token });
    const closed = await c.closed;
    expect(closed.code).toBe(RelayCloseCode.unsupportedVersion);
    expect(closed.reason).toContain(`server speaks ${RELAY_PROTOCOL_VERSION}`);
  });

  it('refuses tokens for another region but accepts its own and wildcard ones', async () => {
    const r = await relay();
    const k = generateKeyPair().publicKey;
    const other = await raw(r.url);
    other.hello(
      k,
      await issueRelayToken(issuer.privateKey, {
        nodeKey: k,
        networkId: 'n',
        regionId: 8,
      }),
    );
    expect((await other.closed).code).toBe(RelayCloseCode.policyViolation);
    expect(r.relay.metrics.authFailures['wrong-region']).toBe(1);
    const mine = await raw(r.url);
    mine.hello(
      k,
      await issueRelayToken(issuer.privateKey, { nodeKey: k, networkId: 'n', regionId: 7 }),
    );
    await mine.waitFor('server-hello');
  });

  it('processes frames pipelined behind the hello once authenticated', async () => {
    const r = await relay();
    const b = await node(r.url);
    const a = generateKeyPair();
    const c = await raw(r.url);
    const token = await issueRelayToken(issuer.privateKey, {
      nodeKey: a.publicKey,
      networkId: 'net1',
    });
    c.hello(a.publicKey, token);
    c.sendFrame({ type: 'send', dst: b.publicKey, payload: new Uint8Array([42]) });
    const got = await b.c.waitFor('receive');
    expect(keysEqual(got.src, a.publicKey)).toBe(true);
    expect([...got.payload]).toEqual([42]);
  });

  it('answers pings, ignores unknown frame types, and closes on malformed frames', async () => {
    const r = await relay();
    const a = await node(r.url);
    a.c.sendFrame({ type: 'ping', data: new Uint8Array(8).fill(5) });
    const pong = await a.c.waitFor('pong');
    expect([...pong.data]).toEqual(new Array(8).fill(5));
    a.c.sendBytes(new Uint8Array([0xee, 1, 2, 3]));
    a.c.sendFrame({ type: 'ping', data: new Uint8Array(8).fill(6) });
    await a.c.waitFor('pong', (p) => p.data[0] === 6);
    expect(r.relay.metrics.unknownFrames).toBe(1);
    a.c.sendBytes(new Uint8Array([0x08, 1])); // truncated ping
    expect((await a.c.closed).code).toBe(RelayCloseCode.protocolError);
    expect(r.relay.metrics.malformedFrames).toBe(1);
  });

  it('closes on frames only a server may send, text messages, and oversized messages', async () => {
    const r = await relay();
    const a = await node(r.url);
    a.c.sendFrame({ type: 'receive', src: a.publicKey, payload: new Uint8Array(1) });
    expect((await a.c.closed).code).toBe(RelayCloseCode.protocolError);
    const b = await node(r.url);
    b.c.ws.send('hello', { binary: false });
    expect((await b.c.closed).code).toBe(RelayCloseCode.protocolError);
    const c = await node(r.url);
    c.c.sendBytes(new Uint8Array(MAX_FRAME + 1));
    expect((await c.c.closed).code).toBe(1009); // ws: message too big
    expect(r.relay.metrics.malformedFrames).toBe(2);
    const d = await node(r.url); // and the server still serves
    await expect.poll(() => r.relay.metrics.clients).toBe(1);
    d.c.sendFrame({ type: 'ping', data: new Uint8Array(8) });
    await d.c.waitFor('pong');
  });

  it('replaces an older connection with the same key without a peer-gone notice', async () => {
    const r = await relay();
    const b = await node(r.url);
    const a1 = await node(r.url);
    a1.c.sendFrame({ type: 'send', dst: b.publicKey, payload: new Uint8Array([1]) });
    await b.c.waitFor('receive');
    const a2 = await raw(r.url);
    a2.hello(
      a1.publicKey,
      await issueRelayToken(issuer.privateKey, { nodeKey: a1.publicKey, networkId: 'net1' }),
    );
    await a2.waitFor('server-hello');
    expect((await a1.c.closed).code).toBe(RelayCloseCode.replaced);
    expect(r.relay.metrics.replaced).toBe(1);
    b.c.sendFrame({ type: 'send', dst: a1.publicKey, payload: new Uint8Array([2]) });
    const got = await a2.waitFor('receive');
    expect([...got.payload]).toEqual([2]);
    expect(b.c.frames.some((f) => f.type === 'peer-gone')).toBe(false);
  });

  it('notifies peers that exchanged packets when one leaves and comes back', async () => {
    const r = await relay();
    const a = await node(r.url);
    const b = await node(r.url);
    a.c.sendFrame({ type: 'send', dst: b.publicKey, payload: new Uint8Array([1]) });
    await b.c.waitFor('receive');
    b.c.ws.close();
    const gone = await a.c.waitFor('peer-gone');
    expect(keysEqual(gone.key, b.publicKey)).toBe(true);
    expect(gone.reason).toBe('disconnected');
    const b2 = await raw(r.url);
    b2.hello(
      b.publicKey,
      await issueRelayToken(issuer.privateKey, { nodeKey: b.publicKey, networkId: 'net1' }),
    );
    const present = await a.c.waitFor('peer-present');
    expect(keysEqual(present.key, b.publicKey)).toBe(true);
  });

  it('keeps networks apart: a node key in another network is unreachable', async () => {
    const r = await relay();
    const a = await node(r.url, 'net1');
    const b = await node(r.url, 'net2');
    a.c.sendFrame({ type: 'send', dst: b.publicKey, payload: new Uint8Array([1]) });
    const gone = await a.c.waitFor('peer-gone');
    expect(gone.reason).toBe('not-here');
    expect(r.relay.metrics.dropped['unknown-destination']).toBe(1);
    expect(b.c.frames.some((f) => f.type === 'receive')).toBe(false);
  });

  it('sends keep-alives and cuts off clients that stop answering pings', async () => {
    const r = await relay({ keepAliveIntervalMs: 100 });
    const a = await node(r.url);
    await a.c.waitFor('keep-alive');
    // Stop reading: WebSocket pongs no longer come back, so the server drops the client.
    a.c.ws.pause();
    await expect.poll(() => r.relay.metrics.timedOut, { timeout: 3000 }).toBe(1);
    // terminate() is immediate; the close event that unregisters the client follows.
    await expect.poll(() => r.relay.metrics.clients).toBe(0);
  });

  it('bounds the queue by frame count while a client is backed up', async () => {
    const limits = { maxBytes: 512 * 1024 * 1024, maxFrames: 8 };
    const r = await relay({ queueLimits: limits });
    const a = await node(r.url);
    const b = await node(r.url);
    b.c.ws.pause(); // b stops reading
    const payload = new Uint8Array(MAX_FRAME - 33);
    let maxFrames = 0;
    for (let i = 0; i < 2000 && r.relay.metrics.dropped['queue-full'] === 0; i++) {
      a.c.sendFrame({ type: 'send', dst: b.publicKey, payload });
      await new Promise((resolve) => setImmediate(resolve));
      const stats = r.relay.clientStats().find((s) => s.queuedBytes > 0);
      maxFrames = Math.max(maxFrames, stats?.queuedFrames ?? 0);
    }
    expect(r.relay.metrics.dropped['queue-full']).toBeGreaterThan(0);
    expect(maxFrames).toBeLessThanOrEqual(limits.maxFrames);
    // Far below the byte bound: the frame count is what stopped it (a WebSocket header adds at
    // most 10 bytes to a server-sent frame).
    const queued = r.relay.clientStats().reduce((n, s) => n + s.queuedBytes, 0);
    expect(queued).toBeLessThanOrEqual(limits.maxFrames * (MAX_FRAME + 10));
  });

  it('sends the health message to current and later clients', async () => {
    const r = await relay();
    const a = await node(r.url);
    r.relay.setHealth('maintenance at 10:00');
    expect((await a.c.waitFor('health')).message).toBe('maintenance at 10:00');
    const b = await node(r.url);
    expect((await b.c.waitFor('health')).message).toBe('maintenance at 10:00');
  });
});

describe('relay server attached to an existing HTTP server', () => {
  it('serves /v1/relay and leaves other upgrade paths to other handlers', async () => {
    const server: Server = createServer();
    const relayServer = new RelayServer({ publicKey: issuer.publicKey, regionId: 9 });
    const detach = relayServer.attach(server);
    // Another component (the netmap stream) owning /v1/map on the same server.
    server.on('upgrade', (req, socket) => {
      if (req.url === '/v1/map') socket.end('HTTP/1.1 418 I am a teapot\r\n\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      detach();
      await relayServer.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const port = (server.address() as AddressInfo).port;
    const a = await node(`ws://127.0.0.1:${port}/v1/relay`);
    expect((await a.c.waitFor('server-hello')).info.regionId).toBe(9);
    const other = new WebSocket(`ws://127.0.0.1:${port}/v1/map`);
    const status = await new Promise<number | undefined>((resolve) => {
      other.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      other.on('error', () => resolve(undefined));
    });
    expect(status).toBe(418);
  });
});
