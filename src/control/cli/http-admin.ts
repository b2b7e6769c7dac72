/**
 * The admin operations over a running server's admin API (`--server URL`, an API key as bearer).
 * Responses are untrusted bytes: each is parsed with its schema; a refusal becomes the same
 * typed ApiError the in-process operations throw, so commands handle both modes alike.
 */
import type * as z from 'zod';
import {
  controlEndpoints,
  type ControlEndpoint,
  type ControlEndpointName,
  type ControlResponse,
} from '../../shared/schema/control.js';
import { PolicyRejected } from '../../shared/schema/control/admin.js';
import { ControlErrorBody } from '../../shared/schema/control/errors.js';
import { ApiError } from '../http/errors.js';
import type { AdminApi } from '../admin/service.js';
import { PolicyRejectedError } from '../admin/policy.js';
import { CliError } from './command.js';

/** Requests that take longer have hit a dead server or network; say so instead of hanging. */
const REQUEST_TIMEOUT_MS = 30_000;
/** The largest admin response we read (a full page of devices is far smaller). */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

type Query = Record<string, string | number | undefined>;

export type AdminSend = <S extends z.ZodType | null>(
  method: string,
  path: string,
  schema: S,
  opts?: { body?: unknown; query?: Query },
) => Promise<S extends z.ZodType ? z.output<S> : void>;

/** One admin API request: bearer auth, bounded response, schema-parsed body, typed errors. */
export function adminSender(server: string, apiKey: string): AdminSend {
  const base = server.replace(/\/+$/, '');

  return async function send<S extends z.ZodType | null>(
    method: string,
    path: string,
    schema: S,
    opts: { body?: unknown; query?: Query } = {},
  ): Promise<S extends z.ZodType ? z.output<S> : void> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) qs.set(k, String(v));
    const url = `${base}${path}${qs.size ? `?${qs.toString()}` : ''}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      throw new CliError(`cannot reach ${base}: ${cause}`);
    }
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES) throw new CliError(`${base}: response too large`);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      throw new CliError(`${base} answered ${res.status} with something that is not JSON`);
    }
    if (!res.ok) {
      const rejected = PolicyRejected.safeParse(json);
      if (rejected.success) throw new PolicyRejectedError(rejected.data.problems);
      const body = ControlErrorBody.safeParse(json);
      if (body.success) throw new ApiError(body.data.error.code, body.data.error.message);
      throw new CliError(`${base} answered ${res.status}`);
    }
    if (schema === null) return undefined as never;
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CliError(
        `unexpected response from ${base}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
      );
    }
    return parsed.data as never;
  };
}

/** Calls one `controlEndpoints` entry: method, path and response schema come from the table. */
export type EndpointCaller = <N extends ControlEndpointName>(
  name: N,
  input?: { params?: Record<string, string | number>; query?: object; body?: unknown },
) => Promise<ControlResponse<N>>;

export function endpointCaller(server: string, apiKey: string): EndpointCaller {
  const send = adminSender(server, apiKey);
  return (name, input = {}) => {
    const ep: ControlEndpoint = controlEndpoints[name];
    const path = ep.path.replace(/:([a-z]+)/gi, (_m, k: string) => {
      const v = input.params?.[k];
      if (v === undefined) throw new Error(`${name}: missing path parameter ${k}`);
      return encodeURIComponent(String(v));
    });
    return send(ep.method, path, ep.response, {
      ...(input.body !== undefined ? { body: input.body } : {}),
      ...(input.query ? { query: input.query as Query } : {}),
    }) as never;
  };
}

export function httpAdmin(server: string, apiKey: string): AdminApi {
  const call = endpointCaller(server, apiKey);
  const done = (): undefined => undefined;
  return {
    listUsers: (q) => call('listUsers', { query: q }),
    getUser: (id) => call('getUser', { params: { id } }),
    createUser: (r) => call('createUser', { body: r }),
    updateUser: (id, r) => call('updateUser', { params: { id }, body: r }),
    setPassword: (id, r) => call('setUserPassword', { params: { id }, body: r }),
    deleteUser: (id) => call('deleteUser', { params: { id } }).then(done),

    listDevices: (q) => call('listDevices', { query: q }),
    getDevice: (id) => call('getDevice', { params: { id } }),
    updateDevice: (id, r) => call('updateDevice', { params: { id }, body: r }),
    expireDevice: (id) => call('expireDevice', { params: { id } }),
    deleteDevice: (id) => call('deleteDevice', { params: { id } }).then(done),

    listPreauthKeys: (q) => call('listPreauthKeys', { query: q }),
    createPreauthKey: (r) => call('createPreauthKey', { body: r }),
    revokePreauthKey: (id) => call('revokePreauthKey', { params: { id } }).then(done),

    listSessions: (q) => call('listSessions', { query: q }),
    revokeSession: (id) => call('revokeSession', { params: { id } }).then(done),
    revokeUserSessions: (id) => call('revokeUserSessions', { params: { id } }),

    listApiKeys: (q) => call('listApiKeys', { query: q }),
    createApiKey: (r) => call('createApiKey', { body: r }),
    revokeApiKey: (id) => call('revokeApiKey', { params: { id } }).then(done),

    getSettings: () => call('getSettings'),
    updateSettings: (r) => call('updateSettings', { body: r }),

    audit: (q) => call('auditLog', { query: q }),
  };
}
