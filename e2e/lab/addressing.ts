/**
 * The lab's address plan. Public addresses come only from the RFC 5737 documentation ranges and
 * private ones from RFC 1918; all of them exist only inside the lab's namespaces.
 *
 *   198.51.100.0/24  "services" segment: hosts on the internet (control plane, STUN, relays)
 *   203.0.113.0/24   "wan" segment: site routers' WAN addresses (services may sit here too, so two
 *                    STUN servers can be in different networks)
 *   192.0.2.0/24     routed public LANs of 'none' sites, one /28 each
 *   10.<n>.0.0/24    the LAN of NATed site n
 *   172.16.<n>.0/24  the carrier link between the two routers of double-NAT site n
 *
 * The internet namespace owns .1 of both segments (each a Linux bridge) and routes between them.
 */
import ipaddr from 'ipaddr.js';

export interface Segment {
  /** The bridge in the internet namespace that this segment's hosts plug into. */
  readonly bridge: string;
  readonly network: string;
  readonly prefixLength: number;
  /** The internet namespace's address on the segment: everyone's default gateway. */
  readonly gateway: string;
}

export const SERVICES_SEGMENT: Segment = {
  bridge: 'ix-svc',
  network: '198.51.100.0',
  prefixLength: 24,
  gateway: '198.51.100.1',
};

export const WAN_SEGMENT: Segment = {
  bridge: 'ix-wan',
  network: '203.0.113.0',
  prefixLength: 24,
  gateway: '203.0.113.1',
};

/**
 * WAN addresses of sites whose router does port mapping. miniupnpd refuses to map on an external
 * address in a documentation or private range (it would be "behind another NAT"), which rules out
 * the two segments above; this /24 is ordinary unicast space. It exists only inside the lab's
 * namespaces, which have no link to the host's network, so no packet to it ever leaves the lab.
 */
export const PORTMAP_WAN_SEGMENT: Segment = {
  bridge: 'ix-pm',
  network: '192.0.3.0',
  prefixLength: 24,
  gateway: '192.0.3.1',
};

export const SEGMENTS: readonly Segment[] = [SERVICES_SEGMENT, WAN_SEGMENT, PORTMAP_WAN_SEGMENT];

/** Automatic service addresses start here, leaving .2–.9 free for hand-picked ones. */
const FIRST_AUTO_SERVICE_HOST = 10;
/** Site WAN addresses start here, so the low part of 203.0.113.0/24 stays free for services. */
const FIRST_WAN_HOST = 100;
const LAST_HOST = 254;

const PUBLIC_LAN_POOL = { network: '192.0.2.0', prefixLength: 24 };
/** A /28 per 'none' site: 13 devices after the network, router and broadcast addresses. */
const PUBLIC_LAN_PREFIX = 28;
const PUBLIC_LAN_SIZE = 2 ** (32 - PUBLIC_LAN_PREFIX);
/** NATed sites are numbered into 10.<n>.0.0/24 and 172.16.<n>.0/24. */
const MAX_SITES = 250;
/** Devices take .10 onwards in a NATed LAN, leaving room below for routers added later. */
const FIRST_DEVICE_HOST = 10;

export const cidr = (network: string, prefixLength: number): string => `${network}/${prefixLength}`;

function toNumber(address: string): number {
  return ipaddr.IPv4.parse(address)
    .toByteArray()
    .reduce((n, b) => n * 256 + b, 0);
}

