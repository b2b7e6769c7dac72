/**
 * Forwarding a query to upstream nameservers and bringing the answer back. Each UDP attempt uses
 * a fresh socket (a random source port) and a fresh random query id, and only a datagram from
 * the upstream's address and port with that id is taken: an off-path spoofer must guess both.
 * Upstreams are tried in order until one answers. The answer's bytes are passed through with
 * the client's id restored; the client parses them, we do not need to.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { isIP } from 'node:net';
import type { Upstream } from './answer.js';

/** One upstream's chance to answer over UDP; a resolver that is up answers in well under this. */
export const UPSTREAM_UDP_TIMEOUT_MS = 2_000;
/** A TCP exchange (connect, query, answer) with one upstream. */
export const UPSTREAM_TCP_TIMEOUT_MS = 5_000;
/** More upstreams than this are not tried for one query: the client will have given up. */
export const MAX_UPSTREAM_ATTEMPTS = 3;
/** The largest DNS message (TCP's two-byte length). */
export const MAX_DNS_MESSAGE_BYTES = 65_535;

export interface Forwarder {
  /** The upstream's answer (with the query's id), or null when none answered in time. */
  forward(
    query: Buffer,
    upstreams: readonly Upstream[],
    transport: 'udp' | 'tcp',
  ): Promise<Buffer | null>;
}

function withId(message: Buffer, id: number): Buffer {
  const copy = Buffer.from(message);
  copy.writeUInt16BE(id, 0);
  return copy;
}

function udpExchange(query: Buffer, up: Upstream, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const family = isIP(up.address);
    if (family === 0) {
      resolve(null);
      return;
    }
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    const id = randomInt(0, 0x10000);
    let done = false;
    const finish = (v: Buffer | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('error', () => finish(null));
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address !== up.address || rinfo.port !== up.port) return;
      if (msg.length < 12 || msg.readUInt16BE(0) !== id || !(msg.readUInt16BE(2) & 0x8000)) return;
      finish(msg);
    });
    socket.send(withId(query, id), up.port, up.address, (e) => {
      if (e) finish(null);
    });
  });
}

function tcpExchange(query: Buffer, up: Upstream, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const id = randomInt(0, 0x10000);
    const socket = net.connect({ host: up.address, port: up.port });
    let buffered = Buffer.alloc(0);
    let done = false;
    const finish = (v: Buffer | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(null));
    socket.on('connect', () => {
      const framed = Buffer.alloc(2 + query.length);
      framed.writeUInt16BE(query.length, 0);
      withId(query, id).copy(framed, 2);
      socket.write(framed);
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > 2 + MAX_DNS_MESSAGE_BYTES) return finish(null);
      if (buffered.length < 2) return;
      const len = buffered.readUInt16BE(0);
      if (buffered.length < 2 + len) return;
      const msg = buffered.subarray(2, 2 + len);
      finish(msg.length >= 12 && msg.readUInt16BE(0) === id ? Buffer.from(msg) : null);
    });
  });
}

export class UpstreamForwarder implements Forwarder {
  constructor(
    private readonly timeouts = { udpMs: UPSTREAM_UDP_TIMEOUT_MS, tcpMs: UPSTREAM_TCP_TIMEOUT_MS },
  ) {}

  async forward(
    query: Buffer,
    upstreams: readonly Upstream[],
    transport: 'udp' | 'tcp',
  ): Promise<Buffer | null> {
    if (query.length < 12) return null;
    const clientId = query.readUInt16BE(0);
    for (const up of upstreams.slice(0, MAX_UPSTREAM_ATTEMPTS)) {
      const answer =
        transport === 'udp'
          ? await udpExchange(query, up, this.timeouts.udpMs)
          : await tcpExchange(query, up, this.timeouts.tcpMs);
      if (answer) return withId(answer, clientId);
    }
    return null;
  }
}
