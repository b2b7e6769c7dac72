/**
 * Test-only: two (or more) magicsocks on 127.0.0.1 with a real relay server started in-process,
 * each with a UDP socket standing in for its WireGuard device. Tests pass "WireGuard" datagrams
 * through the per-peer proxies and watch which path carries them.
 */
import dgram from 'node:dgram';
import { generateRelayTokenKeyPair } from '../../control/relay/token-keys.js';
import { issueRelayToken } from '../../control/relay/token.js';
import { startRelayServer, type RunningRelay } from '../../control/relay/standalone.js';
import { generateKeyPair, keyToBase64 } from '../../shared/keys.js';
import type { Endpoint, Peer, RelayMap } from '../../shared/schema/control/netmap.js';
import { samplePeer } from '../../shared/schema/samples.js';
import type { Clock } from '../control-client/clock.js';
import { silentLogger } from '../daemon/log.js';
import { Magicsock, type MagicsockOptions } from './magicsock.js';

export const issuer = generateRelayTokenKeyPair();

export async function startRelay(regionId: number): Promise<RunningRelay> {
  return startRelayServer({ host: '127.0.0.1', port: 0, publicKey: issuer.publicKey, regionId });
}

export function relayMapOf(relays: readonly { id: number; relay: RunningRelay }[]): RelayMap {
  return {
    regions: relays.map(({ id, relay }) => ({
      id,
      code: `r${id}`,
      name: `Region ${id}`,
      relays: [{ url: relay.url, stunHost: '127.0.0.1', stunPort: 3478 }],
    })),
  };
}

/** A "WireGuard device": a UDP socket that records what reaches it. */
export class FakeWireGuard {
  readonly received: { packet: Buffer; from: number }[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (packet, rinfo) => this.received.push({ packet, from: rinfo.port }));
  }

  static async open(): Promise<FakeWireGuard> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    return new FakeWireGuard(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends to a proxy endpoint "127.0.0.1:port". */
  send(endpoint: string, packet: Uint8Array): void {
    const port = Number(endpoint.split(':')[1]);
    this.socket.send(packet, port, '127.0.0.1');
  }

  close(): void {
    this.socket.close();
  }
}

/** A WireGuard-looking datagram (type 4, transport data) carrying `tag`. */
export function wgPacket(tag: number): Uint8Array {
  const p = new Uint8Array(48);
  p[0] = 4;
  p[16] = tag & 0xff;
  return p;
}

export interface Node {
  readonly ms: Magicsock;
  readonly wg: FakeWireGuard;
  readonly nodeKey: string;
  readonly token: string;
  readonly index: number;
  /** Set to false to drop all of this node's direct datagrams (both directions). */
  direct: boolean;
}

export async function startNode(
  index: number,
  opts: Partial<MagicsockOptions> & { clock?: Clock } = {},
): Promise<Node> {
  const keys = generateKeyPair();
  const nodeKey = keyToBase64(keys.publicKey);
  const token = await issueRelayToken(issuer.privateKey, {
    nodeKey: keys.publicKey,
    networkId: 'net',
  });
  let node: Node | null = null;
  const ms = new Magicsock({
    port: 0,
    log: silentLogger,
    bind4: '127.0.0.1',
    bind6: null,
    directFilter: () => node?.direct ?? true,
    ...opts,
  });
  await ms.start();
  const wg = await FakeWireGuard.open();
  node = { ms, wg, nodeKey, token, index, direct: true };
  return node;
}

/** `peer` as `viewer`'s netmap lists it. */
export function peerEntry(
  peer: Node,
  opts: { endpoints?: Endpoint[]; homeRegion?: number | null } = {},
): Peer {
  return {
    ...samplePeer(peer.index),
    nodeKey: peer.nodeKey,
    discoKey: peer.ms.discoPublicKey,
    endpoints: opts.endpoints ?? [{ addr: `127.0.0.1:${peer.ms.port}`, type: 'local' }],
    homeRelayRegion: opts.homeRegion === undefined ? 1 : opts.homeRegion,
  };
}

/**
 * What the daemon does with a netmap: magicsock first, then WireGuard (here: nothing to apply),
 * then tells magicsock WireGuard is configured. Returns the proxy endpoint per peer node key.
 */
export async function applyNetmap(
  n: Node,
  peers: readonly Peer[],
  relayMap: RelayMap,
): Promise<ReadonlyMap<string, string>> {
  const proxies = await n.ms.setNetmap({
    selfNodeKey: n.nodeKey,
    peers,
    relayMap,
    relayToken: n.token,
  });
  n.ms.wireGuardConfigured(n.wg.port);
  return proxies;
}

export function ownEndpoints(n: Node): Endpoint[] {
  return [{ addr: `127.0.0.1:${n.ms.port}`, type: 'local' }];
}
