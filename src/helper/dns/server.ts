/**
 * MagicDNS: a small DNS server on the mesh, over UDP and TCP (see docs/architecture.md). It
 * listens on the addresses its config names (100.100.100.100 when system DNS points at it; an
 * exit node's own mesh address for its peers), answers mesh names from the netmap and forwards
 * the rest (answer.ts, forward.ts). `update` follows every netmap change: it swaps the rules and
 * binds or closes listeners as the addresses come and go; it never throws, it reports.
 *
 * Limits, since anything on the machine (and peers, on an exit node) can send to it: queries
 * being forwarded at once, TCP connections, TCP idle time and message sizes are all bounded.
 */
import dgram from 'node:dgram';
import fs from 'node:fs/promises';
import net from 'node:net';
import type { Logger } from '../daemon/log.js';
import { errorResponse, handleQuery, type ResolverRules, type Upstream } from './answer.js';
import { MAX_DNS_MESSAGE_BYTES, UpstreamForwarder, type Forwarder } from './forward.js';
import { MAX_RESOLV_CONF_BYTES, systemNameservers } from './resolv-conf.js';
import type { DnsZone } from './zone.js';

/** Tailscale's address for its resolver: in CGNAT space, outside every device's address. */
export const MAGIC_DNS_ADDRESS = '100.100.100.100';
export const DNS_PORT = 53;
/** Queries waiting for an upstream at once; more are answered SERVFAIL at once. */
export const MAX_INFLIGHT_FORWARDS = 256;
export const MAX_TCP_CONNECTIONS = 64;
/** A TCP client that sends nothing for this long is closed (RFC 7766 suggests seconds). */
export const TCP_IDLE_TIMEOUT_MS = 10_000;
/** Queries one TCP connection may have waiting for answers (pipelining, RFC 7766). */
export const MAX_TCP_PIPELINE = 32;

export interface ResolverConfig {
  /** Addresses to listen on. */
  readonly listen: readonly string[];
  readonly port: number;
  readonly zone: DnsZone;
  readonly splitDns: ReadonlyMap<string, readonly Upstream[]>;
  /** Where other names go; 'system': the nameservers the system had before MagicDNS. */
  readonly upstreams: readonly Upstream[] | 'system';
}

export interface MagicDnsServerOptions {
  readonly log: Logger;
  readonly forwarder?: Forwarder;
  /** The text of the system's resolv.conf (default: read /etc/resolv.conf). */
  readonly readResolvConf?: () => Promise<string | null>;
}

interface Listener {
  readonly address: string;
  readonly port: number;
  readonly udp: dgram.Socket;
  readonly tcp: net.Server;
}

async function readSystemResolvConf(): Promise<string | null> {
  try {
    const text = await fs.readFile('/etc/resolv.conf', 'utf8');
    return text.slice(0, MAX_RESOLV_CONF_BYTES);
  } catch {
    return null;
  }
}

