/**
 * AppState, the one view of the helper that the tray and the renderer draw, derived purely from
 * the helper's Status and Prefs (the LocalAPI's wire types stop here).
 */
import type {
  Account,
  AppState,
  ExitNodeOption,
  HelperConnection,
  LoginProgress,
  RouteOffer,
  RoutesView,
} from '../../shared/schema/ipc.js';
import type { PeerStatus, Prefs, Status } from '../../shared/schema/localapi.js';

const EMPTY_ROUTES: RoutesView = {
  acceptRoutes: false,
  offered: [],
  advertised: [],
  approved: [],
  advertiseExitNode: false,
  exitNodeApproved: false,
};

/** Before the first answer from the helper: "connecting" rather than a premature error. */
export function initialAppState(now: Date): AppState {
  return {
    connection: { state: 'connecting' },
    login: { state: 'idle' },
    account: null,
    self: null,
    peers: [],
    exitNodes: [],
    routes: EMPTY_ROUTES,
    posture: [],
    health: [],
    prefs: null,
    updatedAt: now.toISOString(),
  };
}

/** The helper is out of reach: nothing it said before is current any more. */
export function unavailableAppState(
  connection: Extract<HelperConnection, { state: 'helper-unavailable' }>,
  login: LoginProgress,
  now: Date,
): AppState {
  return { ...initialAppState(now), connection, login };
}

export function connectionFromStatus(status: Status): HelperConnection {
  const b = status.backend;
  switch (b.state) {
    case 'needs-login':
      return { state: 'needs-login', loginUrl: b.loginUrl };
    case 'needs-approval':
      return { state: 'needs-approval' };
    case 'stopped':
      return { state: 'disconnected' };
    case 'starting':
      return { state: 'connecting' };
    case 'running':
      return {
        state: 'connected',
        exitNode: status.exitNode ? { id: status.exitNode.id, name: status.exitNode.name } : null,
      };
    case 'error':
      return { state: 'error', message: b.message };
  }
}

const byLatencyThenName = (a: PeerStatus, b: PeerStatus): number =>
  (a.latencyMs ?? Infinity) - (b.latencyMs ?? Infinity) || a.name.localeCompare(b.name);

/**
 * Exit nodes offered to this device. "Recommended" is the online one with the lowest measured
 * latency (unmeasured ones rank last, by name, so there is still a recommendation before any
 * latency is known).
 */
export function exitNodeOptions(status: Status): ExitNodeOption[] {
  const offered = status.peers.filter((p) => p.exitNodeOption);
  const best = offered.filter((p) => p.online).sort(byLatencyThenName)[0];
  const activeId = status.exitNode?.id ?? null;
  return offered
    .map((p) => ({
      id: p.id,
      name: p.name,
      fqdn: p.fqdn,
      os: p.os,
      online: p.online,
      latencyMs: p.latencyMs,
      recommended: p.id === best?.id,
      active: p.id === activeId || p.exitNode,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Routes peers offer, one row per (prefix, router). The helper does not report which router it
 * uses for a prefix, so the first online router (in name order) is marked primary, the rest
 * stand by; that is the failover order control's netmap implies.
 */
export function routeOffers(peers: readonly PeerStatus[]): RouteOffer[] {
  const offers: RouteOffer[] = [];
  const primaryTaken = new Set<string>();
  const routers = [...peers].filter((p) => p.routes.length > 0);
  routers.sort((a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name));
  for (const p of routers) {
    for (const cidr of p.routes) {
      const primary = p.online && !primaryTaken.has(cidr);
      if (primary) primaryTaken.add(cidr);
      offers.push({ cidr, viaId: p.id, viaName: p.name, primary });
    }
  }
  return offers.sort(
    (a, b) => a.cidr.localeCompare(b.cidr) || Number(b.primary) - Number(a.primary),
  );
}

export function routesView(status: Status, prefs: Prefs): RoutesView {
  return {
    acceptRoutes: prefs.acceptRoutes,
    offered: routeOffers(status.peers),
    advertised: prefs.advertiseRoutes,
    approved: status.self?.routes.approved ?? [],
    advertiseExitNode: prefs.advertiseExitNode,
    exitNodeApproved: status.self?.isExitNode ?? false,
  };
}

function accountOf(status: Status, fallback: Account | null): Account | null {
  if (status.user && status.network && status.controlUrl) {
    return { user: status.user, network: status.network, controlUrl: status.controlUrl };
  }
  // The helper registered with a session and did not learn the user: the app's own sign-in did.
  if (fallback && status.self && fallback.controlUrl === status.controlUrl) return fallback;
  return null;
}

export interface DeriveInput {
  readonly status: Status;
  readonly prefs: Prefs;
  readonly login: LoginProgress;
  /** Who the app's own sign-in says is signed in, for when the helper does not know. */
  readonly account: Account | null;
  readonly now: Date;
}

export function deriveAppState(i: DeriveInput): AppState {
  const { status, prefs } = i;
  return {
    connection: connectionFromStatus(status),
    login: i.login,
    account: accountOf(status, i.account),
    self: status.self,
    peers: status.peers,
    exitNodes: exitNodeOptions(status),
    routes: routesView(status, prefs),
    posture: status.posture,
    health: status.health,
    prefs,
    updatedAt: i.now.toISOString(),
  };
}
