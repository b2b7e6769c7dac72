/**
 * The netmap: everything one device needs to build its tunnels, as control computes it for that
 * device. Sent whole once per map stream, then as deltas (map-stream.ts, netmap-patch.ts).
 */
import * as z from 'zod';
import {
  Cidr,
  Cidrs,
  DeviceAddresses,
  DeviceId,
  DeviceName,
  DiscoPublicKey,
  DisplayName,
  Email,
  Fqdn,
  HostOrIp,
  IpAddr,
  Ipv4Addr,
  Ipv6Addr,
  IpPortText,
  MAX_ENDPOINTS,
  MAX_PATH_LENGTH,
  MAX_POSTURE_RESULTS,
  MAX_RELAY_REGIONS,
  MAX_ROUTES,
  NetworkDomain,
  Message,
  NodePublicKey,
  OsKind,
  Port,
  RegionId,
  SecretToken,
  Slug,
  Tags,
  Timestamp,
  UserId,
  WsUrl,
  boundedRecord,
} from '../common.js';
import { MAX_REPORTED_PROCESSES } from './hostinfo.js';
import { NetworkSummary } from './auth.js';

/**
 * Peers in one netmap. Headscale struggles near 500 devices and Tailscale's largest networks
 * reach tens of thousands; 20,000 peers at roughly 700 bytes each is ~14 MB, which still fits
 * MAX_CONTROL_MESSAGE_BYTES.
 */
export const MAX_PEERS = 20_000;
/** Compiled filter rules for one destination device. */
export const MAX_FILTER_RULES = 4096;
/** Sources of one rule: a group rule compiles to every member device's two addresses and routes. */
export const MAX_FILTER_SOURCES = 2 * MAX_PEERS + MAX_ROUTES;
/** Destinations of one rule (address × port ranges). */
export const MAX_FILTER_DESTINATIONS = 1024;
/** Nameservers per list (resolv.conf honours 3; DoH-era configs list a few more). */
export const MAX_NAMESERVERS = 16;
/** Split-DNS domains, search domains and extra records. */
export const MAX_SPLIT_DNS_DOMAINS = 256;
export const MAX_SEARCH_DOMAINS = 32;
export const MAX_EXTRA_RECORDS = 4096;
/** Relay servers inside one region (a region is a handful of replicas). */
export const MAX_RELAYS_PER_REGION = 16;

// ---------------------------------------------------------------------------------------------

/** Who owns a device: a user, or (for servers registered with tagged keys) a set of tags. */
export const DeviceOwner = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('user'),
    user: z.object({ id: UserId, displayName: DisplayName, email: Email.nullable() }),
  }),
  z.object({ type: z.literal('tagged'), tags: Tags.min(1) }),
]);
export type DeviceOwner = z.infer<typeof DeviceOwner>;

/** One posture check's verdict for this device, with the reason when it fails. */
export const PostureResult = z.object({
  /** The check's name in policy ("min-version", "corp-lan"). */
  check: z.string().min(1).max(128),
  /** The check's kind ("min-client-version", "min-os-version", "geolocation", "local-network", "process"). */
  kind: Slug,
  passed: z.boolean(),
  /** What failed and what to do, shown to the user; null when passed. */
  reason: Message.nullable(),
});
export type PostureResult = z.infer<typeof PostureResult>;
export const PostureResults = z.array(PostureResult).max(MAX_POSTURE_RESULTS);

/** What control asks the device to report for posture (only these, for privacy). */
export const PostureQueries = z.object({
  processPaths: z.array(z.string().min(1).max(MAX_PATH_LENGTH)).max(MAX_REPORTED_PROCESSES),
});
export type PostureQueries = z.infer<typeof PostureQueries>;

/** An endpoint candidate: where a device might be reached over UDP, and how it was learned. */
export const Endpoint = z.object({
  addr: IpPortText,
  type: z.enum(['local', 'stun', 'portmap']),
});
export type Endpoint = z.infer<typeof Endpoint>;
export const Endpoints = z.array(Endpoint).max(MAX_ENDPOINTS);

export const RouteState = z.object({ advertised: Cidrs, approved: Cidrs });
export type RouteState = z.infer<typeof RouteState>;

export const SelfNode = z.object({
  id: DeviceId,
  name: DeviceName,
  fqdn: Fqdn,
  nodeKey: NodePublicKey,
  addresses: DeviceAddresses,
  keyExpiry: Timestamp.nullable(),
  approved: z.boolean(),
  owner: DeviceOwner,
  posture: PostureResults,
  routes: RouteState,
  /** Advertises an exit node and an admin or autoApprover approved it. */
  isExitNode: z.boolean(),
  ephemeral: z.boolean(),
});
export type SelfNode = z.infer<typeof SelfNode>;

export const Peer = z.object({
  id: DeviceId,
  name: DeviceName,
  fqdn: Fqdn,
  nodeKey: NodePublicKey,
  /** Null until the peer's helper has connected since it last started (disco keys are per start). */
  discoKey: DiscoPublicKey.nullable(),
  addresses: DeviceAddresses,
  /** What WireGuard accepts from this peer: its addresses as /32 and /128, plus routes it is primary for. */
  allowedIPs: z.array(Cidr).max(MAX_ROUTES + 2),
  endpoints: Endpoints,
  homeRelayRegion: RegionId.nullable(),
  online: z.boolean(),
  lastSeen: Timestamp.nullable(),
  os: OsKind,
  owner: DeviceOwner,
  /** The peer is an approved exit node this device may use. */
  exitNodeOffered: z.boolean(),
  /** Approved subnet routes the peer offers. */
  routesOffered: Cidrs,
  /** Of routesOffered, those this peer currently serves (failover picks one router per prefix). */
  primaryRoutes: Cidrs.optional(),
  keyExpiry: Timestamp.nullable(),
  created: Timestamp,
});
export type Peer = z.infer<typeof Peer>;

