/**
 * Bad input on magicsock's receive path, over real sockets: whatever arrives (random bytes,
 * WireGuard-, disco- or STUN-looking garbage, disco sealed by strangers or by a peer but
 * malformed, relay payloads from unknown node keys), nothing throws, every datagram is counted
 * exactly once, and the peer's real traffic still flows afterwards.
 */
import dgram from 'node:dgram';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../control/relay/standalone.js';
import { issueRelayToken } from '../../control/relay/token.js';
import {
  DISCO_MAGIC,
  MIN_DISCO_PACKET,
  sealDisco,
  type DiscoMessage,
} from '../../shared/disco/index.js';
import { generateKeyPair, keyFromBase64, keysEqual, keyToBase64 } from '../../shared/keys.js';
import type { RelayMap } from '../../shared/schema/control/netmap.js';
import { RelayClient } from '../relay/client.js';
import { StunClient } from '../stun/client.js';
import { waitFor } from '../testing/wait.js';
import {
  applyNetmap,
  issuer,
  peerEntry,
  relayMapOf,
  startNode,
  startRelay,
  wgPacket,
  type Node,
} from './test-harness.js';
import type { MagicsockCounters } from './types.js';

/**
 * Counters of which exactly one moves per datagram from a stranger. (A real peer's traffic goes
 * to discoReceived and wgDirectIn, which b's heartbeats keep moving in the background.)
 */
const DROP_COUNTERS: readonly (keyof MagicsockCounters)[] = [
  'stunHandled',
  'stunIgnored',
  'discoUnknownSender',
  'discoBadSeal',
  'discoBadMessage',
  'discoKeyMismatch',
  'discoUnmatchedPong',
  'wgUnknownSource',
  'unknownPacket',
];
const dropped = (n: Node): number => DROP_COUNTERS.reduce((sum, k) => sum + n.ms.counters[k], 0);

let relay: RunningRelay;
let map: RelayMap;
let a: Node;
let b: Node;
let aToB: string;
/** A peer of `a` whose disco private key the test holds (it has no magicsock of its own). */
const fake = { node: generateKeyPair(), disco: generateKeyPair() };
let attacker: dgram.Socket;

beforeAll(async () => {
  relay = await startRelay(1);
  map = relayMapOf([{ id: 1, relay }]);
  [a, b] = [await startNode(1), await startNode(2)];
  attacker = dgram.createSocket('udp4');
  await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', r));
  const stun = new StunClient({ send: async () => {} });
  a.ms.setStunSink({ handleStun: (p) => stun.handle(p) });
  const fakePeer = {
    ...peerEntry(b),
    id: 'dev-fake',
    nodeKey: keyToBase64(fake.node.publicKey),
    discoKey: keyToBase64(fake.disco.publicKey),
    endpoints: [{ addr: `127.0.0.1:${attacker.address().port}`, type: 'local' as const }],
  };
  const proxies = await applyNetmap(a, [peerEntry(b), fakePeer], map);
  aToB = proxies.get(b.nodeKey)!;
  await applyNetmap(b, [peerEntry(a)], map);
  await waitFor(() => a.ms.peerStatus(b.nodeKey)?.path.type === 'direct', 'a ↔ b direct');
});

afterAll(async () => {
  attacker.close();
  for (const n of [a, b]) {
    await n.ms.close();
    n.wg.close();
  }
  await relay.close();
});

/** Sends `packets` to a's port and waits until `dropped` of them were counted as drops. */
async function sendAll(packets: readonly Uint8Array[], drops = packets.length): Promise<void> {
  const before = dropped(a);
  for (const p of packets) attacker.send(p, a.ms.port!, '127.0.0.1');
  await waitFor(() => dropped(a) - before >= drops, `${drops} drops counted`, 5000, 5);
  expect(dropped(a) - before).toBe(drops);
}

/** Still working: a WireGuard datagram from a's device reaches b's. */
async function stillCarries(tag: number): Promise<void> {
  await waitFor(
    () => {
      a.wg.send(aToB, wgPacket(tag));
      return b.wg.received.some((r) => r.packet[16] === tag);
    },
    'a still reaches b',
    5000,
    50,
  );
}

const bytes = (max: number, min = 0) =>
  fc.uint8Array({ minLength: min, maxLength: max, size: 'max' });
const withPrefix = (prefix: readonly number[], max = 200, min = 0) =>
  bytes(max, min).map((b) => new Uint8Array([...prefix, ...b]));
/** STUN's magic cookie 0x2112A442, big-endian. */
const cookie = [0x21, 0x12, 0xa4, 0x42];

/** Loopback-only endpoints: a call-me-maybe makes magicsock ping them. */
const loopbackEndpoint = fc
  .integer({ min: 1, max: 65535 })
  .map((port) => ({ ip: '127.0.0.1', family: 'ipv4' as const, port }));
