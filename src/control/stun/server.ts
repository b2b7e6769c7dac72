import dgram from 'node:dgram';
import net from 'node:net';
import { type Addr, addrFromRemote, isStun } from '../../shared/stun/index.js';
import { DEFAULT_RATE_LIMIT, type RateLimitConfig, SourceRateLimiter } from './rate-limiter.js';
import { respondToDatagram } from './respond.js';

/** The subset of a pino logger the server uses. */
export interface StunServerLogger {
  debug(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface StunServerOptions {
  /** An IP literal. "::" binds dual-stack (IPv4 sources are answered as IPv4). */
  readonly host: string;
  /** 0 picks a free port; see `address()`. */
  readonly port: number;
  readonly rateLimit?: Partial<RateLimitConfig>;
  readonly logger?: StunServerLogger;
  /** SOFTWARE attribute of responses. */
  readonly software?: string;
  /** Clock for the rate limiter (ms); injectable for tests. */
  readonly now?: () => number;
}

export interface StunServerCounters {
  answered: number;
  droppedMalformed: number;
  droppedRateLimited: number;
  /** Well-formed STUN that is not a Binding request (responses, indications, other methods). */
  droppedUnsupported: number;
}

export interface StunServer {
  address(): Addr;
  counters(): Readonly<StunServerCounters>;
  close(): Promise<void>;
}

export const DEFAULT_SOFTWARE = 'trellis';

const silentLogger: StunServerLogger = { debug: () => undefined, warn: () => undefined };

/** Starts a STUN Binding server on UDP; resolves once the socket is bound. */
export async function startStunServer(options: StunServerOptions): Promise<StunServer> {
  const family = net.isIP(options.host);
  if (family === 0) throw new TypeError(`STUN server host must be an IP literal: ${options.host}`);
  const logger = options.logger ?? silentLogger;
  const software = options.software ?? DEFAULT_SOFTWARE;
  const limiter = new SourceRateLimiter(
    { ...DEFAULT_RATE_LIMIT, ...options.rateLimit },
    options.now,
  );
  const counters: StunServerCounters = {
    answered: 0,
    droppedMalformed: 0,
    droppedRateLimited: 0,
    droppedUnsupported: 0,
  };
  const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: false });

  socket.on('message', (packet, rinfo) => {
    const from = addrFromRemote(rinfo.address, rinfo.port);
    // The cheap header check runs before the limiter so garbage is counted as malformed, and the
    // limiter runs before the full decode (CRC, attributes) so a flood costs as little as possible.
    if (from === undefined || !isStun(packet)) {
      counters.droppedMalformed++;
      return;
    }
    if (!limiter.allow(from.address)) {
      counters.droppedRateLimited++;
      return;
    }
    const verdict = respondToDatagram(packet, from, software);
    if (verdict.action === 'drop') {
      if (verdict.reason === 'malformed') counters.droppedMalformed++;
      else counters.droppedUnsupported++;
      return;
    }
    counters.answered++;
    logger.debug({ from }, 'stun: answered binding request');
    socket.send(verdict.response, rinfo.port, rinfo.address, (error) => {
      if (error) logger.warn({ from, error: error.message }, 'stun: send failed');
    });
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: options.host, port: options.port }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // After binding, socket errors (e.g. ICMP-triggered) are logged; they must not crash the process.
  socket.on('error', (error) => logger.warn({ error: error.message }, 'stun: socket error'));

  const bound = socket.address();
  const address: Addr = { address: bound.address, port: bound.port, family: family === 6 ? 6 : 4 };
  logger.debug({ address }, 'stun: listening');

  let closed: Promise<void> | undefined;
  return {
    address: () => address,
    counters: () => ({ ...counters }),
    close: () => (closed ??= new Promise<void>((resolve) => socket.close(() => resolve()))),
  };
}
