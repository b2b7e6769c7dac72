/**
 * The typed LocalAPI client, for the `trellis` CLI and the desktop app's main process. It says
 * hello first (once per client) and stops if the daemon is not compatible; every answer and
 * every watch event is parsed with the shared schemas, so callers only ever see typed values or
 * a typed error.
 */
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import type * as z from 'zod';
import { err, ok, type Result } from '../../shared/result.js';
import {
  LOCALAPI_PATH_PREFIX,
  LOCALAPI_VERSION,
  LocalApiErrorBody,
  localApiEndpoints,
  localApiWatch,
  MAX_LOCALAPI_MESSAGE_BYTES,
  WatchEvent,
  type HelloResponse,
  type LocalApiEndpointName,
  type LocalApiErrorCode,
  type LocalApiRequest,
  type LocalApiResponse,
  type PingRequest,
  defaultLocalApiEndpoint,
} from '../../shared/schema/localapi.js';
import { parseJsonWith } from '../../shared/schema/parse.js';
import { TRELLIS_VERSION } from '../../shared/version.js';
import { LOCALAPI_VERSION_HEADER } from './protocol.js';

/**
 * Besides the daemon's own codes:
 * - daemon_not_running: no socket, or nobody listening on it;
 * - permission_denied: the socket exists but this user may not connect (not root or in the group);
 * - invalid_response: the daemon answered with something that is not the declared schema;
 * - transport: the connection broke mid-request.
 */
export type LocalApiClientErrorCode =
  LocalApiErrorCode | 'daemon_not_running' | 'permission_denied' | 'invalid_response' | 'transport';

export interface LocalApiClientError {
  readonly code: LocalApiClientErrorCode;
  readonly message: string;
}

/** Ordinary calls; login and up may wait for control's registration (up to its 15 s timeout). */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;
/** Slack on top of what a ping request itself may take (count × per-attempt timeout). */
const PING_SLACK_MS = 5_000;

export interface LocalApiClientOptions {
  /** A Unix socket path or Windows named pipe; defaults to defaultSocketPath(). */
  readonly socketPath?: string;
  /** For the daemon's log: "cli", "desktop". */
  readonly clientName?: string;
  readonly timeoutMs?: number;
}

/** TRELLIS_SOCKET when set, else this platform's default endpoint. */
export function defaultSocketPath(
  env: NodeJS.ProcessEnv = process.env,
  platform: string = process.platform,
): string {
  return env.TRELLIS_SOCKET || defaultLocalApiEndpoint(platform);
}

export interface WatchHandlers {
  event(ev: WatchEvent): void;
  /** The stream ended; `error` says why when it was not closed by the client. */
  closed(error: LocalApiClientError | null): void;
}

export interface WatchHandle {
  close(): void;
}

export class LocalApiClient {
  readonly socketPath: string;
  private helloDone: Promise<Result<HelloResponse, LocalApiClientError>> | null = null;

  constructor(private readonly opts: LocalApiClientOptions = {}) {
    this.socketPath = opts.socketPath ?? defaultSocketPath();
  }

  /** The handshake; later calls reuse its answer. Fails with unsupported_version if incompatible. */
  hello(): Promise<Result<HelloResponse, LocalApiClientError>> {
    this.helloDone ??= this.request('hello', {
      clientVersion: TRELLIS_VERSION,
      protocolVersion: LOCALAPI_VERSION,
      clientName: this.opts.clientName ?? 'client',
    }).then((r) => {
      if (r.ok && !r.value.compatible) {
        return err({
          code: 'unsupported_version' as const,
          message: `trellisd ${r.value.daemonVersion} speaks LocalAPI ${r.value.minProtocolVersion}..${r.value.protocolVersion}; this client speaks ${LOCALAPI_VERSION}`,
        });
      }
      if (!r.ok) this.helloDone = null; // e.g. daemon not running yet: try again next time
      return r;
    });
    return this.helloDone;
  }

  status() {
    return this.call('status', undefined);
  }
  getPrefs() {
    return this.call('getPrefs', undefined);
  }
  patchPrefs(patch: LocalApiRequest<'patchPrefs'>) {
    return this.call('patchPrefs', patch);
  }
  up(req: LocalApiRequest<'up'> = {}) {
    return this.call('up', req);
  }
  down() {
    return this.call('down', {});
  }
  login(req: LocalApiRequest<'login'>) {
    return this.call('login', req);
  }
  logout() {
    return this.call('logout', {});
  }
  netcheck() {
    return this.call('netcheck', undefined);
  }
  ping(req: z.input<typeof PingRequest>) {
    const timeout = (req.count ?? 4) * (req.timeoutMs ?? 2000) + PING_SLACK_MS;
    return this.call(
      'ping',
      req,
      Math.max(timeout, this.opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS),
    );
  }
  suggestExitNode() {
    return this.call('suggestExitNode', undefined);
  }

  /** Any endpoint by name, after the hello. */
  async call<N extends LocalApiEndpointName>(
    name: N,
    body: LocalApiRequest<N>,
    timeoutMs?: number,
  ): Promise<Result<LocalApiResponse<N>, LocalApiClientError>> {
    const h = await this.hello();
    if (!h.ok) return h;
    return this.request(name, body, timeoutMs);
  }