function fromNumber(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** The address `offset` hosts into a network. */
export function hostIn(network: string, offset: number): string {
  return fromNumber(toNumber(network) + offset);
}

export function inNetwork(address: string, network: string, prefixLength: number): boolean {
  if (!ipaddr.IPv4.isValidFourPartDecimal(address)) return false;
  return ipaddr.IPv4.parse(address).match(ipaddr.IPv4.parse(network), prefixLength);
}

/** The segment an internet address belongs to, if any. */
export function segmentOf(address: string): Segment | undefined {
  return SEGMENTS.find((s) => inNetwork(address, s.network, s.prefixLength));
}

/** A site's LAN and how devices in it are addressed. */
export interface LanPlan {
  readonly network: string;
  readonly prefixLength: number;
  /** The router's LAN address, the devices' default gateway. */
  readonly gateway: string;
  /** The i-th device's address (i from 0). */
  deviceAddress(i: number): string;
  readonly maxDevices: number;
}

/** Hands out every address the lab uses and refuses duplicates. */
export class AddressPlan {
  private readonly usedPublic = new Set<string>();
  private sites = 0;
  private publicLans = 0;

  constructor() {
    for (const s of SEGMENTS) this.usedPublic.add(s.gateway);
  }

  /** A service's address: the requested one (checked) or the next free one on the services segment. */
  serviceAddress(requested?: string): { address: string; segment: Segment } {
    if (requested !== undefined) {
      const segment = segmentOf(requested);
      if (!segment) {
        throw new Error(
          `service address ${requested} is not in ${SEGMENTS.map((s) => cidr(s.network, s.prefixLength)).join(' or ')}`,
        );
      }
      const host = toNumber(requested) - toNumber(segment.network);
      if (host < 2 || host > LAST_HOST) {
        throw new Error(`service address ${requested} is reserved in its segment`);
      }
      this.claim(requested);
      return { address: requested, segment };
    }
    return {
      address: this.nextFree(SERVICES_SEGMENT, FIRST_AUTO_SERVICE_HOST),
      segment: SERVICES_SEGMENT,
    };
  }

  /** The next site number n (for 10.n.0.0/24 and 172.16.n.0/24). */
  nextSiteIndex(): number {
    if (this.sites >= MAX_SITES) throw new Error(`the lab holds at most ${MAX_SITES} sites`);
    return ++this.sites;
  }

  /** A router WAN address on the wan segment (or another, for port-mapping routers). */
  wanAddress(segment: Segment = WAN_SEGMENT): string {
    return this.nextFree(segment, FIRST_WAN_HOST);
  }

  /** The private LAN of NATed site n. */
  natLan(site: number): LanPlan {
    const network = `10.${site}.0.0`;
    return {
      network,
      prefixLength: 24,
      gateway: hostIn(network, 1),
      deviceAddress: (i) => hostIn(network, FIRST_DEVICE_HOST + i),
      maxDevices: LAST_HOST - FIRST_DEVICE_HOST + 1,
    };
  }

  /** The carrier link of double-NAT site n: .1 is the outer router, .2 the inner one. */
  carrierLink(site: number): {
    network: string;
    prefixLength: number;
    outer: string;
    inner: string;
  } {
    const network = `172.16.${site}.0`;
    return { network, prefixLength: 24, outer: hostIn(network, 1), inner: hostIn(network, 2) };
  }

  /** A routed public /28 out of 192.0.2.0/24 for a 'none' site. */
  publicLan(): LanPlan {
    const count = 2 ** (32 - PUBLIC_LAN_POOL.prefixLength) / PUBLIC_LAN_SIZE;
    if (this.publicLans >= count) throw new Error(`the lab holds at most ${count} 'none' sites`);
    const network = hostIn(PUBLIC_LAN_POOL.network, PUBLIC_LAN_SIZE * this.publicLans++);
    return {
      network,
      prefixLength: PUBLIC_LAN_PREFIX,
      gateway: hostIn(network, 1),
      deviceAddress: (i) => hostIn(network, 2 + i),
      // Minus network, gateway and broadcast.
      maxDevices: PUBLIC_LAN_SIZE - 3,
    };
  }

  private claim(address: string): void {
    if (this.usedPublic.has(address)) throw new Error(`address ${address} is already in use`);
    this.usedPublic.add(address);
  }

  private nextFree(segment: Segment, from: number): string {
    for (let host = from; host <= LAST_HOST; host++) {
      const address = hostIn(segment.network, host);
      if (!this.usedPublic.has(address)) {
        this.usedPublic.add(address);
        return address;
      }
    }
    throw new Error(`no free address left in ${cidr(segment.network, segment.prefixLength)}`);
  }
}
