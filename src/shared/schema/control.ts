/**
 * The control API: HTTP+JSON under `/v1` and the WebSocket map stream `/v1/map`.
 * Spoken by trellis-control (server), trellisd (register, map stream) and the desktop app
 * (login, whoami). Every endpoint is declared once in `controlEndpoints`; servers route from it
 * and clients call through it. See docs/api.md for the rules of evolving it.
 */
import * as z from 'zod';
import { ProtocolVersion, SemVer } from './common.js';
import { parser } from './parse.js';
import {
  ApiKeyList,
  AuditLog,
  AuditQuery,
  AdminDevice,
  AdminUser,
  CreateApiKeyRequest,
  CreateApiKeyResponse,
  CreatePreauthKeyRequest,
  CreatePreauthKeyResponse,
  CreateUserRequest,
  DeviceList,
  DeviceRoutesList,
  IdParams,
  ListQuery,
  NetworkSettingsView,
  PolicyDocument,
  PolicyVersionList,
  PolicyVersionParams,
  PreauthKeyList,
  PutPolicyRequest,
  RevokedSessions,
  RollbackPolicyRequest,
  SessionList,
  SessionListQuery,
  SetPasswordRequest,
  UpdateDeviceRequest,
  UpdateNetworkSettingsRequest,
  UpdateUserRequest,
  UserList,
} from './control/admin.js';
import {
  LoginPollRequest,
  LoginPollResponse,
  LoginStartRequest,
  LoginStartResponse,
  RegisterRequest,
  RegisterResponse,
  WhoAmIResponse,
} from './control/auth.js';
import { ControlErrorBody } from './control/errors.js';
import { MapClientMessage, MapServerMessage } from './control/map-stream.js';
import { Netmap, NetmapPatch } from './control/netmap.js';

export * from './control/admin.js';
export * from './control/auth.js';
export * from './control/errors.js';
export * from './control/hostinfo.js';
export * from './control/map-stream.js';
export * from './control/netmap.js';
export * from './control/netmap-patch.js';
export { NetcheckReport, PortMappingSupport } from './netcheck.js';

/**
 * Version of the control protocol this build speaks. Sent in the map hello and reported by
 * `GET /v1/info`; the URL prefix `/v1` changes only with an incompatible HTTP redesign.
 */
export const CONTROL_PROTOCOL_VERSION = 1;
/** Oldest client protocol version this build's server still serves. */
export const CONTROL_MIN_PROTOCOL_VERSION = 1;

/**
 * Largest message a control peer accepts: a netmap of MAX_PEERS peers with a large packet filter
 * fits; anything bigger is refused before JSON.parse (HTTP body limit, WebSocket maxPayload).
 */
export const MAX_CONTROL_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Largest request body or client→server map message: host info with every bound reached. */
export const MAX_CONTROL_REQUEST_BYTES = 4 * 1024 * 1024;

/** `GET /v1/info`, unauthenticated: lets clients check compatibility before anything else. */
export const ServerInfo = z.object({
  serverVersion: SemVer,
  protocolVersion: ProtocolVersion,
  minProtocolVersion: ProtocolVersion,
});
export type ServerInfo = z.infer<typeof ServerInfo>;

/** Response of endpoints that return nothing but success. */
export const Empty = z.object({});
export type Empty = z.infer<typeof Empty>;

/**
 * Who may call an endpoint, carried as `Authorization: Bearer <secret>`:
 * - none: anyone;
 * - session: a user session from login;
 * - node: a device's node credential;
 * - admin: an owner or admin user session, or an API key.
 */
export type ControlAuth = 'none' | 'session' | 'node' | 'admin';

export interface ControlEndpoint {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Express-style path; `:id` segments are described by `params`. */
  readonly path: `/v1/${string}`;
  readonly auth: ControlAuth;
  /** HTTP status of success when not 200 (201 for creations, 204 without a body). */
  readonly status?: 201 | 204;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly response: z.ZodType;
}

const endpoint = <const E extends ControlEndpoint>(e: E): E => e;

