/**
 * The helper's calls to control's HTTP API (login sessions, registration, device logout), through
 * the `controlEndpoints` table: bodies are built from the declared schemas and every answer is
 * parsed with them. Calls return a Result; nothing control sends can throw here.
 */
import { err, ok, type Result } from '../../shared/result.js';
import {
  ControlErrorBody,
  controlEndpoints,
  Empty,
  MAX_CONTROL_MESSAGE_BYTES,
  type ControlEndpointName,
  type ControlResponse,
} from '../../shared/schema/control.js';
import {
  LOGIN_POLL_HOLD_SECONDS,
  type LoginStartRequest,
  type RegisterRequest,
} from '../../shared/schema/control/auth.js';
import { parseJsonWith } from '../../shared/schema/parse.js';
import type { ControlClientError } from './errors.js';

/** Ordinary calls: control answers in milliseconds; 15 s covers a slow database or a cold TLS. */
export const CONTROL_REQUEST_TIMEOUT_MS = 15_000;
/** A login poll is held up to LOGIN_POLL_HOLD_SECONDS by control; allow 10 s more for the network. */
export const LOGIN_POLL_TIMEOUT_MS = (LOGIN_POLL_HOLD_SECONDS + 10) * 1000;

export interface ControlHttpOptions {
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

type Call = {
  readonly bearer?: string;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
};

export class ControlHttpClient {
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(
    readonly baseUrl: string,
    opts: ControlHttpOptions = {},
  ) {
    this.fetchImpl = opts.fetch ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? CONTROL_REQUEST_TIMEOUT_MS;
  }

  info(signal?: AbortSignal) {
    return this.call('info', undefined, { signal });
  }

  loginStart(body: LoginStartRequest, signal?: AbortSignal) {
    return this.call('login', body, { signal });
  }

  loginPoll(pollToken: string, signal?: AbortSignal) {
    return this.call('loginPoll', { pollToken }, { signal, timeoutMs: LOGIN_POLL_TIMEOUT_MS });
  }

  register(body: RegisterRequest, signal?: AbortSignal) {
    return this.call('register', body, { signal });
  }

  /** The device logs itself out: control expires its key and revokes the credential. */
  deviceLogout(nodeCredential: string, signal?: AbortSignal) {
    return this.call('deviceLogout', undefined, { bearer: nodeCredential, signal });
  }

  private async call<N extends ControlEndpointName>(
    name: N,
    body: unknown,
    opts: Call,
  ): Promise<Result<ControlResponse<N>, ControlClientError>> {
    const ep = controlEndpoints[name];
    const url = `${this.baseUrl.replace(/\/+$/, '')}${ep.path}`;
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: ep.method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal,
        redirect: 'error',
      });
    } catch (e) {
      if (timeout.aborted)
        return err({ code: 'timeout', message: `${ep.path}: no answer from control in time` });
      return err({ code: 'network', message: `${ep.path}: cannot reach control: ${causeOf(e)}` });
    }
    const text = await readBounded(res, MAX_CONTROL_MESSAGE_BYTES);
    if (!text.ok)
      return err({
        code: 'invalid_response',
        message: `${ep.path}: ${text.error}`,
        status: res.status,
      });
    if (!res.ok) return err(errorFrom(ep.path, res.status, text.value));
    // 204 (device logout) carries no body: that is the Empty response.
    const schema = res.status === 204 ? Empty : ep.response;
    const parsed = parseJsonWith(
      schema,
      res.status === 204 ? '{}' : text.value,
      MAX_CONTROL_MESSAGE_BYTES,
    );
    if (!parsed.ok) {
      return err({
        code: 'invalid_response',
        message: `${ep.path}: ${parsed.error.message}`,
        status: res.status,
      });
    }
    return ok(parsed.value as ControlResponse<N>);
  }
}

function errorFrom(path: string, status: number, text: string): ControlClientError {
  const body = parseJsonWith(ControlErrorBody, text, MAX_CONTROL_MESSAGE_BYTES);
  if (body.ok) {
    const e = body.value.error;
    return {
      code: e.code,
      message: e.message,
      status,
      ...(e.retryAfterSeconds !== undefined ? { retryAfterSeconds: e.retryAfterSeconds } : {}),
    };
  }
  return {
    code: status >= 500 ? 'unavailable' : 'invalid_response',
    message: `${path}: HTTP ${status}`,
    status,
  };
}

/** Reads a response body, refusing more than `max` bytes without buffering them. */
async function readBounded(res: Response, max: number): Promise<Result<string, string>> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    return err(`response of ${declared} bytes exceeds ${max}`);
  }
  if (!res.body) return ok('');
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel().catch(() => undefined);
        return err(`response exceeds ${max} bytes`);
      }
      chunks.push(value);
    }
  } catch (e) {
    return err(`reading the response failed: ${causeOf(e)}`);
  }
  return ok(Buffer.concat(chunks).toString('utf8'));
}

function causeOf(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    if (cause instanceof Error) return cause.message;
    return e.message;
  }
  return String(e);
}
