import dgram from 'node:dgram';
import net from 'node:net';
import { addrFromRemote } from '../../shared/stun/index.js';
import { type Result, err, ok } from '../../shared/result.js';
import {
  type BindingOptions,
  StunClient,
  type StunBindingResult,
  type StunClientError,
  type StunEndpoint,
} from './client.js';

/** Sends on a dgram socket, resolving once the datagram is handed to the kernel. */
export function socketSender(
  socket: dgram.Socket,
): (packet: Uint8Array, to: StunEndpoint) => Promise<void> {
  return (packet, to) =>
    new Promise((resolve, reject) => {
      socket.send(packet, to.port, to.host, (error) => (error ? reject(error) : resolve()));
    });
}

/**
 * One Binding exchange. Given a socket, it is used as is (the caller keeps owning it; a 'message'
 * listener is attached for the duration). Given a local address, a socket is opened there
 * (port 0 for any) and closed afterwards. Failures are results; only a programming error (an
 * over-long `software`) throws.
 */
export async function stunBinding(
  via: dgram.Socket | StunEndpoint,
  server: StunEndpoint,
  options: BindingOptions & { software?: string } = {},
): Promise<Result<StunBindingResult, StunClientError>> {
  const owned = !(via instanceof dgram.Socket);
  let socket: dgram.Socket;
  if (owned) {
    const opened = await openSocket(via);
    if (!opened.ok) return opened;
    socket = opened.value;
  } else {
    socket = via;
  }
  let client: StunClient | undefined;
  const onMessage = (packet: Buffer, rinfo: dgram.RemoteInfo): void => {
    client?.handle(packet, addrFromRemote(rinfo.address, rinfo.port));
  };
  try {
    client = new StunClient({
      send: socketSender(socket),
      ...(options.software === undefined ? {} : { software: options.software }),
    });
    socket.on('message', onMessage);
    return await client.binding(server, options);
  } finally {
    socket.off('message', onMessage);
    client?.close();
    if (owned) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

/** A UDP socket bound to `local` (port 0: any), with a no-op 'error' listener; for STUN probes. */
export async function openSocket(
  local: StunEndpoint,
): Promise<Result<dgram.Socket, StunClientError>> {
  const socket = dgram.createSocket(net.isIPv6(local.host) ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: local.host, port: local.port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    socket.removeAllListeners('error');
    socket.on('error', () => undefined);
    try {
      socket.close();
    } catch {
      // Already closed by the failed bind.
    }
    const message = error instanceof Error ? error.message : String(error);
    return err({ code: 'bind-failed', message });
  }
  // Send failures surface through send callbacks; an 'error' event without a listener would throw.
  socket.on('error', () => undefined);
  return ok(socket);
}
