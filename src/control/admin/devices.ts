/**
 * Device administration: list and inspect, rename, approve, key expiry on/off, expire the key
 * now, tags, delete. Every change is pushed to the live mesh (deps.mesh) after it commits, so
 * peers' netmaps get the delta and a deleted or expired device's stream ends with
 * reauth-required.
 */
import type {
  AdminDevice,
  ListQuery,
  UpdateDeviceRequest,
} from '../../shared/schema/control/admin.js';
import type { Device } from '../store/devices.js';
import type { StoreTx } from '../store/index.js';
import type { AuditDiff } from '../store/audit.js';
import { auditAs, change, type AdminDeps, type Caller } from './deps.js';
import { badRequest, conflict, notFound } from './errors.js';
import { pageOf, type Page } from './paging.js';
import { deviceView } from './views.js';
import { auditRouteChange, setRouteApproval, type RouteApprovalChange } from './routes.js';
import type { DeviceRoutes } from '../store/routes.js';

async function findDevice(deps: AdminDeps, caller: Caller, id: string): Promise<Device> {
  const d = await deps.store.devices.get(id);
  if (!d || d.networkId !== caller.networkId) throw notFound('device');
  return d;
}

async function view(deps: AdminDeps, caller: Caller, d: Device): Promise<AdminDevice> {
  const network = await deps.store.networks.get(caller.networkId);
  if (!network) throw notFound('network');
  const owner = d.userId ? await deps.store.users.get(d.userId) : null;
  return withRoutes(deviceView(d, network, owner, deps.mesh), await deps.store.routes.get(d.id));
}

/** Routes and exit node as stored (advertised and approved), not as the mesh last saw them. */
function withRoutes(v: AdminDevice, r: DeviceRoutes | undefined): AdminDevice {
  if (!r) return v;
  return {
    ...v,
    routes: { advertised: r.advertised, approved: r.approved },
    exitNode: { advertised: r.exitNode.advertised, approved: r.exitNode.approved },
  };
}

export async function listDevices(
  deps: AdminDeps,
  caller: Caller,
  q: ListQuery,
): Promise<Page<AdminDevice>> {
  const network = await deps.store.networks.get(caller.networkId);
  if (!network) throw notFound('network');
  const [devices, users, routes] = await Promise.all([
    deps.store.devices.list(caller.networkId),
    deps.store.users.list(caller.networkId),
    deps.store.routes.listByNetwork(caller.networkId),
  ]);
  const byId = new Map(users.map((u) => [u.id, u]));
  return pageOf(
    devices,
    (d) => d.name,
    (d) =>
      withRoutes(
        deviceView(d, network, d.userId ? (byId.get(d.userId) ?? null) : null, deps.mesh),
        routes.get(d.id),
      ),
    q,
  );
}

export async function getDevice(deps: AdminDeps, caller: Caller, id: string): Promise<AdminDevice> {
  return view(deps, caller, await findDevice(deps, caller, id));
}

/** One audit entry per changed field, as UpdateDeviceRequest promises. */
function changes(before: Device, after: Device): Array<[action: string, diff: AuditDiff]> {
  const out: Array<[string, AuditDiff]> = [];
  if (before.name !== after.name)
    out.push(['device.renamed', { name: change(before.name, after.name) }]);
  if (before.approved !== after.approved)
    out.push([
      after.approved ? 'device.approved' : 'device.unapproved',
      { approved: change(before.approved, after.approved) },
    ]);
  if (before.keyExpiryDisabled !== after.keyExpiryDisabled)
    out.push([
      after.keyExpiryDisabled ? 'device.key_expiry_disabled' : 'device.key_expiry_enabled',
      { keyExpiryDisabled: change(before.keyExpiryDisabled, after.keyExpiryDisabled) },
    ]);
  if (JSON.stringify(before.tags) !== JSON.stringify(after.tags) || before.userId !== after.userId)
    out.push([
      'device.tags_set',
      { tags: change(before.tags, after.tags), userId: change(before.userId, after.userId) },
    ]);
  return out;
}

