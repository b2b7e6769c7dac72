/**
 * The desktop app's IPC between the Electron main process (or the web bridge) and the renderer,
 * declared once as `ipcSchema` (after Mullvad's ipc-schema.ts). Main handlers, the preload API,
 * the web bridge client and test doubles all derive from it (ipc-derive.ts). See docs/api.md.
 */
import * as z from 'zod';
import {
  Cidr,
  Cidrs,
  DeviceId,
  DeviceName,
  Fqdn,
  HttpUrl,
  LatencyMs,
  Message,
  OsKind,
  SemVer,
  Timestamp,
} from './common.js';
import { NetworkSummary, UserSummary } from './control/auth.js';
import { MAX_PEERS, PostureResults } from './control/netmap.js';
import {
  deriveIpcClient,
  deriveIpcNotifier,
  invoke,
  None,
  notifyRenderer,
  send,
  type IpcRendererTransport,
  type OnInvalid,
} from './ipc-derive.js';
import {
  ExitNodeSelector,
  ExitNodeSuggestion,
  HealthWarning,
  MAX_HEALTH_WARNINGS,
  PeerStatus,
  PingRequest,
  PingResponse,
  Prefs,
  PrefsPatch,
  SelfStatus,
} from './localapi.js';
import type { IpcChannelTable } from './ipc-channels.js';
import { NetcheckReport } from './netcheck.js';

/** Largest message over the web bridge (Electron IPC has its own limits): a full AppState fits. */
export const MAX_IPC_MESSAGE_BYTES = 16 * 1024 * 1024;

// AppState: what the tray and the renderer draw ------------------------------------------------

/** The app's view of the helper and the tunnel, one state per tray icon. */
export const HelperConnection = z.discriminatedUnion('state', [
  /** The app cannot talk to trellisd; `hint` says what to do ("start the trellisd service"). */
  z.object({
    state: z.literal('helper-unavailable'),
    reason: z.enum(['not-installed', 'not-running', 'permission-denied', 'incompatible-version']),
    hint: Message,
  }),
  z.object({ state: z.literal('needs-login'), loginUrl: HttpUrl.nullable() }),
  z.object({ state: z.literal('needs-approval') }),
  z.object({ state: z.literal('disconnected') }),
  z.object({ state: z.literal('connecting') }),
  z.object({
    state: z.literal('connected'),
    exitNode: z.object({ id: DeviceId, name: DeviceName }).nullable(),
  }),
  z.object({ state: z.literal('error'), message: Message }),
]);
export type HelperConnection = z.infer<typeof HelperConnection>;

export const Account = z.object({
  user: UserSummary,
  network: NetworkSummary,
  controlUrl: HttpUrl,
});
export type Account = z.infer<typeof Account>;

export const ExitNodeOption = z.object({
  id: DeviceId,
  name: DeviceName,
  fqdn: Fqdn,
  os: OsKind,
  online: z.boolean(),
  latencyMs: LatencyMs.nullable(),
  /** The lowest-latency online exit node (what "Recommended" picks). */
  recommended: z.boolean(),
  /** Currently in use. */
  active: z.boolean(),
});
export type ExitNodeOption = z.infer<typeof ExitNodeOption>;

export const RouteOffer = z.object({
  cidr: Cidr,
  viaId: DeviceId,
  viaName: DeviceName,
  /** This router currently serves the prefix (others stand by for failover). */
  primary: z.boolean(),
});
export type RouteOffer = z.infer<typeof RouteOffer>;

export const RoutesView = z.object({
  acceptRoutes: z.boolean(),
  /** Offered by peers (approved by control). */
  offered: z.array(RouteOffer).max(MAX_PEERS),
  /** This device's own advertisement and what control approved of it. */
  advertised: Cidrs,
  approved: Cidrs,
  advertiseExitNode: z.boolean(),
  exitNodeApproved: z.boolean(),
});
export type RoutesView = z.infer<typeof RoutesView>;

/**
 * Where a sign-in started from the app stands. While `waiting`, the SSO window shows `url` (the
 * web bridge, which cannot open windows itself, shows it as a link instead).
 */
export const LoginProgress = z.discriminatedUnion('state', [
  z.object({ state: z.literal('idle') }),
  z.object({ state: z.literal('starting'), controlUrl: HttpUrl }),
  z.object({ state: z.literal('waiting'), url: HttpUrl }),
  /** The user signed in; the helper is registering this device with the new session. */
  z.object({ state: z.literal('registering') }),
  z.object({ state: z.literal('failed'), message: Message }),
]);
export type LoginProgress = z.infer<typeof LoginProgress>;

export const AppState = z.object({
  connection: HelperConnection,
  /** Absent means idle (older producers never set it). */
  login: LoginProgress.optional(),
  account: Account.nullable(),
  self: SelfStatus.nullable(),
  peers: z.array(PeerStatus).max(MAX_PEERS),
  exitNodes: z.array(ExitNodeOption).max(MAX_PEERS),
  routes: RoutesView,
  posture: PostureResults,
  health: z.array(HealthWarning).max(MAX_HEALTH_WARNINGS),
  /** Null while the helper is unavailable. */
  prefs: Prefs.nullable(),
  updatedAt: Timestamp,
});
export type AppState = z.infer<typeof AppState>;

// Channel payloads ----------------------------------------------------------------------------

export const LoginOptions = z.object({ controlUrl: HttpUrl.optional() });
export type LoginOptions = z.infer<typeof LoginOptions>;

export const LoginOutcome = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('complete'), user: UserSummary, network: NetworkSummary }),
  z.object({ outcome: z.literal('cancelled') }),
  z.object({ outcome: z.literal('failed'), message: Message }),
]);
export type LoginOutcome = z.infer<typeof LoginOutcome>;

