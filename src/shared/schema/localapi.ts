/**
 * The helper's LocalAPI: HTTP+JSON under `/localapi/v1` on a Unix socket (Windows: a named
 * pipe), plus a WebSocket watch stream. Spoken by trellisd (server), the `trellis` CLI and the
 * desktop app's main process. Clients call `POST /localapi/v1/hello` first and stop if the daemon
 * says they are not compatible. See docs/api.md for the rules of evolving it.
 */
import * as z from 'zod';
import {
  Cidrs,
  Counter,
  DeviceAddresses,
  DeviceId,
  DeviceName,
  DisplayName,
  Fqdn,
  Hostname,
  HttpUrl,
  IpAddr,
  IpPortText,
  LatencyMs,
  Message,
  NodePublicKey,
  OsKind,
  ProtocolVersion,
  RegionId,
  SecretToken,
  SemVer,
  Slug,
  Timestamp,
} from './common.js';
import { NetworkSummary, UserSummary } from './control/auth.js';
import { DeviceOwner, MAX_PEERS, PostureResults, RouteState } from './control/netmap.js';
import { NetcheckReport } from './netcheck.js';
import { parser } from './parse.js';

/** Version of the LocalAPI this build speaks (hello and the `/localapi/v1` prefix). */
export const LOCALAPI_VERSION = 1;
/** Oldest client version this build's daemon still serves. */
export const LOCALAPI_MIN_VERSION = 1;
export const LOCALAPI_PATH_PREFIX = '/localapi/v1';

/** How Windows names a local named pipe: `\\.\pipe\` and the pipe's name. */
export const WINDOWS_PIPE_PREFIX = '\\\\.\\pipe\\';

/**
 * The Windows pipe's name. Under `ProtectedPrefix\Administrators\`, where Windows lets only
 * members of Administrators (SYSTEM included) create a pipe, so no unprivileged program can
 * take the name while the helper is down (Tailscale's and WireGuard for Windows' choice too).
 * Who may connect is still the pipe's own ACL.
 */
export const WINDOWS_PIPE_NAME = 'ProtectedPrefix\\Administrators\\Trellis\\trellisd';

/**
 * Where trellisd serves the LocalAPI unless told otherwise (its `--socket` flag; the clients'
 * TRELLIS_SOCKET): a Unix socket under /run on Linux and other Unixes, under /var/run on macOS
 * (which has no /run), and a named pipe on Windows. `platform` is Node's `process.platform`,
 * passed in so this stays pure (the renderer imports this module) and tests can pick one.
 */
export function defaultLocalApiEndpoint(platform: string): string {
  switch (platform) {
    case 'win32':
      return `${WINDOWS_PIPE_PREFIX}${WINDOWS_PIPE_NAME}`;
    case 'darwin':
      return '/var/run/trellis/trellisd.sock';
    default:
      return '/run/trellis/trellisd.sock';
  }
}

/** Windows caps a pipe's full name (`\\.\pipe\…`) at 256 characters. */
export const MAX_PIPE_PATH_CHARS = 256;
/**
 * `\\.\pipe\` then one or more `\`-separated parts of [A-Za-z0-9._-] (parts allow names such
 * as `ProtectedPrefix\Administrators\Trellis\trellisd`). Stricter than Windows: nothing that
 * needs quoting in a service's command line.
 */
const PIPE_NAME_RE = /^[A-Za-z0-9._-]+(?:\\[A-Za-z0-9._-]+)*$/;

/**
 * Why `endpoint` cannot be the LocalAPI endpoint on `platform` (a sentence to show after the
 * flag's name), or null when it can: a named pipe on Windows, an absolute path elsewhere.
 */