async function applyUpdate(
  tx: StoreTx,
  id: string,
  r: UpdateDeviceRequest,
): Promise<{ device: Device; routes: RouteApprovalChange | null }> {
  if (r.name !== undefined) {
    const renamed = await tx.devices.rename(id, r.name);
    if (!renamed.ok) {
      if (renamed.error === 'name_taken')
        throw conflict(`another device is named ${r.name.toLowerCase()}`);
      if (renamed.error === 'invalid_name') throw badRequest('name: expected a DNS label');
      throw notFound('device');
    }
  }
  if (r.approved !== undefined) await tx.devices.setApproved(id, r.approved);
  if (r.keyExpiryDisabled !== undefined)
    await tx.devices.setKeyExpiryDisabled(id, r.keyExpiryDisabled);
  if (r.tags !== undefined) {
    const tagged = await tx.devices.setTags(id, [...new Set(r.tags)].sort());
    if (!tagged.ok) {
      if (tagged.error === 'invalid_owner')
        throw badRequest('tags: a device without a user must keep at least one tag');
      throw notFound('device');
    }
  }
  const routes =
    r.approvedRoutes !== undefined || r.exitNodeApproved !== undefined
      ? await setRouteApproval(tx, id, r)
      : null;
  const after = await tx.devices.get(id);
  if (!after) throw notFound('device');
  return { device: after, routes };
}

/**
 * Applies every present field in one transaction: a refused field (a taken name) leaves the
 * device as it was.
 */
export async function updateDevice(
  deps: AdminDeps,
  caller: Caller,
  id: string,
  r: UpdateDeviceRequest,
): Promise<AdminDevice> {
  const before = await findDevice(deps, caller, id);
  const { device: after, routes } = await deps.store.transaction((tx) => applyUpdate(tx, id, r));
  const target = { type: 'device', id };
  for (const [action, diff] of changes(before, after))
    await auditAs(deps, caller, action, target, diff);
  if (routes) await auditRouteChange(deps, caller, id, routes);
  await deps.mesh.deviceChanged(id);
  // Turning expiry back on for a device whose key date has passed ends its stream now.
  if (before.keyExpiryDisabled && !after.keyExpiryDisabled) await deps.mesh.keysExpired();
  return view(deps, caller, after);
}

/**
 * Expires the device's node key now (and turns expiry back on): its stream ends with
 * reauth-required and it must sign in again, as when a key reaches its expiry date.
 */
export async function expireDevice(
  deps: AdminDeps,
  caller: Caller,
  id: string,
): Promise<AdminDevice> {
  const before = await findDevice(deps, caller, id);
  const at = new Date(deps.now());
  const after = await deps.store.transaction(async (tx) => {
    await tx.devices.setKeyExpiryDisabled(id, false);
    // Audited below as this caller's action: the expiry sweep must not record it again.
    const d = await tx.devices.setKeyExpiry(id, at, { noted: true });
    if (!d) throw notFound('device');
    return d;
  });
  await auditAs(
    deps,
    caller,
    'device.key_expired',
    { type: 'device', id },
    {
      keyExpiry: change(before.keyExpiry?.toISOString() ?? null, at.toISOString()),
      keyExpiryDisabled: change(before.keyExpiryDisabled, false),
    },
  );
  await deps.mesh.deviceChanged(id);
  await deps.mesh.keysExpired();
  return view(deps, caller, after);
}

export async function deleteDevice(deps: AdminDeps, caller: Caller, id: string): Promise<void> {
  const d = await findDevice(deps, caller, id);
  if (!(await deps.store.devices.delete(id))) throw notFound('device');
  deps.mesh.deviceRemoved(id);
  await auditAs(
    deps,
    caller,
    'device.deleted',
    { type: 'device', id },
    {
      name: d.name,
      ipv4: d.ipv4,
      nodeKey: d.nodeKey,
    },
  );
}
