/**
 * Subnet routes and exit nodes: the admin's view and approvals, and approval by the policy's
 * autoApprovers. Devices advertise through their host info (store.routes.setAdvertised, called by
 * the netmap side); a route serves traffic once it is also approved here or by autoApprovers.
 */
import type {
  DeviceRoutesList,
  DeviceRoutesView,
  ListQuery,
  UpdateDeviceRequest,
} from '../../shared/schema/control/admin.js';
import { autoApprove, type Policy, type PolicyOwner } from '../policy/index.js';
import type { AuditDiff } from '../store/audit.js';
import type { Store, StoreTx } from '../store/index.js';
import { emptyRoutes, type DeviceRoutes } from '../store/routes.js';
import { auditAs, type AdminDeps, type Caller } from './deps.js';
import { badRequest, notFound } from './errors.js';
import { pageOf } from './paging.js';

const EXIT_PREFIX_RE = /^(0\.0\.0\.0|::)\/0$/;

export function routesView(r: DeviceRoutes, deviceName: string): DeviceRoutesView {
  return {
    deviceId: r.deviceId,
    deviceName,
    advertised: r.advertised,
    approved: r.approved,
    enabled: r.enabled,
    exitNode: { ...r.exitNode },
  };
}

/** Every device of the caller's network with its routes (devices with none included). */
export async function listRoutes(
  deps: AdminDeps,
  caller: Caller,
  q: ListQuery,
): Promise<DeviceRoutesList> {
  const [devices, routes] = await Promise.all([
    deps.store.devices.list(caller.networkId),
    deps.store.routes.listByNetwork(caller.networkId),
  ]);
  return pageOf(
    devices,
    (d) => d.name,
    (d) => routesView(routes.get(d.id) ?? emptyRoutes(d.id), d.name),
    q,
  );
}

export interface RouteApprovalChange {
  /** Subnet routes newly approved / no longer approved. */
  approved: string[];
  unapproved: string[];
  /** The exit node's approval flipped to this value, or null when it did not change. */
  exitNode: boolean | null;
}

/**
 * PATCH /v1/admin/devices/:id's `approvedRoutes` (the whole approved set) and
 * `exitNodeApproved`, inside the caller's transaction. Default routes belong to the exit node.
 */
export async function setRouteApproval(
  tx: StoreTx,
  deviceId: string,
  r: Pick<UpdateDeviceRequest, 'approvedRoutes' | 'exitNodeApproved'>,
): Promise<RouteApprovalChange> {
  const before = await tx.routes.get(deviceId);
  if (r.approvedRoutes !== undefined) {
    if (r.approvedRoutes.some((p) => EXIT_PREFIX_RE.test(p)))
      throw badRequest('approvedRoutes: approve 0.0.0.0/0 and ::/0 with exitNodeApproved');
    if (!(await tx.routes.setApprovedRoutes(deviceId, r.approvedRoutes))) throw notFound('device');
  }
  if (r.exitNodeApproved !== undefined) {
    if (!(await tx.routes.setExitNodeApproved(deviceId, r.exitNodeApproved)))
      throw notFound('device');
  }
  const after = await tx.routes.get(deviceId);
  return {
    approved: after.approved.filter((p) => !before.approved.includes(p)),
    unapproved: before.approved.filter((p) => !after.approved.includes(p)),
    exitNode: before.exitNode.approved === after.exitNode.approved ? null : after.exitNode.approved,
  };
}

/** 'route.approved' and 'route.unapproved' entries for one change (none when nothing changed). */
export function routeAuditEntries(c: RouteApprovalChange): Array<[string, AuditDiff]> {
  const out: Array<[string, AuditDiff]> = [];
  const approved: AuditDiff = {};
  const unapproved: AuditDiff = {};
  if (c.approved.length) approved.routes = c.approved;
  if (c.unapproved.length) unapproved.routes = c.unapproved;
  if (c.exitNode === true) approved.exitNode = true;
  if (c.exitNode === false) unapproved.exitNode = true;
  if (Object.keys(approved).length) out.push(['route.approved', approved]);
  if (Object.keys(unapproved).length) out.push(['route.unapproved', unapproved]);
  return out;
}