export function localApiEndpointError(endpoint: string, platform: string): string | null {
  if (platform === 'win32') {
    const name = endpoint.startsWith(WINDOWS_PIPE_PREFIX)
      ? endpoint.slice(WINDOWS_PIPE_PREFIX.length)
      : null;
    if (name === null || !PIPE_NAME_RE.test(name) || endpoint.length > MAX_PIPE_PATH_CHARS) {
      return `must be a named pipe, ${WINDOWS_PIPE_PREFIX}NAME (NAME of [A-Za-z0-9._-], parts separated by \\, at most ${MAX_PIPE_PATH_CHARS} characters in all)`;
    }
    return null;
  }
  if (!endpoint.startsWith('/') || endpoint.includes('\0')) return 'must be an absolute path';
  return null;
}

/** Largest response or watch event: a status with MAX_PEERS peers at ~500 bytes each fits. */
export const MAX_LOCALAPI_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Largest request body: prefs with every advertised route is a few tens of kilobytes. */
export const MAX_LOCALAPI_REQUEST_BYTES = 1024 * 1024;
/**
 * The daemon coalesces status events to at most one per this interval: smooth enough for a UI,
 * and it caps the cost of re-sending a large peer list while latencies churn.
 */
export const WATCH_STATUS_MIN_INTERVAL_MS = 500;
/** Health warnings shown at once; more would not fit any UI. */
export const MAX_HEALTH_WARNINGS = 64;
/** Ping attempts per request (the CLI's `-c`). */
export const MAX_PING_COUNT = 100;

// Errors --------------------------------------------------------------------------------------

export const LocalApiErrorCode = z.enum([
  'bad_request',
  'forbidden', // the socket peer is not root or in the trellis group
  'not_found', // e.g. ping of an unknown peer
  'conflict', // the request does not fit the backend state (e.g. up while logging in)
  'not_logged_in',
  'unsupported_version',
  'too_large',
  'timeout',
  'unavailable', // the daemon cannot reach control right now
  'internal',
]);
export type LocalApiErrorCode = z.infer<typeof LocalApiErrorCode>;

export const localApiErrorStatus: Readonly<Record<LocalApiErrorCode, number>> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  not_logged_in: 401,
  unsupported_version: 426,
  too_large: 413,
  timeout: 504,
  unavailable: 503,
  internal: 500,
};

export const LocalApiErrorBody = z.object({
  error: z.object({ code: LocalApiErrorCode, message: Message }),
});
export type LocalApiErrorBody = z.infer<typeof LocalApiErrorBody>;

// Handshake -----------------------------------------------------------------------------------

export const HelloRequest = z.object({
  clientVersion: SemVer,
  protocolVersion: ProtocolVersion,
  /** "desktop", "cli", ...; for the daemon's log. */
  clientName: z.string().max(64).optional(),
});
export type HelloRequest = z.infer<typeof HelloRequest>;

export const HelloResponse = z.object({
  daemonVersion: SemVer,
  protocolVersion: ProtocolVersion,
  minProtocolVersion: ProtocolVersion,
  /** Whether the daemon serves the client's protocol version; if not, the client must stop. */
  compatible: z.boolean(),
});
export type HelloResponse = z.infer<typeof HelloResponse>;

// Prefs ---------------------------------------------------------------------------------------

/**
 * The exit node the user chose. The daemon resolves `name` and `address` to a device when it
 * applies them and reports the device it uses in `Status.exitNode`; `auto` picks the lowest
 * latency exit node with hysteresis; null routes nothing through an exit node.
 */
export const ExitNodeSelector = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('auto') }),
    z.object({ type: z.literal('id'), id: DeviceId }),
    z.object({ type: z.literal('name'), name: z.union([DeviceName, Fqdn]) }),
    z.object({ type: z.literal('address'), address: IpAddr }),
  ])
  .nullable();
export type ExitNodeSelector = z.infer<typeof ExitNodeSelector>;

export const Prefs = z.object({
  controlUrl: HttpUrl,
  /** The user wants the tunnel up; survives restarts. */
  wantRunning: z.boolean(),
  exitNode: ExitNodeSelector,
  /** While using an exit node, keep the local LAN reachable directly. */
  exitNodeAllowLAN: z.boolean(),
  /** Install subnet routes that peers offer. */
  acceptRoutes: z.boolean(),
  advertiseRoutes: Cidrs,
  advertiseExitNode: z.boolean(),
  /** Let the netmap's DNS config (MagicDNS, nameservers) take over system DNS. */
  acceptDNS: z.boolean(),
  /** Overrides the OS hostname sent to control; null uses the OS hostname. */
  hostname: Hostname.nullable(),
  /** Drop all inbound connections from peers, whatever policy allows. */
  blockIncoming: z.boolean(),
});
export type Prefs = z.infer<typeof Prefs>;

