/**
 * The hub's MeshDevice → the engine's PolicyDevice. MeshDevice names its owner but not the
 * owner's role or IdP groups, so the caller supplies a user lookup (from the store). The public
 * address for geolocation defaults to the device's STUN-learned (reflexive) endpoint.
 */
import { parseIpPort } from '../../shared/ip.js';
import type { MeshDevice } from '../netmap/device.js';
import type { PolicyDevice } from './compiled.js';
import type { PolicyUser } from './match.js';

export function policyDeviceOf(
  d: MeshDevice,
  userById: (id: string) => PolicyUser | undefined,
  publicIp: string | null = reflexiveIp(d),
): PolicyDevice {
  const owner: PolicyDevice['owner'] =
    d.owner.type === 'tagged'
      ? { type: 'tagged', tags: d.owner.tags }
      : {
          type: 'user',
          user: userById(d.owner.user.id) ?? {
            // Unknown to the lookup: still the same person for autogroup:self, with no extra rights.
            id: d.owner.user.id,
            email: (d.owner.user.email ?? '').toLowerCase(),
            role: 'member',
            groups: [],
          },
        };
  return {
    id: d.id,
    addresses: d.addresses,
    owner,
    approved: d.approved,
    routes: d.routes.approved,
    exitNode: d.isExitNode,
    hostInfo: d.hostInfo,
    publicIp,
  };
}

/** The address a STUN server saw the device at, if it reported one. */
export function reflexiveIp(d: Pick<MeshDevice, 'endpoints'>): string | null {
  for (const e of d.endpoints) {
    if (e.type !== 'stun') continue;
    const r = parseIpPort(e.addr);
    if (r.ok) return r.value.ip;
  }
  return null;
}
