/**
 * Test-only: loopback STUN servers and relay maps for the netcheck tests. Regions are our own STUN
 * server (src/control/stun) or a scripted responder that plays a NAT (different mapped ports per
 * server), a slow path, or a server that also answers with forged transaction ids.
 */
import dgram from 'node:dgram';
import { type StunServer, respondToDatagram, startStunServer } from '../../control/stun/index.js';
import type { RelayMap, RelayRegion } from '../../shared/schema/control/netmap.js';
import {
  type Addr,
  addrFromRemote,
  encodeBindingSuccess,
  newTransactionId,
} from '../../shared/stun/index.js';

export interface Closable {
  close(): Promise<void> | void;
}

/** Our STUN server on a loopback address, without rate limits (tests send many probes). */
export function loopbackStunServer(host = '127.0.0.1', port = 0): Promise<StunServer> {
  return startStunServer({ host, port, rateLimit: { ratePerSecond: 10_000, burst: 10_000 } });
}

export interface ResponderBehaviour {
  /** What the "NAT" maps our source to; default: the source itself. */
  mapped?: (from: Addr) => Addr;
  /** Delay before answering (a far-away server). */
  delayMs?: () => number;
  /** Answer nothing (UDP blocked on the way to this server). */
  silent?: () => boolean;
  /** Send a response with a random transaction id before the real one. */
  forgeFirst?: boolean;
}

export interface Responder extends Closable {
  readonly port: number;
  /** Requests seen. */
  readonly requests: number;
}

/** A scripted STUN responder on 127.0.0.1. */
export async function startResponder(behaviour: ResponderBehaviour = {}): Promise<Responder> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind({ address: '127.0.0.1', port: 0 }, resolve));
  let requests = 0;
  const timers = new Set<NodeJS.Timeout>();
  socket.on('message', (packet, rinfo) => {
    const from = addrFromRemote(rinfo.address, rinfo.port);
    if (!from) return;
    requests += 1;
    if (behaviour.silent?.()) return;
    const verdict = respondToDatagram(packet, behaviour.mapped?.(from) ?? from, 'test');
    if (verdict.action !== 'answer') return;
    const send = () => {
      if (behaviour.forgeFirst) {
        const forged = encodeBindingSuccess(newTransactionId(), { ...from, port: 9 });
        socket.send(forged, rinfo.port, rinfo.address);
      }
      socket.send(verdict.response, rinfo.port, rinfo.address);
    };
    const delay = behaviour.delayMs?.() ?? 0;
    if (delay <= 0) return send();
    const t = setTimeout(() => {
      timers.delete(t);
      send();
    }, delay);
    timers.add(t);
  });
  return {
    port: socket.address().port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        socket.close(() => resolve());
      }),
  };
}

export interface RegionSpec {
  readonly id: number;
  /** STUN servers of the region's relays: host and port. */
  readonly stun: readonly { host: string; port: number }[];
  /** Relay URL of each relay (same length as stun); defaults to an unused loopback URL. */
  readonly urls?: readonly string[];
}

export function relayMapOf(regions: readonly RegionSpec[]): RelayMap {
  return {
    regions: regions.map((r): RelayRegion => ({
      id: r.id,
      code: `r${r.id}`,
      name: `Region ${r.id}`,
      relays: r.stun.map((s, i) => ({
        url: r.urls?.[i] ?? 'ws://127.0.0.1:9/v1/relay',
        stunHost: s.host,
        stunPort: s.port,
      })),
    })),
  };
}