export const controlEndpoints = {
  info: endpoint({ method: 'GET', path: '/v1/info', auth: 'none', response: ServerInfo }),
  login: endpoint({
    method: 'POST',
    path: '/v1/login',
    auth: 'none',
    status: 201,
    body: LoginStartRequest,
    response: LoginStartResponse,
  }),
  loginPoll: endpoint({
    method: 'POST',
    path: '/v1/login/poll',
    auth: 'none',
    body: LoginPollRequest,
    response: LoginPollResponse,
  }),
  /** Ends the calling user session. */
  logout: endpoint({ method: 'POST', path: '/v1/logout', auth: 'session', response: Empty }),
  me: endpoint({ method: 'GET', path: '/v1/me', auth: 'session', response: WhoAmIResponse }),
  /** Authenticated by `auth` inside the body (user session or pre-auth key). */
  register: endpoint({
    method: 'POST',
    path: '/v1/register',
    auth: 'none',
    body: RegisterRequest,
    response: RegisterResponse,
  }),
  /** The device logs out: its key expires now and its credential stops working. */
  deviceLogout: endpoint({
    method: 'POST',
    path: '/v1/device/logout',
    auth: 'node',
    status: 204,
    response: Empty,
  }),

  listUsers: endpoint({
    method: 'GET',
    path: '/v1/admin/users',
    auth: 'admin',
    query: ListQuery,
    response: UserList,
  }),
  createUser: endpoint({
    method: 'POST',
    path: '/v1/admin/users',
    auth: 'admin',
    status: 201,
    body: CreateUserRequest,
    response: AdminUser,
  }),
  updateUser: endpoint({
    method: 'PATCH',
    path: '/v1/admin/users/:id',
    auth: 'admin',
    params: IdParams,
    body: UpdateUserRequest,
    response: AdminUser,
  }),
  getUser: endpoint({
    method: 'GET',
    path: '/v1/admin/users/:id',
    auth: 'admin',
    params: IdParams,
    response: AdminUser,
  }),
  /** Sets a local user's password; the user's other sessions end. */
  setUserPassword: endpoint({
    method: 'PUT',
    path: '/v1/admin/users/:id/password',
    auth: 'admin',
    params: IdParams,
    body: SetPasswordRequest,
    response: AdminUser,
  }),
  deleteUser: endpoint({
    method: 'DELETE',
    path: '/v1/admin/users/:id',
    auth: 'admin',
    params: IdParams,
    response: Empty,
  }),
  /** Signs the user out everywhere. */
  revokeUserSessions: endpoint({
    method: 'DELETE',
    path: '/v1/admin/users/:id/sessions',
    auth: 'admin',
    params: IdParams,
    response: RevokedSessions,
  }),

  listDevices: endpoint({
    method: 'GET',
    path: '/v1/admin/devices',
    auth: 'admin',
    query: ListQuery,
    response: DeviceList,
  }),
  getDevice: endpoint({
    method: 'GET',
    path: '/v1/admin/devices/:id',
    auth: 'admin',
    params: IdParams,
    response: AdminDevice,
  }),
  updateDevice: endpoint({
    method: 'PATCH',
    path: '/v1/admin/devices/:id',
    auth: 'admin',
    params: IdParams,
    body: UpdateDeviceRequest,
    response: AdminDevice,
  }),
  /** Expires the device's key now: its stream ends with reauth-required. */
  expireDevice: endpoint({
    method: 'POST',
    path: '/v1/admin/devices/:id/expire',
    auth: 'admin',
    params: IdParams,
    response: AdminDevice,
  }),
  deleteDevice: endpoint({
    method: 'DELETE',
    path: '/v1/admin/devices/:id',
    auth: 'admin',
    params: IdParams,
    response: Empty,
  }),

  listPreauthKeys: endpoint({
    method: 'GET',
    path: '/v1/admin/preauth-keys',
    auth: 'admin',
    query: ListQuery,
    response: PreauthKeyList,
  }),
  createPreauthKey: endpoint({
    method: 'POST',
    path: '/v1/admin/preauth-keys',
    auth: 'admin',
    status: 201,
    body: CreatePreauthKeyRequest,
    response: CreatePreauthKeyResponse,
  }),
  revokePreauthKey: endpoint({
    method: 'DELETE',
    path: '/v1/admin/preauth-keys/:id',
    auth: 'admin',
    params: IdParams,
    response: Empty,
  }),

  listSessions: endpoint({
    method: 'GET',
    path: '/v1/admin/sessions',
    auth: 'admin',
    query: SessionListQuery,
    response: SessionList,
  }),
  revokeSession: endpoint({
    method: 'DELETE',
    path: '/v1/admin/sessions/:id',
    auth: 'admin',
    params: IdParams,
    response: Empty,
  }),

  listApiKeys: endpoint({
    method: 'GET',
    path: '/v1/admin/api-keys',
    auth: 'admin',
    query: ListQuery,
    response: ApiKeyList,
  }),
  createApiKey: endpoint({
    method: 'POST',
    path: '/v1/admin/api-keys',
    auth: 'admin',
    status: 201,
    body: CreateApiKeyRequest,
    response: CreateApiKeyResponse,
  }),
  revokeApiKey: endpoint({
    method: 'DELETE',
    path: '/v1/admin/api-keys/:id',
    auth: 'admin',
    params: IdParams,
    response: Empty,
  }),

  getPolicy: endpoint({
    method: 'GET',
    path: '/v1/admin/policy',
    auth: 'admin',
    response: PolicyDocument,
  }),
  /** 400 with PolicyRejected when the policy does not parse or its tests fail; 409 on etag mismatch. */
  putPolicy: endpoint({
    method: 'PUT',
    path: '/v1/admin/policy',
    auth: 'admin',
    body: PutPolicyRequest,
    response: PolicyDocument,
  }),

  listPolicyVersions: endpoint({
    method: 'GET',
    path: '/v1/admin/policy/versions',
    auth: 'admin',
    query: ListQuery,
    response: PolicyVersionList,
  }),
  getPolicyVersion: endpoint({
    method: 'GET',
    path: '/v1/admin/policy/versions/:version',
    auth: 'admin',
    params: PolicyVersionParams,
    response: PolicyDocument,
  }),
  /** Saves an older version's text as a new version; refused like putPolicy. */
  rollbackPolicy: endpoint({
    method: 'POST',
    path: '/v1/admin/policy/rollback',
    auth: 'admin',
    body: RollbackPolicyRequest,
    response: PolicyDocument,
  }),

  /** Per device: advertised, approved and enabled routes and exit node (approval: updateDevice). */
  listRoutes: endpoint({
    method: 'GET',
    path: '/v1/admin/routes',
    auth: 'admin',
    query: ListQuery,
    response: DeviceRoutesList,
  }),

  getSettings: endpoint({
    method: 'GET',
    path: '/v1/admin/settings',
    auth: 'admin',
    response: NetworkSettingsView,
  }),
  /** Key expiry, approval, DNS (a change reaches connected devices as a delta), audit retention. */
  updateSettings: endpoint({
    method: 'PATCH',
    path: '/v1/admin/settings',
    auth: 'admin',
    body: UpdateNetworkSettingsRequest,
    response: NetworkSettingsView,
  }),

  /** Newest first; filters by time range, actor and action. */
  auditLog: endpoint({
    method: 'GET',
    path: '/v1/admin/audit',
    auth: 'admin',
    query: AuditQuery,
    response: AuditLog,
  }),
} as const;
export type ControlEndpointName = keyof typeof controlEndpoints;

