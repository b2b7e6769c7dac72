/**
 * The admin operations over a running server's admin API (`--server URL`, an API key as bearer).
 * Responses are untrusted bytes: each is parsed with its schema; a refusal becomes the same
 * typed ApiError the in-process operations throw, so commands handle both modes alike.
 */
import type * as z from 'zod';
import {
  AdminDevice,
  AdminUser,
  ApiKeyList,
  AuditLog,
  CreateApiKeyResponse,
  CreatePreauthKeyResponse,
  DeviceList,
  NetworkSettingsView,
  PolicyRejected,
  PreauthKeyList,
  RevokedSessions,
  SessionList,
  UserList,
} from '../../shared/schema/control/admin.js';
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

export function httpAdmin(server: string, apiKey: string): AdminApi {
  const send = adminSender(server, apiKey);
  const enc = encodeURIComponent;
  return {
    listUsers: (q) => send('GET', '/v1/admin/users', UserList, { query: q }),
    getUser: (id) => send('GET', `/v1/admin/users/${enc(id)}`, AdminUser),
    createUser: (r) => send('POST', '/v1/admin/users', AdminUser, { body: r }),
    updateUser: (id, r) => send('PATCH', `/v1/admin/users/${enc(id)}`, AdminUser, { body: r }),
    setPassword: (id, r) =>
      send('PUT', `/v1/admin/users/${enc(id)}/password`, AdminUser, { body: r }),
    deleteUser: (id) => send('DELETE', `/v1/admin/users/${enc(id)}`, null),

    listDevices: (q) => send('GET', '/v1/admin/devices', DeviceList, { query: q }),
    getDevice: (id) => send('GET', `/v1/admin/devices/${enc(id)}`, AdminDevice),
    updateDevice: (id, r) =>
      send('PATCH', `/v1/admin/devices/${enc(id)}`, AdminDevice, { body: r }),
    expireDevice: (id) => send('POST', `/v1/admin/devices/${enc(id)}/expire`, AdminDevice),
    deleteDevice: (id) => send('DELETE', `/v1/admin/devices/${enc(id)}`, null),

    listPreauthKeys: (q) => send('GET', '/v1/admin/preauth-keys', PreauthKeyList, { query: q }),
    createPreauthKey: (r) =>
      send('POST', '/v1/admin/preauth-keys', CreatePreauthKeyResponse, { body: r }),
    revokePreauthKey: (id) => send('DELETE', `/v1/admin/preauth-keys/${enc(id)}`, null),

    listSessions: (q) => send('GET', '/v1/admin/sessions', SessionList, { query: q }),
    revokeSession: (id) => send('DELETE', `/v1/admin/sessions/${enc(id)}`, null),
    revokeUserSessions: (id) =>
      send('DELETE', `/v1/admin/users/${enc(id)}/sessions`, RevokedSessions),

    listApiKeys: (q) => send('GET', '/v1/admin/api-keys', ApiKeyList, { query: q }),
    createApiKey: (r) => send('POST', '/v1/admin/api-keys', CreateApiKeyResponse, { body: r }),
    revokeApiKey: (id) => send('DELETE', `/v1/admin/api-keys/${enc(id)}`, null),

    getSettings: () => send('GET', '/v1/admin/settings', NetworkSettingsView),
    updateSettings: (r) => send('PATCH', '/v1/admin/settings', NetworkSettingsView, { body: r }),

    audit: (q) => send('GET', '/v1/admin/audit', AuditLog, { query: q }),
  };
}