/** `PATCH /prefs`: present fields replace the current value. */
export const PrefsPatch = Prefs.partial();
export type PrefsPatch = z.infer<typeof PrefsPatch>;

// Status --------------------------------------------------------------------------------------

export const BackendState = z.discriminatedUnion('state', [
  /** No valid registration; loginUrl is set while an interactive login waits for the user. */
  z.object({ state: z.literal('needs-login'), loginUrl: HttpUrl.nullable() }),
  /** Registered, waiting for an admin to approve the device. */
  z.object({ state: z.literal('needs-approval') }),
  z.object({ state: z.literal('stopped') }),
  z.object({ state: z.literal('starting') }),
  z.object({ state: z.literal('running') }),
  z.object({ state: z.literal('error'), message: Message }),
]);
export type BackendState = z.infer<typeof BackendState>;

/** How traffic to a peer flows right now. */
export const PeerPath = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('direct'),
    endpoint: IpPortText,
    /**
     * WireGuard's own port carries this peer's packets (the Linux fast path), not the helper's
     * proxy. Absent from older helpers.
     */
    fastPath: z.boolean().optional(),
  }),
  z.object({ type: z.literal('relay'), region: RegionId }),
  z.object({ type: z.literal('none') }),
]);
export type PeerPath = z.infer<typeof PeerPath>;

export const PeerStatus = z.object({
  id: DeviceId,
  name: DeviceName,
  fqdn: Fqdn,
  addresses: DeviceAddresses,
  os: OsKind,
  owner: DeviceOwner,
  /** Connected to control, as control last reported. */
  online: z.boolean(),
  lastSeen: Timestamp.nullable(),
  path: PeerPath,
  homeRelayRegion: RegionId.nullable(),
  /** Latest disco round trip on the current path. */
  latencyMs: LatencyMs.nullable(),
  lastHandshake: Timestamp.nullable(),
  rxBytes: Counter,
  txBytes: Counter,
  /** This device currently sends its internet traffic through the peer. */
  exitNode: z.boolean(),
  /** The peer offers itself as an exit node to this device. */
  exitNodeOption: z.boolean(),
  /** Subnet routes the peer offers (approved by control). */
  routes: Cidrs,
});
export type PeerStatus = z.infer<typeof PeerStatus>;

export const SelfStatus = z.object({
  id: DeviceId,
  name: DeviceName,
  fqdn: Fqdn,
  addresses: DeviceAddresses,
  nodeKey: NodePublicKey,
  os: OsKind,
  owner: DeviceOwner,
  keyExpiry: Timestamp.nullable(),
  routes: RouteState,
  isExitNode: z.boolean(),
});
export type SelfStatus = z.infer<typeof SelfStatus>;

export const ExitNodeInUse = z.object({
  id: DeviceId,
  name: DeviceName,
  online: z.boolean(),
  allowLAN: z.boolean(),
});
export type ExitNodeInUse = z.infer<typeof ExitNodeInUse>;

export const HealthWarning = z.object({
  /** Stable identifier ("control-unreachable", "dns-config-failed", "key-expiring"); the set grows. */
  code: Slug,
  severity: z.enum(['info', 'warning', 'error']),
  message: Message,
  since: Timestamp.nullable(),
});
export type HealthWarning = z.infer<typeof HealthWarning>;

