/**
 * The relay end to end over real loopback sockets: control-signed tokens, a standalone relay,
 * the helper's relay client on both ends, and hostile clients speaking raw frames.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueRelayToken } from '../src/control/relay/token.js';
import { generateRelayTokenKeyPair } from '../src/control/relay/token-keys.js';
import { startRelayServer, type RunningRelay } from '../src/control/relay/standalone.js';
import { connectRaw } from '../src/control/relay/test-client.js';
import { RelayClient, type RelayClientState } from '../src/helper/relay/client.js';
import { generateKeyPair, keysEqual, keyToBase64, type KeyPair } from '../src/shared/keys.js';
import { RelayCloseCode } from '../src/shared/relay/close-codes.js';
import { MAX_PAYLOAD } from '../src/shared/relay/frame.js';

const issuer = generateRelayTokenKeyPair();
const NETWORK = 'net-e2e';
const QUEUE_LIMITS = { maxBytes: 256 * 1024, maxFrames: 64 };

let relay: RunningRelay;
const clients: RelayClient[] = [];

beforeAll(async () => {
  relay = await startRelayServer({
    host: '127.0.0.1',
    port: 0,
    publicKey: issuer.publicKey,
    regionId: 1,
    queueLimits: QUEUE_LIMITS,
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await relay.close();
});

function helper(
  keys: KeyPair = generateKeyPair(),
  token?: () => Promise<string>,
): { c: RelayClient; keys: KeyPair } {
  const c = new RelayClient({
    url: relay.url,
    nodeKey: keys.publicKey,
    token:
      token ??
      (() => issueRelayToken(issuer.privateKey, { nodeKey: keys.publicKey, networkId: NETWORK })),
    maxSendBuffer: 8 * 1024 * 1024,
  });
  clients.push(c);
  c.start();
  return { c, keys };
}

function firstBackoff(c: RelayClient): Promise<RelayClientState> {
  return new Promise((resolve) => {
    const on = (s: RelayClientState) => {
      if (s.state !== 'backoff' && s.state !== 'connected') return;
      c.off('state', on);
      resolve(s);
    };
    c.on('state', on);
  });
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Packet i: 4-byte sequence number, then random bytes; sizes cover empty to MAX_PAYLOAD. */
function packets(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const size = i % 97 === 0 ? MAX_PAYLOAD : 4 + ((i * 131) % 1400);
    const p = new Uint8Array(randomBytes(size));
    new DataView(p.buffer).setUint32(0, i);
    return p;
  });
}

async function exchange(
  from: RelayClient,
  to: RelayClient,
  toKey: Uint8Array,
  fromKey: Uint8Array,
  n: number,
) {
  const sent = packets(n);
  const received: string[] = [];
  const done = new Promise<void>((resolve) => {
    const on = (src: Uint8Array, payload: Uint8Array) => {
      expect(keysEqual(src, fromKey)).toBe(true);
      received.push(sha(payload));
      if (received.length === n) {
        to.off('receive', on);
        resolve();
      }
    };
    to.on('receive', on);
  });
  for (const p of sent) expect(from.send(toKey, p)).toBe(true);
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => {
      const m = relay.relay.metrics;
      reject(
        new Error(`got ${received.length}/${n} packets; dropped ${JSON.stringify(m.dropped)}`),
      );
    }, 30_000).unref(),
  );
  await Promise.race([done, timeout]);
  // Same bytes, same order: one TCP stream per client end to end.
  expect(received).toEqual(sent.map(sha));
}

