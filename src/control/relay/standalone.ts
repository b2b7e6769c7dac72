/**
 * A relay running alone (another region, another host): a plain HTTP(S) server whose only jobs
 * are the relay WebSocket and a tiny liveness page. It needs control's public key, nothing else.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { RelayServer, type RelayServerOptions } from './server.js';

export interface StandaloneRelayOptions extends RelayServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM certificate and key; without them the relay speaks plain ws:// (loopback, tests, or
   * behind a TLS-terminating proxy). */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface RunningRelay {
  readonly relay: RelayServer;
  readonly port: number;
  /** ws:// or wss:// URL of the relay endpoint. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startRelayServer(opts: StandaloneRelayOptions): Promise<RunningRelay> {
  const relay = new RelayServer(opts);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // `/` answers so probes (and netcheck's HTTPS latency fallback) can reach the relay.
    if (req.method === 'GET' && (req.url === '/' || req.url === '/healthz')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`trellis relay ${opts.regionId}\n`);
      return;
    }
    res.writeHead(req.url?.startsWith(relay.path) ? 426 : 404).end();
  };
  const server = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, onRequest)
    : createHttpServer(onRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!relay.handleUpgrade(req, socket, head)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    }
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    relay,
    port,
    url: `${opts.tls ? 'wss' : 'ws'}://${host}:${port}${relay.path}`,
    async close() {
      await relay.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