export const Status = z.object({
  daemonVersion: SemVer,
  backend: BackendState,
  controlUrl: HttpUrl.nullable(),
  /** The map stream to control is up. Tunnels keep working from the last netmap while it is not. */
  controlConnected: z.boolean(),
  network: NetworkSummary.nullable(),
  user: UserSummary.nullable(),
  self: SelfStatus.nullable(),
  peers: z.array(PeerStatus).max(MAX_PEERS),
  exitNode: ExitNodeInUse.nullable(),
  health: z.array(HealthWarning).max(MAX_HEALTH_WARNINGS),
  posture: PostureResults,
  updatedAt: Timestamp,
});
export type Status = z.infer<typeof Status>;

// Actions -------------------------------------------------------------------------------------

export const BackendStateResponse = z.object({ backend: BackendState });
export type BackendStateResponse = z.infer<typeof BackendStateResponse>;

/** `trellis up`: start (registering with the auth key when given). Absent fields keep prefs. */
export const UpRequest = z.object({
  controlUrl: HttpUrl.optional(),
  authKey: SecretToken.optional(),
  hostname: Hostname.optional(),
});
export type UpRequest = z.infer<typeof UpRequest>;

export const DownRequest = z.object({});

/**
 * Register this device with control:
 * - interactive: the daemon starts a login session; its URL appears as `needs-login.loginUrl`
 *   (CLI prints it, a browser opens it) and the watch stream reports completion;
 * - session: the desktop app already signed in through its SSO window and hands over the session;
 * - auth-key: a pre-auth key, for servers.
 */
export const LoginRequest = z.discriminatedUnion('method', [
  z.object({ method: z.literal('interactive'), controlUrl: HttpUrl.optional() }),
  z.object({
    method: z.literal('session'),
    sessionToken: SecretToken,
    controlUrl: HttpUrl.optional(),
  }),
  z.object({ method: z.literal('auth-key'), authKey: SecretToken, controlUrl: HttpUrl.optional() }),
]);
export type LoginRequest = z.infer<typeof LoginRequest>;

export const LogoutRequest = z.object({});

export const PingRequest = z.object({
  /** A peer id, name, FQDN or mesh address. */
  peer: z.string().min(1).max(253),
  count: z.number().int().min(1).max(MAX_PING_COUNT).default(4),
  /** Per attempt; 100 ms is below any useful wait, 30 s above any real path. */
  timeoutMs: z.number().int().min(100).max(30_000).default(2000),
});
export type PingRequest = z.infer<typeof PingRequest>;

export const PingAttempt = z.discriminatedUnion('outcome', [
  z.object({
    outcome: z.literal('pong'),
    seq: z.number().int().min(0),
    path: z.discriminatedUnion('type', [
      z.object({ type: z.literal('direct'), endpoint: IpPortText }),
      z.object({ type: z.literal('relay'), region: RegionId }),
    ]),
    latencyMs: LatencyMs,
  }),
  z.object({ outcome: z.literal('timeout'), seq: z.number().int().min(0) }),
]);
export type PingAttempt = z.infer<typeof PingAttempt>;

export const PingResponse = z.object({
  peerId: DeviceId,
  peerName: DeviceName,
  results: z.array(PingAttempt).max(MAX_PING_COUNT),
});
export type PingResponse = z.infer<typeof PingResponse>;

export const ExitNodeSuggestion = z.object({
  suggestion: z
    .object({ id: DeviceId, name: DeviceName, latencyMs: LatencyMs.nullable(), reason: Message })
    .nullable(),
});
export type ExitNodeSuggestion = z.infer<typeof ExitNodeSuggestion>;

// Watch stream --------------------------------------------------------------------------------

/** Query of `GET /localapi/v1/watch` (WebSocket upgrade): `?initial=1&logs=0`. */
export const WatchQuery = z.object({
  /** Send the current status and prefs first, so a new client needs no separate GETs. */
  initial: z.enum(['0', '1']).default('1'),
  logs: z.enum(['0', '1']).default('0'),
});
export type WatchQuery = z.infer<typeof WatchQuery>;

export const NetmapSummary = z.object({
  peerCount: z.number().int().min(0).max(MAX_PEERS),
  onlineCount: z.number().int().min(0).max(MAX_PEERS),
  collectedAt: Timestamp.nullable(),
});
export type NetmapSummary = z.infer<typeof NetmapSummary>;

