/**
 * Relay latency over HTTP(S), for networks that block UDP (Tailscale's netcheck falls back to
 * HTTPS latency to its DERP servers the same way): relays are reached over TCP then, so this is
 * the latency that matters for choosing the home relay.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type Result, err, ok } from '../../shared/result.js';

/** Control and standalone relays both answer it; any HTTP answer (even 404) gives a latency. */
export const HTTP_PROBE_PATH = '/healthz';

export interface HttpLatencyError {
  readonly code: 'bad-url' | 'failed' | 'aborted';
  readonly message: string;
}

/** The http(s) URL to probe for a relay's ws(s) URL. */
export function httpProbeUrl(relayUrl: string): URL | null {
  let url: URL;
  try {
    url = new URL(relayUrl);
  } catch {
    return null;
  }
  const protocol = { 'ws:': 'http:', 'wss:': 'https:', 'http:': 'http:', 'https:': 'https:' }[
    url.protocol
  ];
  if (protocol === undefined) return null;
  return new URL(`${protocol}//${url.host}${HTTP_PROBE_PATH}`);
}

/**
 * Time from the connection being ready (TCP, and TLS for https) to the response headers of a
 * GET on a fresh connection: one round trip plus the server's (tiny) processing time. DNS, TCP
 * and TLS setup are left out: they are not what a relayed packet pays.
 */
export function httpLatency(
  relayUrl: string,
  signal: AbortSignal,
  now: () => number = () => performance.now(),
): Promise<Result<number, HttpLatencyError>> {
  const url = httpProbeUrl(relayUrl);
  if (url === null) {
    return Promise.resolve(err({ code: 'bad-url', message: `not a relay URL: ${relayUrl}` }));
  }
  if (signal.aborted) return Promise.resolve(err({ code: 'aborted', message: 'aborted' }));
  const secure = url.protocol === 'https:';
  return new Promise((resolve) => {
    let readyAt: number | null = null;
    const finish = (r: Result<number, HttpLatencyError>) => {
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(r);
    };
    const onAbort = () => finish(err({ code: 'aborted', message: 'aborted' }));
    const req = (secure ? https : http).request(url, {
      method: 'GET',
      agent: false,
      headers: { connection: 'close' },
    });
    req.on('socket', (socket: Socket) => {
      socket.once(secure ? 'secureConnect' : 'connect', () => (readyAt = now()));
    });
    req.on('response', (res) => {
      const at = now();
      res.resume();
      if (readyAt === null) {
        finish(err({ code: 'failed', message: 'answered before the connection was ready' }));
        return;
      }
      finish(ok(Math.max(0, at - readyAt)));
    });
    req.on('error', (e) => finish(err({ code: 'failed', message: e.message })));
    signal.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}
