/**
 * The hub's PeerPolicy backed by the policy engine: one PolicyEngine per network, fed every device
 * change, so one change costs what the engine's indexes say it costs (see ../policy/README.md).
 */
import type { Peer, PostureResult } from '../../shared/schema/control/netmap.js';
import {
  defaultPolicy,
  PolicyEngine,
  policyDeviceOf,
  postureQueries,
  reflexiveIp,
  type GeoLookup,
  type Policy,
  type PolicyChange,
  type PolicyUser,
} from '../policy/index.js';
import type { MeshDevice } from './device.js';
import type { PeerPolicy, PolicyDeviceChange, PolicyNetworkChange } from './policy.js';

export class EnginePolicy implements PeerPolicy {
  private readonly engines = new Map<string, { engine: PolicyEngine; policy: Policy }>();

  constructor(private geo: GeoLookup | null = null) {}

  /** The engine of a network, created with the default (allow-all) policy on first use. */
  private of(networkId: string): { engine: PolicyEngine; policy: Policy } {
    let e = this.engines.get(networkId);
    if (!e) {
      const policy = defaultPolicy();
      e = { engine: new PolicyEngine(policy, { geo: this.geo }), policy };
      this.engines.set(networkId, e);
    }
    return e;
  }

  visible(viewer: MeshDevice, target: MeshDevice): boolean {
    return (
      viewer.id !== target.id && this.of(viewer.networkId).engine.visible(viewer.id, target.id)
    );
  }

  peerFor(viewer: MeshDevice, _target: MeshDevice, base: Peer): Peer {
    return this.of(viewer.networkId).engine.peerFor(viewer.id, base);
  }

  packetFilter(device: MeshDevice) {
    return this.of(device.networkId).engine.packetFilter(device.id);
  }

  postureQueries(networkId: string) {
    return postureQueries(this.of(networkId).policy);
  }

  /** Only geolocation reads live state (the STUN-learned address), and only if a check uses it. */
  liveFactsChanged(old: MeshDevice, next: MeshDevice): boolean {
    if (reflexiveIp(old) === reflexiveIp(next)) return false;
    return this.of(next.networkId).policy.postures.some((p) =>
      p.checks.some((c) => c.kind === 'geolocation'),
    );
  }

  deviceChanged(device: MeshDevice): PolicyDeviceChange {
    const { engine } = this.of(device.networkId);
    const known = engine.has(device.id);
    const d = engine.upsertDevice(policyDeviceOf(device, () => policyUserOf(device)));
    return {
      lostBy: d.lostBy,
      filters: d.filters,
      self: known ? d.self : null,
      posture: engine.posture(device.id)?.results ?? [],
    };
  }

  deviceRemoved(device: MeshDevice) {
    const d = this.of(device.networkId).engine.removeDevice(device.id);
    return { lostBy: d?.lostBy ?? [], filters: d?.filters ?? [] };
  }

  /** The policy in force for a network (the default until one is set). */
  policyOf(networkId: string): Policy {
    return this.of(networkId).policy;
  }

  /** A new policy for a network; the hub turns the change into deltas. */
  setPolicy(networkId: string, policy: Policy): PolicyNetworkChange {
    const e = this.of(networkId);
    e.policy = policy;
    return networkChange(e.engine, e.engine.setPolicy(policy));
  }

  /**
   * A new country database (the operator's file changed): geolocation results, and through them
   * views and filters, may change in every network. Returns each network's change for the hub.
   */
  setGeo(geo: GeoLookup | null): Map<string, PolicyNetworkChange> {
    this.geo = geo;
    const out = new Map<string, PolicyNetworkChange>();
    for (const [id, e] of this.engines) out.set(id, networkChange(e.engine, e.engine.setGeo(geo)));
    return out;
  }
}

function networkChange(engine: PolicyEngine, change: PolicyChange): PolicyNetworkChange {
  return {
    views: change.views,
    filters: change.filters,
    postures: change.postures,
    peerChanges: (id) => change.peerChanges(id),
    posture: (id): readonly PostureResult[] => engine.posture(id)?.results ?? [],
  };
}

/** The owner as policy sees it: role and IdP groups travel on the MeshDevice. */
function policyUserOf(d: MeshDevice): PolicyUser | undefined {
  if (d.owner.type !== 'user') return undefined;
  return {
    id: d.owner.user.id,
    email: (d.owner.user.email ?? '').toLowerCase(),
    role: d.ownerRole ?? 'member',
    groups: d.ownerGroups,
  };
}