export const Notification = z.object({
  level: z.enum(['info', 'warning', 'error']),
  title: DisplayName,
  body: Message,
  /** Where to act on it (e.g. the admin console page that approves the device). */
  url: HttpUrl.optional(),
});
export type Notification = z.infer<typeof Notification>;

/** Every event carries `seq`, one higher than the previous event on the same connection. */
export const WatchEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status'), seq: Counter, status: Status }),
  z.object({ type: z.literal('prefs'), seq: Counter, prefs: Prefs }),
  z.object({ type: z.literal('netmap-summary'), seq: Counter, summary: NetmapSummary }),
  z.object({ type: z.literal('notification'), seq: Counter, notification: Notification }),
  z.object({
    type: z.literal('log'),
    seq: Counter,
    level: z.enum(['debug', 'info', 'warn', 'error']),
    message: Message,
    time: Timestamp,
  }),
]);
export type WatchEvent = z.infer<typeof WatchEvent>;

// Endpoint table ------------------------------------------------------------------------------

export interface LocalApiEndpoint {
  readonly method: 'GET' | 'POST' | 'PATCH';
  /** Relative to LOCALAPI_PATH_PREFIX. */
  readonly path: `/${string}`;
  readonly body?: z.ZodType;
  readonly response: z.ZodType;
}
const endpoint = <const E extends LocalApiEndpoint>(e: E): E => e;

export const localApiEndpoints = {
  hello: endpoint({ method: 'POST', path: '/hello', body: HelloRequest, response: HelloResponse }),
  status: endpoint({ method: 'GET', path: '/status', response: Status }),
  getPrefs: endpoint({ method: 'GET', path: '/prefs', response: Prefs }),
  patchPrefs: endpoint({ method: 'PATCH', path: '/prefs', body: PrefsPatch, response: Prefs }),
  up: endpoint({ method: 'POST', path: '/up', body: UpRequest, response: BackendStateResponse }),
  down: endpoint({
    method: 'POST',
    path: '/down',
    body: DownRequest,
    response: BackendStateResponse,
  }),
  login: endpoint({
    method: 'POST',
    path: '/login',
    body: LoginRequest,
    response: BackendStateResponse,
  }),
  logout: endpoint({
    method: 'POST',
    path: '/logout',
    body: LogoutRequest,
    response: BackendStateResponse,
  }),
  /** Runs a fresh netcheck (takes a few seconds). */
  netcheck: endpoint({ method: 'POST', path: '/netcheck', response: NetcheckReport }),
  ping: endpoint({ method: 'POST', path: '/ping', body: PingRequest, response: PingResponse }),
  suggestExitNode: endpoint({
    method: 'GET',
    path: '/exit-node/suggest',
    response: ExitNodeSuggestion,
  }),
} as const;
export type LocalApiEndpointName = keyof typeof localApiEndpoints;

type BodyOf<E> = E extends { readonly body: infer S extends z.ZodType } ? z.input<S> : undefined;
/** What a client sends (zod input: fields with defaults may be omitted). */
export type LocalApiRequest<N extends LocalApiEndpointName> = BodyOf<(typeof localApiEndpoints)[N]>;
export type LocalApiResponse<N extends LocalApiEndpointName> = z.output<
  (typeof localApiEndpoints)[N]['response']
>;

/** The watch stream, `GET /localapi/v1/watch` upgraded to WebSocket; server → client only. */
export const localApiWatch = { path: '/watch', query: WatchQuery, event: WatchEvent } as const;

export const parseLocalApiErrorBody = parser(LocalApiErrorBody);
export const parseStatus = parser(Status);
export const parsePrefs = parser(Prefs);
export const parsePrefsPatch = parser(PrefsPatch);
export const parseWatchEvent = parser(WatchEvent);

// Re-exported so LocalAPI users need one import.
export { NetcheckReport } from './netcheck.js';
export { DeviceOwner, PostureResult, PostureResults, RouteState } from './control/netmap.js';
export { NetworkSummary, UserSummary } from './control/auth.js';
