/**
 * The LocalAPI server: HTTP+JSON under /localapi/v1 and the WebSocket watch stream, on a Unix
 * socket (Windows: a named pipe; see socket.ts). Routes come from `localApiEndpoints`; every body is bounded and zod-parsed before a
 * handler sees it, every failure is a typed LocalApiErrorBody, and every answer is checked
 * against its schema before it leaves (a daemon bug becomes a 500, not a malformed reply).
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type * as z from 'zod';
import { ok, type Result } from '../../shared/result.js';
import type { HelloRequest } from '../../shared/schema/localapi.js';
import {
  LOCALAPI_MIN_VERSION,
  LOCALAPI_PATH_PREFIX,
  LOCALAPI_VERSION,
  localApiEndpoints,
  localApiWatch,
  MAX_LOCALAPI_REQUEST_BYTES,
  type HelloResponse,
  type LocalApiEndpointName,
} from '../../shared/schema/localapi.js';
import { parseJsonWith, parseWith } from '../../shared/schema/parse.js';
import { apiError, errorBody, statusOf, type LocalApiError } from './errors.js';
import type { HandledEndpoint, LocalApiHandlers } from './handlers.js';
import { LOCALAPI_VERSION_HEADER } from './protocol.js';
import {
  listenOnSocket,
  nodeSocketOs,
  removeSocketFile,
  type SocketAccess,
  type SocketOs,
} from './socket.js';
import type { WatchEventBody, WatchHub } from './watch-hub.js';

/**
 * A watcher this far behind (four maximal status events) is not reading; it is closed rather
 * than letting the daemon buffer without bound. It can reconnect and start from a fresh status.
 */
export const MAX_WATCH_BUFFERED_BYTES = 64 * 1024 * 1024;
/** Watch clients send nothing; anything bigger than a close frame's worth is refused. */
const MAX_WATCH_CLIENT_MESSAGE_BYTES = 1024;
/** WebSocket close code for a watcher that fell too far behind ("try again later"). */
const CLOSE_TOO_SLOW = 1013;

export interface LocalApiServerLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LocalApiServerOptions {
  readonly handlers: LocalApiHandlers;
  readonly watch: WatchHub;
  readonly daemonVersion: string;
  readonly log: LocalApiServerLog;
  /** This machine, unless a test stands in for another platform. */
  readonly os?: SocketOs;
}

type Route = { readonly name: LocalApiEndpointName; readonly method: string };

function buildRoutes(): Map<string, Route[]> {
  const routes = new Map<string, Route[]>();
  for (const [name, ep] of Object.entries(localApiEndpoints) as [
    LocalApiEndpointName,
    (typeof localApiEndpoints)[LocalApiEndpointName],
  ][]) {
    const list = routes.get(ep.path) ?? [];
    list.push({ name, method: ep.method });
    routes.set(ep.path, list);
  }
  return routes;
}

export const helloResponse = (daemonVersion: string, clientProtocol: number): HelloResponse => ({
  daemonVersion,
  protocolVersion: LOCALAPI_VERSION,
  minProtocolVersion: LOCALAPI_MIN_VERSION,
  compatible: clientProtocol >= LOCALAPI_MIN_VERSION && clientProtocol <= LOCALAPI_VERSION,
});

