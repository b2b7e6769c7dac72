/**
 * The per-peer loopback proxy between the local WireGuard device and magicsock (NetBird's
 * userspace wgproxy). WireGuard knows each peer by a loopback endpoint, one UDP socket per peer:
 * what WireGuard sends there goes to that peer over magicsock's best path, and what arrives from
 * the peer is sent to WireGuard from the same socket, so WireGuard always sees the peer at one
 * stable address whatever path carries the packets.
 *
 * Only WireGuard's own port may use a proxy: datagrams from any other local source are dropped.
 * Until WireGuard's port is known (the device reports it after its first config), packets in
 * both directions wait in small queues instead of being lost: a lost handshake initiation costs
 * a 5 s retry, and a peer's first handshake often arrives while our device is still starting.
 */
import dgram from 'node:dgram';

/** Packets held per proxy and direction until WireGuard's port is known: a few handshakes. */
export const MAX_PENDING_BEFORE_PORT = 16;

export interface WgProxyCounters {
  /** Datagrams from a local source other than WireGuard's port. */
  proxyForeignSource: number;
  /** Packets for WireGuard dropped because its port was unknown or the send failed. */
  proxyDeliverFailed: number;
}

export interface WgProxyOptions {
  /** Loopback address the proxies and WireGuard talk on. */
  readonly loopback: string;
  /** WireGuard sent a packet for the peer. */
  readonly onOutbound: (packet: Uint8Array) => void;
  readonly counters: WgProxyCounters;
  /** WireGuard's listen port, when known. */
  readonly wgPort: () => number | null;
}

export class WgProxy {
  /** From WireGuard (with its source port), and for it, while its port is unknown. */
  private readonly pending: { packet: Uint8Array; port: number }[] = [];
  private readonly inbound: Uint8Array[] = [];
  /** WireGuard has been configured with this peer: it would drop the peer's packets before. */
  private ready = false;
  /**
   * The socket is connected to WireGuard's port: sends then skip the per-packet address lookup,
   * and the kernel itself drops datagrams from any other source.
   */
  private conn: { port: number; state: 'connecting' | 'connected' } | null = null;
  private wantPort: number | null = null;
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly opts: WgProxyOptions,
    /** The loopback "ip:port" WireGuard uses as this peer's endpoint. */
    readonly endpoint: string,
  ) {
    socket.on('message', (packet, rinfo) => this.onMessage(packet, rinfo));
    socket.on('error', () => void this.opts.counters.proxyDeliverFailed++);
  }

  static async open(opts: WgProxyOptions): Promise<WgProxy> {
    const socket = dgram.createSocket({ type: opts.loopback.includes(':') ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: opts.loopback, port: 0 }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // A send error (WireGuard restarting, ICMP unreachable) must never become an exception.
    const { port } = socket.address();
    const host = opts.loopback.includes(':') ? `[${opts.loopback}]` : opts.loopback;
    return new WgProxy(socket, opts, `${host}:${port}`);
  }

  /** WireGuard has been configured with this peer (and its port is known). */
  get isReady(): boolean {
    return this.ready;
  }

  /** A packet from the peer: hand it to WireGuard. */
  deliver(packet: Uint8Array): void {
    if (this.closed) return;
    const conn = this.conn;
    if (!this.ready || conn?.state !== 'connected' || conn.port !== this.wantPort) {
      if (this.inbound.length < MAX_PENDING_BEFORE_PORT) this.inbound.push(packet);
      else this.opts.counters.proxyDeliverFailed++;
      return;
    }
    try {
      this.socket.send(packet); // asynchronous failures arrive as 'error' events
    } catch {
      this.opts.counters.proxyDeliverFailed++; // the socket closed under us
    }
  }

  /** WireGuard now knows this peer and listens on `port`: release what waited for it. */
  configured(port: number): void {
    this.ready = true;
    this.wantPort = port;
    this.syncConnection();
    for (const p of this.pending.splice(0)) {
      if (p.port === port) this.opts.onOutbound(p.packet);
      else this.opts.counters.proxyForeignSource++;
    }
    for (const p of this.inbound.splice(0)) this.deliver(p);
  }

  /** Connects the socket to WireGuard's current port (again, when WireGuard moved). */
  private syncConnection(): void {
    const want = this.wantPort;
    if (this.closed || want === null || this.conn?.state === 'connecting') return;
    if (this.conn?.port === want) return;
    if (this.conn) this.socket.disconnect();
    const conn = { port: want, state: 'connecting' as 'connecting' | 'connected' };
    this.conn = conn;
    this.socket.connect(want, this.opts.loopback, () => {
      if (this.closed) return;
      conn.state = 'connected';
      this.syncConnection(); // WireGuard may have moved meanwhile
      for (const p of this.inbound.splice(0)) this.deliver(p);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.length = 0;
    this.inbound.length = 0;
    this.socket.close();
  }

  private onMessage(packet: Buffer, rinfo: dgram.RemoteInfo): void {
    if (rinfo.address !== this.opts.loopback) {
      this.opts.counters.proxyForeignSource++;
      return;
    }
    const port = this.opts.wgPort();
    if (port === null) {
      if (this.pending.length < MAX_PENDING_BEFORE_PORT) {
        this.pending.push({ packet, port: rinfo.port });
      } else this.opts.counters.proxyDeliverFailed++;
      return;
    }
    if (rinfo.port !== port) {
      this.opts.counters.proxyForeignSource++;
      return;
    }
    this.opts.onOutbound(packet);
  }
}