/** A peer change: `id` plus the fields that changed, each replacing the old value. */
export const PeerPatch = Peer.partial().required({ id: true });
export type PeerPatch = z.infer<typeof PeerPatch>;

// ---------------------------------------------------------------------------------------------
// Packet filter: the compiled policy where this device is the destination.

export const PortRange = z
  .object({ first: z.number().int().min(0).max(65535), last: z.number().int().min(0).max(65535) })
  .refine((r) => r.first <= r.last, 'port range first must not exceed last');
export type PortRange = z.infer<typeof PortRange>;

export const FilterProto = z.enum(['tcp', 'udp', 'icmp', 'any']);
export type FilterProto = z.infer<typeof FilterProto>;

export const FilterRule = z.object({
  srcs: z.array(Cidr).max(MAX_FILTER_SOURCES),
  dsts: z.array(z.object({ cidr: Cidr, ports: PortRange })).max(MAX_FILTER_DESTINATIONS),
  /** "icmp" covers ICMPv6 too; "any" covers every protocol. */
  protos: z.array(FilterProto).min(1).max(4),
});
export type FilterRule = z.infer<typeof FilterRule>;

/** Allow rules; anything not allowed is dropped. An empty filter blocks all inbound traffic. */
export const PacketFilter = z.array(FilterRule).max(MAX_FILTER_RULES);
export type PacketFilter = z.infer<typeof PacketFilter>;

// ---------------------------------------------------------------------------------------------
// DNS.

export const DnsRecord = z.discriminatedUnion('type', [
  z.object({ type: z.literal('A'), name: Fqdn, value: Ipv4Addr }),
  z.object({ type: z.literal('AAAA'), name: Fqdn, value: Ipv6Addr }),
  z.object({ type: z.literal('CNAME'), name: Fqdn, value: Fqdn }),
  z.object({ type: z.literal('TXT'), name: Fqdn, value: z.string().max(1024) }),
]);
export type DnsRecord = z.infer<typeof DnsRecord>;

const Nameservers = z.array(IpAddr).max(MAX_NAMESERVERS);

export const DnsConfig = z.object({
  /** Answer `<device>.<domain>` names from the netmap. */
  magicDns: z.boolean(),
  domain: NetworkDomain,
  /** Resolvers for everything else; empty keeps the system's own. */
  nameservers: Nameservers,
  /** Per-domain resolvers: `{ "corp.example.com": ["10.0.0.53"] }`. */
  splitDns: boundedRecord(Fqdn, Nameservers, MAX_SPLIT_DNS_DOMAINS),
  searchDomains: z.array(Fqdn).max(MAX_SEARCH_DOMAINS),
  extraRecords: z.array(DnsRecord).max(MAX_EXTRA_RECORDS),
});
export type DnsConfig = z.infer<typeof DnsConfig>;

// ---------------------------------------------------------------------------------------------
// Relays.

export const RelayNode = z.object({
  /** The relay's WebSocket URL (wss in production; ws in the lab). */
  url: WsUrl,
  stunHost: HostOrIp,
  stunPort: Port,
});
export type RelayNode = z.infer<typeof RelayNode>;

export const RelayRegion = z.object({
  id: RegionId,
  /** Short code shown in status ("fra", "nyc"). */
  code: z.string().regex(/^[a-z0-9-]{1,16}$/, 'expected a short region code'),
  name: DisplayName,
  relays: z.array(RelayNode).min(1).max(MAX_RELAYS_PER_REGION),
});
export type RelayRegion = z.infer<typeof RelayRegion>;

export const RelayMap = z.object({ regions: z.array(RelayRegion).max(MAX_RELAY_REGIONS) });
export type RelayMap = z.infer<typeof RelayMap>;

/** A short-lived JWT that relays accept, so they can run stateless on other hosts. */
export const RelayToken = z.object({ token: SecretToken, expiresAt: Timestamp });
export type RelayToken = z.infer<typeof RelayToken>;

// ---------------------------------------------------------------------------------------------

const uniqueIds = (peers: readonly { id: string }[]): boolean =>
  new Set(peers.map((p) => p.id)).size === peers.length;

export const Netmap = z.object({
  network: NetworkSummary,
  self: SelfNode,
  peers: z.array(Peer).max(MAX_PEERS).refine(uniqueIds, 'peer ids must be unique'),
  packetFilter: PacketFilter,
  dns: DnsConfig,
  relayMap: RelayMap,
  /** Null while the device may not use relays (e.g. not yet approved). */
  relayToken: RelayToken.nullable(),
  postureQueries: PostureQueries,
  collectedAt: Timestamp,
});
export type Netmap = z.infer<typeof Netmap>;

/**
 * A change to a netmap. Present fields apply in this order: peersRemoved, peersAdded (replacing a
 * peer with the same id), peersPatched; every other present field replaces the old value.
 */
export const NetmapPatch = z.object({
  peersAdded: z.array(Peer).max(MAX_PEERS).optional(),
  peersRemoved: z.array(DeviceId).max(MAX_PEERS).optional(),
  peersPatched: z.array(PeerPatch).max(MAX_PEERS).optional(),
  self: SelfNode.optional(),
  network: NetworkSummary.optional(),
  dns: DnsConfig.optional(),
  packetFilter: PacketFilter.optional(),
  relayMap: RelayMap.optional(),
  relayToken: RelayToken.nullable().optional(),
  postureQueries: PostureQueries.optional(),
});
export type NetmapPatch = z.infer<typeof NetmapPatch>;