export class LocalApiServer {
  readonly server: http.Server;
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_WATCH_CLIENT_MESSAGE_BYTES,
  });
  private readonly routes = buildRoutes();
  private readonly watchers = new Set<WebSocket>();
  private socketPath: string | null = null;

  constructor(private readonly opts: LocalApiServerOptions) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        opts.log.error({ err: e }, 'LocalAPI handler failed');
        if (!res.headersSent) this.sendError(res, { code: 'internal', message: 'internal error' });
        else res.destroy();
      });
    });
    // Requests are tiny and local; a client that trickles headers is broken, not slow.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 0; // ping and login legitimately take long
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  async listen(socketPath: string, access: SocketAccess): Promise<void> {
    await listenOnSocket(this.server, socketPath, access, this.opts.os ?? nodeSocketOs);
    this.socketPath = socketPath;
  }

  async close(): Promise<void> {
    for (const ws of this.watchers) ws.close(1001, 'daemon stopping');
    this.wss.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if (this.socketPath) await removeSocketFile(this.socketPath, this.opts.os ?? nodeSocketOs);
  }

  // -- HTTP ------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localapi');
    const routes = url.pathname.startsWith(LOCALAPI_PATH_PREFIX)
      ? this.routes.get(url.pathname.slice(LOCALAPI_PATH_PREFIX.length))
      : undefined;
    if (!routes)
      return this.sendError(res, {
        code: 'not_found',
        message: `no such endpoint: ${url.pathname.slice(0, 200)}`,
      });
    const route = routes.find((r) => r.method === req.method);
    if (!route) {
      res.setHeader('allow', routes.map((r) => r.method).join(', '));
      return this.sendError(res, {
        code: 'bad_request',
        message: `${url.pathname} takes ${routes.map((r) => r.method).join(' or ')}`,
      });
    }
    const version = this.versionError(req);
    if (version) return this.sendError(res, version);

    const text = await readBody(req, MAX_LOCALAPI_REQUEST_BYTES);
    if (!text.ok) {
      res.setHeader('connection', 'close');
      return this.sendError(res, text.error);
    }
    if (text.value.length > 0 && !isJson(req.headers['content-type'])) {
      return this.sendError(res, {
        code: 'bad_request',
        message: 'content-type must be application/json',
      });
    }
    const ep = localApiEndpoints[route.name];
    let body: unknown = undefined;
    if ('body' in ep) {
      const parsed = parseJsonWith(
        ep.body as z.ZodType,
        text.value.length ? text.value : '{}',
        MAX_LOCALAPI_REQUEST_BYTES,
      );
      if (!parsed.ok) {
        const what =
          parsed.error.code === 'invalid_json'
            ? parsed.error.message
            : `invalid request: ${parsed.error.message}`;
        return this.sendError(res, { code: 'bad_request', message: what });
      }
      body = parsed.value;
    }

    const result = await this.dispatch(route.name, body);
    if (!result.ok) return this.sendError(res, result.error);
    const checked = parseWith(ep.response, result.value);
    if (!checked.ok) {
      this.opts.log.error(
        { endpoint: route.name, error: checked.error.message },
        'daemon produced an invalid LocalAPI response',
      );
      return this.sendError(res, {
        code: 'internal',
        message: 'the daemon produced an invalid response',
      });
    }
    this.sendJson(res, 200, result.value);
  }

  private async dispatch(
    name: LocalApiEndpointName,
    body: unknown,
  ): Promise<Result<unknown, LocalApiError>> {
    if (name === 'hello') {
      const hello = body as HelloRequest;
      this.opts.log.debug(
        { client: hello.clientName, version: hello.clientVersion, protocol: hello.protocolVersion },
        'LocalAPI hello',
      );
      return ok(helloResponse(this.opts.daemonVersion, hello.protocolVersion));
    }
    const handler = this.opts.handlers[name as HandledEndpoint] as (
      b: unknown,
    ) => Promise<Result<unknown, LocalApiError>>;
    return handler(body);
  }

  /** A client that declares a protocol version this daemon does not serve is refused. */
  private versionError(req: http.IncomingMessage): LocalApiError | null {
    const raw = req.headers[LOCALAPI_VERSION_HEADER];
    if (raw === undefined) return null;
    const v = Number(raw);
    if (Number.isInteger(v) && v >= LOCALAPI_MIN_VERSION && v <= LOCALAPI_VERSION) return null;
    return {
      code: 'unsupported_version',
      message: `this daemon speaks LocalAPI ${LOCALAPI_MIN_VERSION}..${LOCALAPI_VERSION}, not ${String(raw).slice(0, 16)}`,
    };
  }

  private sendError(res: http.ServerResponse, e: LocalApiError): void {
    this.sendJson(res, statusOf(e.code), errorBody(e));
  }

  private sendJson(res: http.ServerResponse, status: number, value: unknown): void {
    const text = JSON.stringify(value);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    });
    res.end(text);
  }

  // -- watch stream ----------------------------------------------------------------------------

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localapi');
    if (url.pathname !== `${LOCALAPI_PATH_PREFIX}${localApiWatch.path}`) {
      return refuseUpgrade(socket, { code: 'not_found', message: 'no such stream' });
    }
    const version = this.versionError(req);
    if (version) return refuseUpgrade(socket, version);
    const query = parseWith(localApiWatch.query, Object.fromEntries(url.searchParams));
    if (!query.ok)
      return refuseUpgrade(socket, {
        code: 'bad_request',
        message: `invalid watch query: ${query.error.message}`,
      });
    this.wss.handleUpgrade(
      req,
      socket,
      head,
      (ws) => void this.serveWatch(ws, query.value.initial === '1', query.value.logs === '1'),
    );
  }

  private async serveWatch(ws: WebSocket, initial: boolean, logs: boolean): Promise<void> {
    this.watchers.add(ws);
    let seq = 0;
    const deliver = (ev: WatchEventBody) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_WATCH_BUFFERED_BYTES) {
        ws.close(CLOSE_TOO_SLOW, 'watcher too slow');
        return;
      }
      seq += 1;
      ws.send(JSON.stringify({ ...ev, seq }));
    };
    let unsubscribe: (() => void) | null = null;
    let closed = false;
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      closed = true;
      this.watchers.delete(ws);
      unsubscribe?.();
    });
    try {
      const off = await this.opts.watch.subscribe({ logs, deliver }, initial);
      if (closed) off();
      else unsubscribe = off;
    } catch (e) {
      this.opts.log.warn({ err: e }, 'starting a watch stream failed');
      ws.close(1011, 'internal error');
    }
  }
}

function refuseUpgrade(socket: Duplex, e: LocalApiError): void {
  const body = JSON.stringify(errorBody(e));
  const status = statusOf(e.code);
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function isJson(contentType: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(contentType ?? '');
}

/** Reads a request body of at most `max` bytes; refuses a larger one without buffering it. */
function readBody(req: http.IncomingMessage, max: number): Promise<Result<string, LocalApiError>> {
  const tooLarge = apiError('too_large', `request body exceeds ${max} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.resume();
    return Promise.resolve(tooLarge);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      total += c.length;
      if (total > max) {
        done = true;
        resolve(tooLarge);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(ok(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', (e) => {
      if (done) return;
      done = true;
      resolve(apiError('bad_request', `reading the request failed: ${e.message}`));
    });
  });
}