describe('relay end to end', () => {
  it('two helpers exchange many packets by node key, both directions, intact', async () => {
    const a = helper();
    const b = helper();
    await Promise.all([a.c.whenConnected(), b.c.whenConnected()]);
    const before = relay.relay.metrics.forwardedPackets;
    await Promise.all([
      exchange(a.c, b.c, b.keys.publicKey, a.keys.publicKey, 1500),
      exchange(b.c, a.c, a.keys.publicKey, b.keys.publicKey, 1500),
    ]);
    expect(relay.relay.metrics.forwardedPackets - before).toBe(3000);
    expect(relay.relay.metrics.dropped['queue-full']).toBe(0);
  });

  it('refuses forged, expired and mismatched tokens with a bare policy violation', async () => {
    const keys = generateKeyPair();
    const forger = generateRelayTokenKeyPair();
    const failures = { ...relay.relay.metrics.authFailures };
    const clientsBefore = relay.relay.metrics.clients;
    const forged = helper(keys, () =>
      issueRelayToken(forger.privateKey, { nodeKey: keys.publicKey, networkId: NETWORK }),
    );
    const expiredKeys = generateKeyPair();
    const expired = helper(expiredKeys, () =>
      issueRelayToken(issuer.privateKey, {
        nodeKey: expiredKeys.publicKey,
        networkId: NETWORK,
        ttlSeconds: 60,
        now: new Date(Date.now() - 3600_000),
      }),
    );
    // A valid token, but for another node's key: sub ≠ hello key.
    const other = generateKeyPair();
    const mismatched = helper(generateKeyPair(), () =>
      issueRelayToken(issuer.privateKey, { nodeKey: other.publicKey, networkId: NETWORK }),
    );
    for (const h of [forged, expired, mismatched]) {
      const s = await firstBackoff(h.c);
      expect(s.state === 'backoff' && s.error.code).toBe('unauthorized');
      await h.c.close();
    }
    const m = relay.relay.metrics.authFailures;
    expect(m['invalid-token'] - failures['invalid-token']).toBeGreaterThanOrEqual(1);
    expect(m.expired - failures.expired).toBeGreaterThanOrEqual(1);
    expect(m['key-mismatch'] - failures['key-mismatch']).toBeGreaterThanOrEqual(1);
    expect(relay.relay.metrics.clients).toBe(clientsBefore);
    // The close reason says nothing about which check failed.
    const raw = await connectRaw(relay.url);
    raw.hello(
      keys.publicKey,
      await issueRelayToken(forger.privateKey, { nodeKey: keys.publicKey, networkId: NETWORK }),
    );
    expect(await raw.closed).toEqual({
      code: RelayCloseCode.policyViolation,
      reason: 'unauthorized',
    });
  });

  it('drops and counts packets for unknown destinations, and tells the sender', async () => {
    const a = helper();
    await a.c.whenConnected();
    const nobody = generateKeyPair().publicKey;
    const before = relay.relay.metrics.dropped['unknown-destination'];
    const gone = new Promise<[Uint8Array, string]>((resolve) =>
      a.c.once('peer-gone', (k, r) => resolve([k, r])),
    );
    for (let i = 0; i < 10; i++) expect(a.c.send(nobody, new Uint8Array([i]))).toBe(true);
    const [key, reason] = await gone;
    expect(keysEqual(key, nobody)).toBe(true);
    expect(reason).toBe('not-here');
    await expect.poll(() => relay.relay.metrics.dropped['unknown-destination'] - before).toBe(10);
    // When the destination shows up, the sender hears about it.
    const present = new Promise<Uint8Array>((resolve) => a.c.once('peer-present', resolve));
    const late = helper({ publicKey: nobody, privateKey: new Uint8Array(32) });
    await late.c.whenConnected();
    expect(keysEqual(await present, nobody)).toBe(true);
  });

  it('survives malformed frames from many clients and keeps serving', async () => {
    const malformedBefore = relay.relay.metrics.malformedFrames;
    for (let i = 0; i < 40; i++) {
      const raw = await connectRaw(relay.url);
      if (i % 2 === 1) {
        const k = generateKeyPair().publicKey;
        raw.hello(k, await issueRelayToken(issuer.privateKey, { nodeKey: k, networkId: NETWORK }));
        await raw.waitFor('server-hello');
      }
      // Random garbage with a valid-looking type byte in front, some truncated, some long.
      const junk = new Uint8Array(randomBytes(1 + ((i * 37) % 300)));
      junk[0] = 1 + (i % 11);
      raw.sendBytes(junk);
      raw.sendBytes(new Uint8Array(randomBytes(i)));
      const closed = await Promise.race([raw.closed, new Promise((r) => setTimeout(r, 100, null))]);
      if (closed === null) raw.ws.terminate();
    }
    expect(relay.relay.metrics.malformedFrames).toBeGreaterThan(malformedBefore);
    const a = helper();
    const b = helper();
    await Promise.all([a.c.whenConnected(), b.c.whenConnected()]);
    await exchange(a.c, b.c, b.keys.publicKey, a.keys.publicKey, 50);
  });

  it('bounds the queue to a client that stops reading: drops, not unbounded memory', async () => {
    const sender = helper();
    await sender.c.whenConnected();
    const stalled = await connectRaw(relay.url);
    const stalledKey = generateKeyPair().publicKey;
    stalled.hello(
      stalledKey,
      await issueRelayToken(issuer.privateKey, { nodeKey: stalledKey, networkId: NETWORK }),
    );
    await stalled.waitFor('server-hello');
    stalled.ws.pause(); // stop reading: TCP window closes, the relay's queue to it fills
    const before = relay.relay.metrics.dropped['queue-full'];
    const payload = new Uint8Array(MAX_PAYLOAD);
    const budget = 256 * 1024 * 1024; // far beyond kernel buffers + queue bound
    let offered = 0;
    let maxQueued = 0;
    while (relay.relay.metrics.dropped['queue-full'] === before && offered < budget) {
      if (sender.c.send(stalledKey, payload)) offered += payload.length;
      await new Promise((resolve) => setImmediate(resolve));
      const stats = relay.relay.clientStats().find((s) => s.node === keyToBase64(stalledKey));
      maxQueued = Math.max(maxQueued, stats?.queuedBytes ?? 0);
    }
    expect(relay.relay.metrics.dropped['queue-full']).toBeGreaterThan(before);
    // Keep pushing: every further packet is dropped, the queue never exceeds its bound.
    for (let i = 0; i < 200; i++) {
      sender.c.send(stalledKey, payload);
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      const stats = relay.relay.clientStats().find((s) => s.node === keyToBase64(stalledKey));
      maxQueued = Math.max(maxQueued, stats?.queuedBytes ?? 0);
    }
    await expect
      .poll(() => relay.relay.metrics.dropped['queue-full'] - before)
      .toBeGreaterThan(100);
    expect(maxQueued).toBeLessThanOrEqual(QUEUE_LIMITS.maxBytes);
    const stats = relay.relay.clientStats().find((s) => s.node === keyToBase64(stalledKey));
    expect(stats?.queuedFrames).toBeLessThanOrEqual(QUEUE_LIMITS.maxFrames);
    // Other traffic through the relay is unaffected.
    const b = helper();
    await b.c.whenConnected();
    await exchange(sender.c, b.c, b.keys.publicKey, sender.keys.publicKey, 20);
    stalled.ws.terminate();
  });
});