type Field<E, K extends string> = E extends { readonly [P in K]: infer S extends z.ZodType }
  ? z.output<S>
  : undefined;
/** Parsed body type of an endpoint (undefined when it takes none). */
export type ControlBody<N extends ControlEndpointName> = Field<
  (typeof controlEndpoints)[N],
  'body'
>;
export type ControlParams<N extends ControlEndpointName> = Field<
  (typeof controlEndpoints)[N],
  'params'
>;
export type ControlQuery<N extends ControlEndpointName> = Field<
  (typeof controlEndpoints)[N],
  'query'
>;
export type ControlResponse<N extends ControlEndpointName> = z.output<
  (typeof controlEndpoints)[N]['response']
>;

/** The map stream, `GET /v1/map` upgraded to WebSocket, authenticated by the node credential. */
export const controlMapStream = {
  path: '/v1/map',
  auth: 'node',
  client: MapClientMessage,
  server: MapServerMessage,
} as const;

export const parseControlErrorBody = parser(ControlErrorBody);
export const parseMapClientMessage = parser(MapClientMessage);
export const parseMapServerMessage = parser(MapServerMessage);
export const parseNetmap = parser(Netmap);
export const parseNetmapPatch = parser(NetmapPatch);
export const parseRegisterRequest = parser(RegisterRequest);
export const parseRegisterResponse = parser(RegisterResponse);
