/**
 * A StunTransport on sockets of its own, one per family: what `trellis netcheck` uses while
 * magicsock is not running (reflexive addresses are then those of these sockets, which is what a
 * diagnostic needs), and what the netcheck tests use in place of magicsock.
 */
import type dgram from 'node:dgram';
import { isIP } from 'node:net';
import { isStun } from '../../shared/stun/index.js';
import { openSocket } from '../stun/index.js';
import type { RelayMap } from '../../shared/schema/control/netmap.js';
import type { NetcheckReport } from '../../shared/schema/netcheck.js';
import { Netcheck, type NetcheckOptions, hostFamilies } from './netcheck.js';
import type { Families, StunSink, StunTransport } from './types.js';

export interface DgramStunTransportOptions {
  /** Local addresses to bind; null skips a family. Defaults: the wildcard of each family. */
  readonly v4?: string | null;
  readonly v6?: string | null;
}

export class DgramStunTransport implements StunTransport {
  /** Receives every STUN datagram the sockets get; set it before sending. */
  sink: StunSink | null = null;

  private constructor(
    private readonly v4: dgram.Socket | null,
    private readonly v6: dgram.Socket | null,
  ) {
    for (const socket of [v4, v6]) {
      socket?.on('message', (packet, rinfo) => {
        if (isStun(packet)) this.sink?.handleStun(packet, rinfo);
      });
    }
  }

  /** Binds what it can; a family the host lacks (no IPv6 in a namespace) is simply absent. */
  static async open(options: DgramStunTransportOptions = {}): Promise<DgramStunTransport> {
    const [v4, v6] = await Promise.all([
      options.v4 === null ? null : openSocket({ host: options.v4 ?? '0.0.0.0', port: 0 }),
      options.v6 === null ? null : openSocket({ host: options.v6 ?? '::', port: 0 }),
    ]);
    const socket = (r: typeof v4) => (r?.ok ? r.value : null);
    return new DgramStunTransport(socket(v4), socket(v6));
  }

  /** The families that have a socket. */
  get families(): Families {
    return { ipv4: this.v4 !== null, ipv6: this.v6 !== null };
  }

  /** The local port of each family's socket, or null without one. */
  port(family: 4 | 6): number | null {
    const socket = family === 4 ? this.v4 : this.v6;
    return socket ? socket.address().port : null;
  }

  sendStun(packet: Uint8Array, address: string, port: number): void {
    const family = isIP(address);
    const socket = family === 4 ? this.v4 : family === 6 ? this.v6 : null;
    if (socket === null) throw new Error(`no IPv${family || '?'} socket for ${address}`);
    socket.send(packet, port, address);
  }

  async close(): Promise<void> {
    this.sink = null;
    await Promise.all(
      [this.v4, this.v6].map((s) => s && new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  }
}

/**
 * One netcheck on sockets of its own (Tailscale's `tailscale netcheck` does the same while its
 * daemon is down): for `trellis netcheck` when magicsock is not running. Families without a
 * socket here are not probed.
 */
export async function netcheckOnOwnSockets(
  relayMap: RelayMap,
  options: Omit<NetcheckOptions, 'transport'> = {},
): Promise<NetcheckReport> {
  const transport = await DgramStunTransport.open();
  const netcheck = new Netcheck({
    ...options,
    transport,
    families: () => {
      const host = (options.families ?? hostFamilies)();
      const own = transport.families;
      return { ipv4: host.ipv4 && own.ipv4, ipv6: host.ipv6 && own.ipv6 };
    },
  });
  transport.sink = netcheck;
  try {
    return await netcheck.run(relayMap);
  } finally {
    netcheck.close();
    await transport.close();
  }
}
