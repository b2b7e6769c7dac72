/** Builders for policy tests: users, devices and host info with sensible defaults. */
import type { HostInfo } from '../../shared/schema/control/hostinfo.js';
import type { PolicyDevice } from './compiled.js';
import { parsePolicy, type ParseOptions, type Policy } from './document.js';
import { formatPolicyError } from './errors.js';
import type { PolicyRole, PolicyUser } from './match.js';

export function mustParse(text: string, opts?: ParseOptions): Policy {
  const r = parsePolicy(text, opts);
  if (!r.ok)
    throw new Error(`policy does not parse:\n${r.error.map(formatPolicyError).join('\n')}`);
  return r.value;
}

export const user = (
  name: string,
  over: { role?: PolicyRole; groups?: string[]; domain?: string } = {},
): PolicyUser => ({
  id: `u-${name}`,
  email: `${name}@${over.domain ?? 'x.com'}`,
  role: over.role ?? 'member',
  groups: over.groups ?? [],
});

export const hostInfo = (over: Partial<HostInfo> = {}): HostInfo => ({
  hostname: 'host',
  os: 'linux',
  osVersion: '12',
  kernelVersion: '6.1.0-18-amd64',
  clientVersion: '1.4.0',
  posture: { runningProcesses: [], localNetworks: [] },
  advertisedRoutes: [],
  advertiseExitNode: false,
  ...over,
});

/** Device n gets 100.64.x.y and fd7a:115c:a1e0::n. */
export function device(
  n: number,
  owner: PolicyUser | { tags: string[] },
  over: Partial<Omit<PolicyDevice, 'owner'>> = {},
): PolicyDevice {
  return {
    id: `d${n}`,
    addresses: {
      ipv4: `100.64.${(n >> 8) & 255}.${n & 255}`,
      ipv6: `fd7a:115c:a1e0::${n.toString(16)}`,
    },
    owner: 'tags' in owner ? { type: 'tagged', tags: owner.tags } : { type: 'user', user: owner },
    approved: true,
    routes: [],
    exitNode: false,
    hostInfo: hostInfo(),
    publicIp: null,
    ...over,
  };
}

export const v4 = (n: number): string => `100.64.${(n >> 8) & 255}.${n & 255}`;
export const v6 = (n: number): string => `fd7a:115c:a1e0::${n.toString(16)}`;
