/**
 * A TCP echo server for lab reachability checks (a stand-in for "a relay or control reachable
 * over TCP"): `node --import tsx e2e/lab/tcp-echo.ts --host ADDR --port N`. Prints a ReadyLine
 * once listening; stops on SIGTERM.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import type { ReadyLine } from './script-output.js';
import { closeOnSignal, emit, parsePort, usage } from './script-main.js';

const SYNOPSIS = 'tcp-echo.ts --host ADDR --port N';
/** A probe sends a few bytes; anyone sending more than this is not a probe. */
const MAX_ECHO_BYTES = 64 * 1024;

const { values } = parseArgs({
  options: { host: { type: 'string' }, port: { type: 'string' } },
  strict: true,
});
const host = values.host ?? usage('tcp-echo', '--host is required', SYNOPSIS);
if (net.isIP(host) === 0) usage('tcp-echo', `--host must be an IP literal: ${host}`, SYNOPSIS);
const port = parsePort(values.port) ?? usage('tcp-echo', '--port N is required', SYNOPSIS);

const sockets = new Set<net.Socket>();
const server = net.createServer((socket) => {
  sockets.add(socket);
  let echoed = 0;
  socket.on('data', (chunk) => {
    echoed += chunk.length;
    if (echoed > MAX_ECHO_BYTES) socket.destroy();
    else socket.write(chunk);
  });
  socket.on('error', () => undefined);
  socket.on('close', () => sockets.delete(socket));
});
await new Promise<void>((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, host, () => {
    server.off('error', reject);
    resolve();
  });
});
closeOnSignal(
  () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
);
const bound = server.address() as net.AddressInfo;
const ready: ReadyLine = {
  ready: true,
  service: 'tcp-echo',
  listening: [{ address: bound.address, port: bound.port }],
};
emit(ready);
