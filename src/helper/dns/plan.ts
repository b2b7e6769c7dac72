/**
 * The DNS side of the desired state (a pure function of netmap, prefs and the exit node in use):
 * what system DNS should point at, and what the MagicDNS resolver should listen on and answer.
 * Both come from here so they always agree.
 *
 * - System DNS is taken over (acceptDNS) when the network has anything for it: MagicDNS names,
 *   nameservers, split DNS, extra records, or an exit node whose resolver should be used. It
 *   points at 100.100.100.100, which the interface carries as a local-only (host scope) address:
 *   the host answers on it but never sends from it, since no peer would accept that source.
 * - Names not ours go to the netmap's nameservers; with none, through the exit node in use (its
 *   resolver on its mesh address, so lookups leave from where the traffic leaves: "DNS
 *   follows"); else to the nameservers the system had before.
 * - An approved exit node that advertises itself also answers its peers on its own mesh IPv4
 *   address, port 53, forwarding with its own upstreams; the filter lets peers reach that port.
 */
import type { Netmap, Peer } from '../../shared/schema/control/netmap.js';
import type { Prefs } from '../../shared/schema/localapi.js';
import type { SystemDnsConfig } from '../os/types.js';
import type { Upstream } from './answer.js';
import { DNS_PORT, MAGIC_DNS_ADDRESS, type ResolverConfig } from './server.js';
import { buildZone, normalizeName } from './zone.js';

export interface DnsPlanInput {
  readonly netmap: Netmap;
  readonly prefs: Pick<Prefs, 'acceptDNS' | 'advertiseExitNode'>;
  /** The exit node this device sends its traffic through, if any. */
  readonly exitNode: Peer | null;
  /** Whether the daemon runs a resolver at all (it cannot with --netns). */
  readonly resolverAvailable: boolean;
}

export interface DnsPlan {
  readonly system: SystemDnsConfig | null;
  readonly resolver: ResolverConfig | null;
  /** Local-only addresses the tunnel interface must carry for the resolver (host prefixes). */
  readonly localAddresses: readonly string[];
  /** This device answers its exit-node users' DNS on its mesh address. */
  readonly servesExitNodeDns: boolean;
}

const NONE: DnsPlan = {
  system: null,
  resolver: null,
  localAddresses: [],
  servesExitNodeDns: false,
};

const upstreamsOf = (servers: readonly string[]): Upstream[] =>
  servers.map((address) => ({ address, port: DNS_PORT }));

export function planDns(input: DnsPlanInput): DnsPlan {
  if (!input.resolverAvailable) return NONE;
  const { netmap, prefs, exitNode } = input;
  const { dns } = netmap;
  const split = Object.entries(dns.splitDns);
  const viaExitNode = exitNode !== null && dns.nameservers.length === 0;
  const takeOver =
    prefs.acceptDNS &&
    (dns.magicDns ||
      dns.nameservers.length > 0 ||
      split.length > 0 ||
      dns.extraRecords.length > 0 ||
      viaExitNode);
  const servesExitNodeDns = prefs.advertiseExitNode && netmap.self.isExitNode;
  const listen = [
    ...(takeOver ? [MAGIC_DNS_ADDRESS] : []),
    ...(servesExitNodeDns ? [netmap.self.addresses.ipv4] : []),
  ];
  if (listen.length === 0) return NONE;

  const domain = normalizeName(dns.domain);
  const resolver: ResolverConfig = {
    listen,
    port: DNS_PORT,
    zone: buildZone(netmap),
    splitDns: new Map(split.map(([d, servers]) => [normalizeName(d), upstreamsOf(servers)])),
    upstreams:
      dns.nameservers.length > 0
        ? upstreamsOf(dns.nameservers)
        : viaExitNode
          ? upstreamsOf([exitNode.addresses.ipv4])
          : 'system',
  };
  const system: SystemDnsConfig | null = takeOver
    ? {
        nameservers: [MAGIC_DNS_ADDRESS],
        searchDomains: [
          ...new Set([...(dns.magicDns ? [domain] : []), ...dns.searchDomains.map(normalizeName)]),
        ],
        matchDomains: [
          ...new Set([
            ...(dns.magicDns ? [domain] : []),
            ...split.map(([d]) => normalizeName(d)),
            ...dns.extraRecords.map((r) => normalizeName(r.name)),
          ]),
        ],
        defaultRoute: dns.nameservers.length > 0 || viaExitNode,
      }
    : null;
  return {
    system,
    resolver,
    localAddresses: takeOver ? [`${MAGIC_DNS_ADDRESS}/32`] : [],
    servesExitNodeDns,
  };
}
