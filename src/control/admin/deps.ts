/**
 * What the admin operations run against. The HTTP routes and the CLI's direct-database mode hand
 * the same operations different deps: a live server's mesh effects update the netmap hub at once;
 * the CLI has no hub, so its changes reach live netmaps only when the server re-reads the store.
 */
import type { Store } from '../store/index.js';
import type { Actor, AppendAuditInput, AuditDiff } from '../store/audit.js';
import type { Network } from '../store/networks.js';
import type { NetmapHub } from '../netmap/hub.js';
import { hubNetwork, refreshDevice } from '../mesh.js';

/** How the admin operations reach the live mesh (a narrow view of the netmap hub). */
export interface MeshEffects {
  /** Re-read the device from the store and push the change to live netmaps. */
  deviceChanged(id: string): Promise<void>;
  /** The device is gone: close its stream (reauth-required) and drop it from peers' maps. */
  deviceRemoved(id: string): void;
  /** Network settings changed (DNS): devices get the new DNS config. */
  networkChanged(network: Network): void;
  /** Key expiries moved into the past: close those devices' streams now, not at the next sweep. */
  keysExpired(): Promise<void>;
  /** Live presence when known: null when this process cannot see the map streams. */
  presence(id: string): { online: boolean; lastSeen: string | null } | null;
}

export function liveMesh(store: Store, hub: NetmapHub): MeshEffects {
  return {
    deviceChanged: (id) => refreshDevice(store, hub, id),
    deviceRemoved: (id) => hub.removeDevice(id, 'device-deleted'),
    networkChanged: (n) => hub.setNetwork(n.id, hubNetwork(n)),
    keysExpired: () => hub.sweep(),
    presence: (id) => {
      const d = hub.getDevice(id);
      return d ? { online: hub.isOnline(id), lastSeen: d.lastSeen } : null;
    },
  };
}

/** No live mesh in this process (the CLI on the database): changes land in the store only. */
export const storeOnlyMesh: MeshEffects = {
  deviceChanged: async () => undefined,
  deviceRemoved: () => undefined,
  networkChanged: () => undefined,
  keysExpired: async () => undefined,
  presence: () => null,
};

export interface AdminDeps {
  readonly store: Store;
  readonly now: () => number;
  readonly mesh: MeshEffects;
  /** Appends to the audit log; never throws (a failed append is logged by the caller's sink). */
  audit(entry: AppendAuditInput): Promise<void>;
  /** Name shown as the provider of OIDC users ("local" users sign in with a password). */
  readonly oidcProviderName: string | null;
}

/**
 * Who asks. `power` decides what may change owners: only an owner (or the server's own CLI)
 * may grant the owner role or change an owner's account.
 */
export interface Caller {
  readonly networkId: string;
  readonly actor: Actor;
  readonly power: 'owner' | 'admin';
  /** The user behind the request: the session's user, or the API key's creator. */
  readonly userId: string | null;
  /** The user session making the request, if any (marked `current` in session lists). */
  readonly sessionId: string | null;
  /** Recorded in every audit diff, e.g. "cli" for the server's CLI. */
  readonly via?: string;
}

/** Appends one audit entry for a change made by `caller`. */
export function auditAs(
  deps: AdminDeps,
  caller: Caller,
  action: string,
  target: { type: string; id: string },
  diff: AuditDiff = {},
): Promise<void> {
  return deps.audit({
    networkId: caller.networkId,
    actor: caller.actor,
    action,
    target,
    diff: caller.via ? { ...diff, via: caller.via } : diff,
  });
}

/** `{ from, to }`: the audit log's shape of one changed field. */
export const change = <T extends string | number | boolean | null | string[]>(
  from: T,
  to: T,
): AuditDiff[string] => ({ from, to });