export async function auditRouteChange(
  deps: AdminDeps,
  caller: Caller,
  deviceId: string,
  c: RouteApprovalChange,
): Promise<void> {
  for (const [action, diff] of routeAuditEntries(c))
    await auditAs(deps, caller, action, { type: 'device', id: deviceId }, diff);
}

export interface AutoApproveResult {
  /** Routes autoApprovers approved now (already approved ones are not repeated). */
  routes: string[];
  exitNode: boolean;
  /** The device's routes afterwards. */
  after: DeviceRoutes;
}

/**
 * Approves what the policy's autoApprovers allow among the device's advertised routes and exit
 * node, and audits it ('route.approved' by the system, `by: "autoApprovers"`). Only adds
 * approvals: an admin's approval is never withdrawn here. Call after the device's advertisement
 * or owner changes, and for every device after a policy change. Null when the device is not in
 * the network.
 */
export async function autoApproveRoutes(
  store: Store,
  networkId: string,
  deviceId: string,
  policy: Pick<Policy, 'autoApprovers' | 'groups'>,
): Promise<AutoApproveResult | null> {
  const device = await store.devices.get(deviceId);
  if (!device || device.networkId !== networkId) return null;
  let owner: PolicyOwner;
  if (device.userId === null) {
    owner = { type: 'tagged', tags: device.tags };
  } else {
    const u = await store.users.get(device.userId);
    if (!u || u.disabled)
      return { routes: [], exitNode: false, after: await store.routes.get(deviceId) };
    owner = { type: 'user', user: { id: u.id, email: u.email, role: u.role, groups: u.groups } };
  }
  const current = await store.routes.get(deviceId);
  const approval = autoApprove(policy, owner, {
    routes: current.advertised,
    exitNode: current.exitNode.advertised,
  });
  const routes = approval.routes.filter((p) => !current.approved.includes(p));
  const exitNode = approval.exitNode && !current.exitNode.approved;
  if (routes.length === 0 && !exitNode) return { routes, exitNode, after: current };
  const after = await store.transaction(async (tx) => {
    if (routes.length) await tx.routes.approveRoutes(deviceId, routes);
    if (exitNode) await tx.routes.setExitNodeApproved(deviceId, true);
    return tx.routes.get(deviceId);
  });
  await store.audit.append({
    networkId,
    actor: { type: 'system', id: null },
    action: 'route.approved',
    target: { type: 'device', id: deviceId },
    diff: {
      ...(routes.length ? { routes } : {}),
      ...(exitNode ? { exitNode: true } : {}),
      by: 'autoApprovers',
    },
  });
  return { routes, exitNode, after };
}

/**
 * Runs autoApproveRoutes for every device of the network that advertises something: after a
 * policy change, whose autoApprovers may now cover routes that were pending. Returns the ids of
 * devices that gained approvals.
 */
export async function autoApproveNetwork(
  store: Store,
  networkId: string,
  policy: Pick<Policy, 'autoApprovers' | 'groups'>,
): Promise<string[]> {
  const changed: string[] = [];
  for (const [deviceId, r] of await store.routes.listByNetwork(networkId)) {
    if (r.advertised.length === 0 && !r.exitNode.advertised) continue;
    const done = await autoApproveRoutes(store, networkId, deviceId, policy);
    if (done && (done.routes.length > 0 || done.exitNode)) changed.push(deviceId);
  }
  return changed;
}

/** The routes operations for the HTTP routes and the CLI (approval goes through updateDevice). */
export interface RoutesAdminApi {
  listRoutes(q: ListQuery): Promise<DeviceRoutesList>;
}

export function routesService(deps: AdminDeps, caller: Caller): RoutesAdminApi {
  return { listRoutes: (q) => listRoutes(deps, caller, q) };
}