const discoMessage: fc.Arbitrary<DiscoMessage> = fc.oneof(
  fc.record({
    type: fc.constant('ping' as const),
    txId: fc.uint8Array({ minLength: 12, maxLength: 12 }),
    nodeKey: fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.constant(fake.node.publicKey),
    ),
  }),
  fc.record({
    type: fc.constant('pong' as const),
    txId: fc.uint8Array({ minLength: 12, maxLength: 12 }),
    src: loopbackEndpoint,
  }),
  fc.record({
    type: fc.constant('call-me-maybe' as const),
    endpoints: fc.array(loopbackEndpoint, { maxLength: 4 }),
  }),
);

describe('magicsock receive path under bad input', () => {
  it('counts random and look-alike datagrams without throwing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            bytes(1500),
            withPrefix([4, 0, 0, 0]), // WireGuard transport data from nobody we know
            withPrefix([1, 0, 0, 0]),
            withPrefix([...DISCO_MAGIC], 700, MIN_DISCO_PACKET), // disco magic, garbage after it
            withPrefix([0x01, 0x01, 0x00, 0x00, ...cookie]), // STUN header, wrong length
            withPrefix([0x01, 0x01, 0x00, 0x0c, ...cookie], 11), // truncated STUN
          ),
          { minLength: 1, maxLength: 20 },
        ),
        async (packets) => sendAll(packets),
      ),
      { numRuns: 60 },
    );
    expect(a.ms.counters.receiveErrors).toBe(0);
    expect(a.ms.counters.wgUnknownSource).toBeGreaterThan(0);
    expect(a.ms.counters.discoUnknownSender + a.ms.counters.discoBadSeal).toBeGreaterThan(0);
    expect(a.ms.counters.unknownPacket).toBeGreaterThan(0);
    await stillCarries(1);
  });

  it('drops disco from strangers and bad seals, and survives malformed disco from a peer', async () => {
    const aDisco = keyFromBase64(a.ms.discoPublicKey);
    if (!aDisco.ok) throw new Error('disco key');
    const stranger = generateKeyPair();
    const counts = { ...a.ms.counters };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(discoMessage, fc.constantFrom('stranger', 'peer', 'flipped'), fc.nat()), {
          minLength: 1,
          maxLength: 10,
        }),
        async (items) => {
          const packets = items.map(([msg, who, at]) => {
            const key = who === 'stranger' ? stranger.privateKey : fake.disco.privateKey;
            const sealed = sealDisco(msg, key, aDisco.value);
            if (who === 'flipped') sealed[DISCO_MAGIC.length + 32 + (at % 20)]! ^= 0x40;
            return sealed;
          });
          // Only a well-formed ping (with the peer's own node key) or call-me-maybe is accepted.
          const accepted = items.filter(
            ([m, who]) =>
              who === 'peer' &&
              (m.type === 'call-me-maybe' ||
                (m.type === 'ping' && keysEqual(m.nodeKey, fake.node.publicKey))),
          ).length;
          const before = a.ms.counters.discoReceived;
          await sendAll(packets, packets.length - accepted);
          await waitFor(
            () => a.ms.counters.discoReceived - before >= accepted,
            `${accepted} accepted`,
          );
        },
      ),
      { numRuns: 60 },
    );
    const c = a.ms.counters;
    expect(c.receiveErrors).toBe(0);
    expect(c.discoUnknownSender).toBeGreaterThan(counts.discoUnknownSender);
    expect(c.discoBadSeal).toBeGreaterThan(counts.discoBadSeal);
    expect(c.discoKeyMismatch).toBeGreaterThan(counts.discoKeyMismatch); // pings claiming another node key
    expect(c.discoUnmatchedPong).toBeGreaterThan(counts.discoUnmatchedPong);
    expect(c.discoReceived).toBeGreaterThan(counts.discoReceived); // valid pings and CMMs
    await stillCarries(2);
  });

  it('drops relay packets from node keys that are not peers', async () => {
    const stranger = generateKeyPair();
    const client = new RelayClient({
      url: relay.url,
      nodeKey: stranger.publicKey,
      token: () =>
        issueRelayToken(issuer.privateKey, { nodeKey: stranger.publicKey, networkId: 'net' }),
    });
    client.start();
    await client.whenConnected();
    const aKey = keyFromBase64(a.nodeKey);
    if (!aKey.ok) throw new Error('node key');
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(bytes(1200), { minLength: 1, maxLength: 10 }), async (ps) => {
          const before = a.ms.counters.relayUnknownPeer;
          for (const p of ps) expect(client.send(aKey.value, p)).toBe(true);
          await waitFor(
            () => a.ms.counters.relayUnknownPeer - before >= ps.length,
            'relay drops counted',
            5000,
            5,
          );
        }),
        { numRuns: 30 },
      );
    } finally {
      await client.close();
    }
    expect(a.ms.counters.receiveErrors).toBe(0);
    await stillCarries(3);
  });
});