function bindUdp(address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: net.isIPv6(address) ? 'udp6' : 'udp4' });
    s.once('error', reject);
    s.bind({ address, port, exclusive: true }, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

function listenTcp(server: net.Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export class MagicDnsServer {
  private readonly log: Logger;
  private readonly forwarder: Forwarder;
  private readonly readResolvConf: () => Promise<string | null>;
  private rules: ResolverRules | null = null;
  private readonly listeners = new Map<string, Listener>();
  private readonly connections = new Set<net.Socket>();
  private inflight = 0;
  private closed = false;

  constructor(opts: MagicDnsServerOptions) {
    this.log = opts.log;
    this.forwarder = opts.forwarder ?? new UpstreamForwarder();
    this.readResolvConf = opts.readResolvConf ?? readSystemResolvConf;
  }

  /** Where it listens now (actual ports, for a config with port 0). */
  addresses(): Array<{ address: string; port: number }> {
    return [...this.listeners.values()].map((l) => ({ address: l.address, port: l.port }));
  }

  /** Applies a config (null: stop listening); returns what could not be done. */
  async update(config: ResolverConfig | null): Promise<string[]> {
    if (this.closed) return [];
    if (config === null) {
      await this.closeListeners([...this.listeners.keys()]);
      this.rules = null;
      return [];
    }
    this.rules = {
      zone: config.zone,
      splitDns: config.splitDns,
      upstreams:
        config.upstreams === 'system' ? await this.systemUpstreams(config) : config.upstreams,
    };
    const wanted = new Set(config.listen.map((a) => `${a}|${config.port}`));
    await this.closeListeners([...this.listeners.keys()].filter((k) => !wanted.has(k)));
    const problems: string[] = [];
    for (const address of config.listen) {
      const key = `${address}|${config.port}`;
      if (this.listeners.has(key)) continue;
      try {
        this.listeners.set(key, await this.listen(address, config.port));
        this.log.info({ address, port: config.port }, 'MagicDNS listening');
      } catch (e) {
        problems.push(`listening on ${address}:${config.port}: ${(e as Error).message}`);
      }
    }
    return problems;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.closeListeners([...this.listeners.keys()]);
    for (const c of this.connections) c.destroy();
    this.connections.clear();
  }

  private async systemUpstreams(config: ResolverConfig): Promise<Upstream[]> {
    const own = new Set([MAGIC_DNS_ADDRESS, ...config.listen]);
    const servers = systemNameservers(await this.readResolvConf());
    return servers.filter((s) => !own.has(s)).map((address) => ({ address, port: DNS_PORT }));
  }

  private async listen(address: string, port: number): Promise<Listener> {
    const udp = await bindUdp(address, port);
    const actual = udp.address().port;
    const tcp = net.createServer((c) => this.onConnection(c));
    try {
      await listenTcp(tcp, address, actual);
    } catch (e) {
      udp.close();
      throw e;
    }
    udp.on('message', (msg, rinfo) => void this.onDatagram(udp, msg, rinfo));
    udp.on('error', (e) => this.log.warn({ address, error: e.message }, 'MagicDNS UDP error'));
    tcp.on('error', (e) => this.log.warn({ address, error: e.message }, 'MagicDNS TCP error'));
    return { address, port: actual, udp, tcp };
  }

  private async closeListeners(keys: string[]): Promise<void> {
    for (const k of keys) {
      const l = this.listeners.get(k);
      if (!l) continue;
      this.listeners.delete(k);
      l.udp.close();
      await new Promise<void>((r) => l.tcp.close(() => r()));
    }
  }

  /** The answer to one query, or null to stay silent. Never throws. */
  private async respond(query: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | null> {
    const rules = this.rules;
    if (!rules) return errorResponse(query, 'REFUSED');
    let decision;
    try {
      decision = handleQuery(query, rules, transport);
    } catch (e) {
      // handleQuery contains dns-packet's throws; anything else is our bug, not the sender's.
      this.log.warn({ error: (e as Error).message }, 'MagicDNS failed on a query');
      return errorResponse(query, 'SERVFAIL');
    }
    switch (decision.type) {
      case 'answer':
        return decision.response;
      case 'drop':
        return null;
      case 'forward': {
        if (this.inflight >= MAX_INFLIGHT_FORWARDS) return errorResponse(query, 'SERVFAIL');
        this.inflight++;
        try {
          const answer = await this.forwarder.forward(query, decision.upstreams, transport);
          return answer ?? errorResponse(query, 'SERVFAIL');
        } catch {
          return errorResponse(query, 'SERVFAIL');
        } finally {
          this.inflight--;
        }
      }
    }
  }

  private async onDatagram(udp: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo) {
    const response = await this.respond(msg, 'udp');
    if (response && !this.closed) {
      udp.send(response, rinfo.port, rinfo.address, () => {
        // A client that went away is not our problem.
      });
    }
  }

  private onConnection(socket: net.Socket): void {
    if (this.connections.size >= MAX_TCP_CONNECTIONS || this.closed) {
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    socket.setTimeout(TCP_IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    let busy = Promise.resolve();
    let pending = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > 2 * (2 + MAX_DNS_MESSAGE_BYTES)) {
        socket.destroy();
        return;
      }
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) break;
        const query = Buffer.from(buffered.subarray(2, 2 + len));
        buffered = buffered.subarray(2 + len);
        if (++pending > MAX_TCP_PIPELINE) {
          socket.destroy();
          return;
        }
        // Answers go back in query order.
        busy = busy.then(async () => {
          pending--;
          const response = await this.respond(query, 'tcp');
          if (!response) {
            socket.destroy();
            return;
          }
          const framed = Buffer.alloc(2 + response.length);
          framed.writeUInt16BE(response.length, 0);
          response.copy(framed, 2);
          if (!socket.destroyed) socket.write(framed);
        });
      }
    });
  }
}