  /**
   * Opens the watch stream (after the hello). Events are parsed and their sequence numbers
   * checked; anything malformed ends the stream with invalid_response.
   */
  async watch(
    handlers: WatchHandlers,
    opts: { initial?: boolean; logs?: boolean } = {},
  ): Promise<Result<WatchHandle, LocalApiClientError>> {
    const h = await this.hello();
    if (!h.ok) return h;
    const q = new URLSearchParams({
      initial: opts.initial === false ? '0' : '1',
      logs: opts.logs ? '1' : '0',
    });
    // The host is a placeholder: the connection is the socket or pipe, opened as http.request's
    // socketPath opens it (net.connect(path) on both; a ws+unix URL cannot hold a pipe's name).
    const url = `ws://localapi${LOCALAPI_PATH_PREFIX}${localApiWatch.path}?${q}`;
    return new Promise((resolve) => {
      const ws = new WebSocket(url, {
        createConnection: () => net.connect(this.socketPath),
        headers: { [LOCALAPI_VERSION_HEADER]: String(LOCALAPI_VERSION) },
        maxPayload: MAX_LOCALAPI_MESSAGE_BYTES,
      });
      let opened = false;
      let ended = false;
      let lastSeq = 0;
      const end = (e: LocalApiClientError | null) => {
        if (ended) return;
        ended = true;
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        if (opened) handlers.closed(e);
        else resolve(err(e ?? { code: 'transport', message: 'watch stream closed' }));
      };
      ws.on('unexpected-response', (req, res) => {
        collect(res, MAX_LOCALAPI_MESSAGE_BYTES).then(
          (text) => {
            req.destroy();
            end(errorFromResponse(res.statusCode ?? 0, text));
          },
          () => end({ code: 'transport', message: 'watch stream refused' }),
        );
      });
      ws.on('open', () => {
        opened = true;
        resolve(ok({ close: () => end(null) }));
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return end({ code: 'invalid_response', message: 'binary watch event' });
        const ev = parseJsonWith(WatchEvent, data.toString(), MAX_LOCALAPI_MESSAGE_BYTES);
        if (!ev.ok) {
          if (ev.error.code === 'unknown_type') return; // a newer daemon's event type
          return end({ code: 'invalid_response', message: `bad watch event: ${ev.error.message}` });
        }
        if (ev.value.seq !== lastSeq + 1) {
          return end({
            code: 'invalid_response',
            message: `watch event out of sequence: ${ev.value.seq} after ${lastSeq}`,
          });
        }
        lastSeq = ev.value.seq;
        handlers.event(ev.value);
      });
      ws.on('close', (code, reason) =>
        end(
          code === 1000
            ? null
            : {
                code: 'transport',
                message: `watch stream closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`,
              },
        ),
      );
      ws.on('error', (e) => end(transportError(e)));
    });
  }

  private request<N extends LocalApiEndpointName>(
    name: N,
    body: unknown,
    timeoutMs = this.opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
  ): Promise<Result<LocalApiResponse<N>, LocalApiClientError>> {
    const ep = localApiEndpoints[name];
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          path: `${LOCALAPI_PATH_PREFIX}${ep.path}`,
          method: ep.method,
          // No keep-alive: an idle pooled socket would hold a finished CLI open for seconds.
          agent: false,
          headers: {
            accept: 'application/json',
            [LOCALAPI_VERSION_HEADER]: String(LOCALAPI_VERSION),
            ...(payload !== undefined
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          collect(res, MAX_LOCALAPI_MESSAGE_BYTES).then(
            (text) => {
              if (text === null)
                return resolve(err({ code: 'invalid_response', message: 'response too large' }));
              const status = res.statusCode ?? 0;
              if (status !== 200) return resolve(err(errorFromResponse(status, text)));
              const parsed = parseJsonWith(ep.response, text, MAX_LOCALAPI_MESSAGE_BYTES);
              if (!parsed.ok)
                return resolve(
                  err({ code: 'invalid_response', message: `${ep.path}: ${parsed.error.message}` }),
                );
              resolve(ok(parsed.value as LocalApiResponse<N>));
            },
            (e: Error) => resolve(err(transportError(e))),
          );
        },
      );
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      );
      req.on('error', (e) => resolve(err(transportError(e))));
      req.end(payload);
    });
  }
}

function errorFromResponse(status: number, text: string | null): LocalApiClientError {
  const body =
    text === null ? null : parseJsonWith(LocalApiErrorBody, text, MAX_LOCALAPI_MESSAGE_BYTES);
  if (body?.ok) return body.value.error;
  return {
    code: 'invalid_response',
    message: `daemon answered HTTP ${status} without a typed error`,
  };
}

function transportError(e: Error): LocalApiClientError {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT' || code === 'ECONNREFUSED') {
    return {
      code: 'daemon_not_running',
      message: 'trellisd is not running (no one is listening on its socket)',
    };
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return {
      code: 'permission_denied',
      message: 'permission denied on the trellisd socket: run as root or join the "trellis" group',
    };
  }
  if (code === 'ETIMEDOUT') return { code: 'timeout', message: 'trellisd did not answer in time' };
  return { code: 'transport', message: `LocalAPI connection failed: ${e.message}` };
}

/** Reads a response body; null when it exceeds `max` bytes. */
function collect(res: http.IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    res.on('data', (c: Buffer) => {
      total += c.length;
      if (total > max) {
        res.destroy();
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