export const AppInfo = z.object({
  appVersion: SemVer,
  /** Null while the helper is unavailable. */
  daemonVersion: SemVer.nullable(),
  platform: z.enum(['linux', 'windows', 'macos', 'web']),
  ipcVersion: z.number().int().min(1),
});
export type AppInfo = z.infer<typeof AppInfo>;

export const View = z.enum([
  'home',
  'peers',
  'exit-node',
  'routes',
  'posture',
  'settings',
  'diagnostics',
  'sign-in',
]);
export type View = z.infer<typeof View>;

/**
 * A desktop notification shown inside the page (the web bridge has no OS notifications; Electron
 * shows native ones instead). `view` is where clicking it leads, if anywhere.
 */
export const AppNotice = z.object({
  kind: z.enum(['device-approved', 'key-expiring', 'exit-node-offline', 'helper']),
  title: z.string().min(1).max(200),
  body: z.string().max(1000),
  view: View.nullable(),
});
export type AppNotice = z.infer<typeof AppNotice>;

// The schema ----------------------------------------------------------------------------------

export const ipcSchema = {
  state: {
    get: invoke(None, AppState),
    changed: notifyRenderer(AppState),
  },
  tunnel: {
    connect: invoke(None, None),
    disconnect: invoke(None, None),
  },
  exitNode: {
    set: invoke(ExitNodeSelector, None),
    setAllowLan: invoke(z.boolean(), None),
    suggest: invoke(None, ExitNodeSuggestion),
  },
  routes: {
    setAcceptRoutes: invoke(z.boolean(), None),
    setAdvertised: invoke(Cidrs, None),
    setAdvertiseExitNode: invoke(z.boolean(), None),
  },
  settings: {
    /** Other prefs (accept DNS, block incoming, hostname, control URL); answers the new prefs. */
    update: invoke(PrefsPatch, Prefs),
  },
  account: {
    /** Opens the SSO window; resolves when the user finishes or closes it. */
    login: invoke(LoginOptions, LoginOutcome),
    cancelLogin: send(None),
    logout: invoke(None, None),
  },
  diagnostics: {
    netcheck: invoke(None, NetcheckReport),
    ping: invoke(PingRequest, PingResponse),
  },
  app: {
    getInfo: invoke(None, AppInfo),
    /** Main opens only http(s) URLs, in the system browser. */
    openExternal: send(HttpUrl),
    openAdminConsole: send(None),
    copyText: send(z.string().max(4096)),
    quit: send(None),
    /** The tray asks the window to show a view ("Peers…", "Settings…"). */
    navigate: notifyRenderer(View),
    /** A notification for the page to show (web bridge only). */
    notice: notifyRenderer(AppNotice),
  },
} as const;
export type IpcSchema = typeof ipcSchema;

// Derived names and helper types --------------------------------------------------------------

export { IPC_VERSION, ipcChannelKinds, ipcChannels, ipcChannelTable } from './ipc-channels.js';

/** Compile-time proof that ipc-channels.ts lists exactly the channels and kinds declared above. */
type KindsOf<S> = {
  readonly [A in keyof S]: {
    readonly [N in keyof S[A]]: S[A][N] extends { kind: infer K } ? K : never;
  };
};
type Equals<X, Y> =
  (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
const channelTableMatchesSchema: Equals<KindsOf<IpcSchema>, IpcChannelTable> = true;
void channelTableMatchesSchema;

type Area = keyof IpcSchema;
type Desc<A extends Area, N extends keyof IpcSchema[A]> = IpcSchema[A][N];
type ReqSchema<D> = D extends { kind: 'invoke'; request: infer S extends z.ZodType } ? S : never;
type ResSchema<D> = D extends { kind: 'invoke'; response: infer S extends z.ZodType } ? S : never;
type PaySchema<D> = D extends { kind: 'send' | 'notify'; payload: infer S extends z.ZodType }
  ? S
  : never;

/** What the renderer passes to an invoke channel, e.g. `IpcInvokeRequest<'exitNode', 'set'>`. */
export type IpcInvokeRequest<A extends Area, N extends keyof IpcSchema[A]> = z.input<
  ReqSchema<Desc<A, N>>
>;
/** What an invoke channel resolves to on success. */
export type IpcInvokeResponse<A extends Area, N extends keyof IpcSchema[A]> = z.output<
  ResSchema<Desc<A, N>>
>;
export type IpcSendPayload<A extends Area, N extends keyof IpcSchema[A]> = z.input<
  PaySchema<Desc<A, N>>
>;
export type IpcNotifyPayload<A extends Area, N extends keyof IpcSchema[A]> = z.output<
  PaySchema<Desc<A, N>>
>;

export type {
  IpcClient,
  IpcHandlers,
  IpcNotifier,
  IpcRendererTransport,
  IpcMainTransport,
  IpcError,
} from './ipc-derive.js';

/** The renderer's typed API over a transport (the preload bridge, the web bridge, a test double). */
export const createIpcClient = (transport: IpcRendererTransport, onInvalid?: OnInvalid) =>
  deriveIpcClient(ipcSchema, transport, onInvalid);

/** Main's typed notifier over an emit function (e.g. every window's webContents.send). */
export const createIpcNotifier = (
  emit: (channel: string, payload: unknown) => void,
  onInvalid?: OnInvalid,
) => deriveIpcNotifier(ipcSchema, emit, onInvalid);

/** The object the preload exposes as `window.trellis`: a renderer transport plus the IPC version. */
export interface IpcBridge extends IpcRendererTransport {
  readonly ipcVersion: number;
}
