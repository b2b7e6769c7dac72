/**
 * The bridge between stored devices and the netmap hub: converts rows to MeshDevice, loads every
 * network into the hub at start, and writes device updates through to the store.
 */
import { OsKind } from '../shared/schema/common.js';
import { HostInfo } from '../shared/schema/control/hostinfo.js';
import type { DnsConfig, Endpoint } from '../shared/schema/control/netmap.js';
import type { MapUpdate } from '../shared/schema/control/map-stream.js';
import type { HubNetwork, NetmapHub } from './netmap/hub.js';
import type { MeshDevice } from './netmap/device.js';
import type { Device } from './store/devices.js';
import type { DeviceRoutes } from './store/routes.js';
import type { Policy } from './policy/index.js';
import { autoApproveRoutes } from './admin/routes.js';
import type { Network } from './store/networks.js';
import type { Store } from './store/index.js';
import type { User } from './store/users.js';

/** Endpoints are stored as "type/ip:port" so a restart keeps how each was learned. */
export const encodeEndpoint = (e: Endpoint): string => `${e.type}/${e.addr}`;
export function decodeEndpoint(s: string): Endpoint | null {
  const i = s.indexOf('/');
  const type = s.slice(0, i);
  if (type !== 'local' && type !== 'stun' && type !== 'portmap') return null;
  return { type, addr: s.slice(i + 1) };
}

export function hubNetwork(n: Network): HubNetwork {
  const dns: DnsConfig = {
    magicDns: n.settings.dns.magicDns,
    domain: n.domain,
    nameservers: n.settings.dns.nameservers,
    splitDns: n.settings.dns.splitDns,
    searchDomains: n.settings.dns.searchDomains,
    extraRecords: n.settings.dns.extraRecords,
  };
  return { summary: { id: n.id, name: n.name, domain: n.domain }, dns };
}

export function toMeshDevice(
  d: Device,
  network: Network,
  owner: User | null | undefined,
  routes?: DeviceRoutes,
): MeshDevice {
  const os = OsKind.safeParse(d.os);
  const hostInfo = HostInfo.safeParse(d.hostInfo);
  return {
    id: d.id,
    networkId: d.networkId,
    name: d.name,
    fqdn: `${d.name}.${network.domain}`,
    nodeKey: d.nodeKey,
    discoKey: d.discoKey,
    addresses: { ipv4: d.ipv4, ipv6: d.ipv6 },
    owner:
      d.userId === null || !owner
        ? { type: 'tagged', tags: d.tags.length ? d.tags : ['tag:untagged'] }
        : {
            type: 'user',
            user: { id: owner.id, displayName: owner.displayName, email: owner.email },
          },
    ownerRole: d.userId !== null && owner ? owner.role : null,
    ownerGroups: d.userId !== null && owner ? owner.groups : [],
    os: os.success ? os.data : 'other',
    hostInfo: hostInfo.success ? hostInfo.data : null,
    keyExpiry: d.keyExpiryDisabled || !d.keyExpiry ? null : d.keyExpiry.toISOString(),
    // A disabled owner's devices neither see nor are seen by anyone.
    approved: d.approved && !(owner?.disabled ?? false),
    ephemeral: d.ephemeral,
    created: d.createdAt.toISOString(),
    endpoints: d.endpoints.map(decodeEndpoint).filter((e): e is Endpoint => e !== null),
    homeRelayRegion: d.homeRelayRegion,
    online: false,
    lastSeen: d.lastSeenAt ? d.lastSeenAt.toISOString() : null,
    // Routes that are advertised and approved reach peers' allowed IPs; the exit node likewise.
    routes: {
      advertised: routes?.advertised ?? d.advertisedRoutes,
      approved: routes?.enabled ?? [],
    },
    isExitNode: routes?.exitNode.enabled ?? false,
    posture: [],
  };
}

/** Loads every network and device into the hub. O(devices); runs once at start. */
export async function loadHub(store: Store, hub: NetmapHub): Promise<void> {
  for (const n of await store.networks.list()) {
    hub.setNetwork(n.id, hubNetwork(n));
    const users = new Map((await store.users.list(n.id)).map((u) => [u.id, u]));
    const routes = await store.routes.listByNetwork(n.id);
    for (const d of await store.devices.list(n.id)) {
      hub.upsertDevice(toMeshDevice(d, n, d.userId ? users.get(d.userId) : null, routes.get(d.id)));
    }
  }
}

/**
 * Records what a device advertises (subnet routes, exit node) and lets the policy's autoApprovers
 * approve what they cover. Approval by an admin happens through the admin API.
 */
export async function advertise(
  store: Store,
  deviceId: string,
  h: Pick<HostInfo, 'advertisedRoutes' | 'advertiseExitNode'>,
  policyOf: (networkId: string) => Policy,
): Promise<void> {
  const d = await store.devices.get(deviceId);
  if (!d) return;
  await store.routes.setAdvertised(deviceId, {
    routes: h.advertisedRoutes,
    exitNode: h.advertiseExitNode,
  });
  await autoApproveRoutes(store, d.networkId, deviceId, policyOf(d.networkId));
}

/** Re-reads one device (after an admin change or registration) and hands it to the hub. */
export async function refreshDevice(store: Store, hub: NetmapHub, deviceId: string): Promise<void> {
  const d = await store.devices.get(deviceId);
  if (!d) {
    hub.removeDevice(deviceId);
    return;
  }
  const n = await store.networks.get(d.networkId);
  if (!n) return;
  const owner = d.userId ? await store.users.get(d.userId) : null;
  hub.upsertDevice(toMeshDevice(d, n, owner, await store.routes.get(d.id)));
}

/**
 * Applies a map-stream update: live fields go to the hub at once (peers see new endpoints within
 * one event-loop turn); the store write follows asynchronously so a slow disk never delays them.
 */
export function applyUpdate(
  store: Store,
  hub: NetmapHub,
  deviceId: string,
  u: MapUpdate,
  policyOf: (networkId: string) => Policy,
  onError: (e: unknown) => void,
): void {
  const live: { endpoints?: Endpoint[]; homeRelayRegion?: number | null } = {};
  if (u.endpoints) live.endpoints = u.endpoints;
  if (u.preferredRelayRegion !== undefined) live.homeRelayRegion = u.preferredRelayRegion;
  if (Object.keys(live).length) hub.patchLive(deviceId, live);

  const writes: Promise<unknown>[] = [];
  if (u.endpoints)
    writes.push(store.devices.updateEndpoints(deviceId, u.endpoints.map(encodeEndpoint)));
  if (u.preferredRelayRegion !== undefined || u.relayLatencies) {
    const homeRelayRegion =
      u.preferredRelayRegion !== undefined
        ? u.preferredRelayRegion
        : (hub.getDevice(deviceId)?.homeRelayRegion ?? null);
    writes.push(
      store.devices.updateRelay(deviceId, {
        homeRelayRegion,
        relayLatencies: u.relayLatencies ?? {},
      }),
    );
  }
  if (u.hostInfo) {
    const h = u.hostInfo;
    writes.push(
      store.devices
        .updateHostInfo(deviceId, {
          hostname: h.hostname,
          os: h.os,
          osVersion: h.osVersion,
          clientVersion: h.clientVersion,
          hostInfo: JSON.parse(JSON.stringify(h)) as Record<string, never>,
        })
        .then(() => store.devices.setAdvertisedRoutes(deviceId, h.advertisedRoutes))
        .then(() => advertise(store, deviceId, h, policyOf))
        .then(() => refreshDevice(store, hub, deviceId)),
    );
  }
  Promise.all(writes).catch(onError);
}
