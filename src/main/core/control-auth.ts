/**
 * The app's own calls to control for signing in: start a login session, long-poll it, ask who a
 * session belongs to, end a session. Bodies and answers use the shared control schemas; every
 * failure is a typed value (nothing control sends can throw here).
 */
import { err, ok, type Result } from '../../shared/result.js';
import {
  ControlErrorBody,
  controlEndpoints,
  type ControlResponse,
} from '../../shared/schema/control.js';
import { LOGIN_POLL_HOLD_SECONDS } from '../../shared/schema/control/auth.js';
import { parseJsonWith } from '../../shared/schema/parse.js';

/** Sign-in answers are a few hundred bytes; 64 KiB leaves room and bounds a hostile server. */
export const MAX_AUTH_RESPONSE_BYTES = 64 * 1024;
/** Control answers these in milliseconds; 15 s covers a slow database or a cold TLS handshake. */
export const AUTH_REQUEST_TIMEOUT_MS = 15_000;
/** Control holds a poll up to LOGIN_POLL_HOLD_SECONDS; 10 s more absorbs the network. */
export const AUTH_POLL_TIMEOUT_MS = (LOGIN_POLL_HOLD_SECONDS + 10) * 1000;

export interface ControlAuthError {
  /** A control error code, or network / timeout / invalid_response. */
  readonly code: string;
  readonly message: string;
}

type Name = 'login' | 'loginPoll' | 'me' | 'logout';
type Res<N extends Name> = Promise<Result<ControlResponse<N>, ControlAuthError>>;

export interface ControlAuthApi {
  loginStart(controlUrl: string, clientName: string, hostname?: string): Res<'login'>;
  loginPoll(controlUrl: string, pollToken: string, signal?: AbortSignal): Res<'loginPoll'>;
  whoAmI(controlUrl: string, sessionToken: string): Res<'me'>;
  endSession(controlUrl: string, sessionToken: string): Res<'logout'>;
}

export function httpControlAuth(fetchImpl: typeof fetch = fetch): ControlAuthApi {
  async function call<N extends Name>(
    name: N,
    controlUrl: string,
    opts: { body?: unknown; bearer?: string; signal?: AbortSignal; timeoutMs?: number },
  ): Res<N> {
    const ep = controlEndpoints[name];
    const url = `${controlUrl.replace(/\/+$/, '')}${ep.path}`;
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? AUTH_REQUEST_TIMEOUT_MS);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
    let text: string;
    let status: number;
    try {
      const res = await fetchImpl(url, {
        method: ep.method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        signal,
        redirect: 'error',
      });
      status = res.status;
      const body = await readBounded(res, MAX_AUTH_RESPONSE_BYTES);
      if (body === null) {
        return err({ code: 'invalid_response', message: `${ep.path}: response too large` });
      }
      text = body;
    } catch (e) {
      if (timeout.aborted)
        return err({ code: 'timeout', message: `${ep.path}: no answer in time` });
      if (opts.signal?.aborted) return err({ code: 'cancelled', message: 'cancelled' });
      const why = e instanceof Error ? e.message : String(e);
      return err({ code: 'network', message: `cannot reach ${controlUrl}: ${why}`.slice(0, 500) });
    }
    if (status < 200 || status > 299) {
      const body = parseJsonWith(ControlErrorBody, text, MAX_AUTH_RESPONSE_BYTES);
      if (body.ok) return err({ code: body.value.error.code, message: body.value.error.message });
      return err({ code: 'invalid_response', message: `${ep.path}: HTTP ${status}` });
    }
    const parsed = parseJsonWith(
      ep.response,
      status === 204 ? '{}' : text,
      MAX_AUTH_RESPONSE_BYTES,
    );
    if (!parsed.ok) {
      return err({ code: 'invalid_response', message: `${ep.path}: ${parsed.error.message}` });
    }
    return ok(parsed.value as ControlResponse<N>);
  }

  return {
    loginStart: (controlUrl, clientName, hostname) =>
      call('login', controlUrl, { body: { clientName, ...(hostname ? { hostname } : {}) } }),
    loginPoll: (controlUrl, pollToken, signal) =>
      call('loginPoll', controlUrl, {
        body: { pollToken },
        timeoutMs: AUTH_POLL_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
      }),
    whoAmI: (controlUrl, sessionToken) => call('me', controlUrl, { bearer: sessionToken }),
    endSession: (controlUrl, sessionToken) => call('logout', controlUrl, { bearer: sessionToken }),
  };
}

/** The body as text, or null past `max` bytes (read no further: a hostile server cannot flood). */
async function readBounded(res: Response, max: number): Promise<string | null> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    return null;
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
