/**
 * A scripted stand-in for control's /v1/map on loopback, for map-client tests: records what each
 * connection sent and lets the test send whatever it likes back (full maps, deltas, garbage) or
 * hang up. Test-only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakeMapConnection {
  readonly ws: WebSocket;
  readonly authorization: string | undefined;
  /** Parsed JSON of every text message the client sent, in order. */
  readonly received: unknown[];
  send(msg: unknown): void;
  sendRaw(text: string): void;
}

/** Answers one HTTP request: the parsed JSON body in, a status and JSON body out. */
export type FakeRoute = (
  body: unknown,
  req: http.IncomingMessage,
) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>;

export class FakeMapServer {
  readonly connections: FakeMapConnection[] = [];
  /** Status to refuse upgrades with (e.g. 401); null accepts. */
  refuseWith: number | null = null;
  /** HTTP routes by "METHOD /path" (e.g. "POST /v1/register"); others get 404. */
  readonly routes = new Map<string, FakeRoute>();
  /** Every HTTP request, in order. */
  readonly requests: { route: string; body: unknown; authorization: string | undefined }[] = [];
  private readonly server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const route = `${req.method} ${req.url}`;
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
      this.requests.push({ route, body, authorization: req.headers.authorization });
      const handler = this.routes.get(route);
      if (!handler)
        return void res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"error":{"code":"not_found","message":"no route"}}');
      void Promise.resolve(handler(body, req)).then(
        (r) => {
          if (r.body === undefined) res.writeHead(r.status).end();
          else
            res
              .writeHead(r.status, { 'content-type': 'application/json' })
              .end(JSON.stringify(r.body));
        },
        () => res.writeHead(500).end(),
      );
    });
  });
  private readonly wss = new WebSocketServer({ noServer: true });
  private listeners: Array<(c: FakeMapConnection) => void> = [];

  static async start(): Promise<FakeMapServer> {
    const s = new FakeMapServer();
    s.server.on('upgrade', (req, socket, head) => {
      if (s.refuseWith !== null) {
        socket.end(
          `HTTP/1.1 ${s.refuseWith} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
        );
        return;
      }
      s.wss.handleUpgrade(req, socket, head, (ws) => {
        const conn: FakeMapConnection = {
          ws,
          authorization: req.headers.authorization,
          received: [],
          send: (m) => ws.send(JSON.stringify(m)),
          sendRaw: (t) => ws.send(t),
        };
        ws.on('message', (d) => {
          try {
            conn.received.push(JSON.parse(d.toString()));
          } catch {
            conn.received.push(d.toString());
          }
        });
        ws.on('error', () => undefined);
        s.connections.push(conn);
        for (const l of s.listeners.splice(0)) l(conn);
      });
    });
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves with connection number `n` (0-based) once it exists. */
  connection(n: number, timeoutMs = 5000): Promise<FakeMapConnection> {
    const have = this.connections[n];
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no map connection #${n}`)), timeoutMs);
      const check = () => {
        const c = this.connections[n];
        if (c) {
          clearTimeout(t);
          resolve(c);
        } else this.listeners.push(check);
      };
      this.listeners.push(check);
    });
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
