/**
 * The names MagicDNS answers itself, built from the netmap: every device's FQDN (this device and
 * its peers) with its A and AAAA records and their reverse (PTR) names, plus the network's extra
 * records. A pure function of the netmap.
 */
import { parseIp } from '../../shared/ip.js';
import type { DnsRecord, Netmap } from '../../shared/schema/control/netmap.js';

export interface DnsZone {
  /**
   * The mesh domain, answered with authority: a name under it that is not a device is
   * NXDOMAIN. Null when MagicDNS is off (only extra records are answered then).
   */
  readonly domain: string | null;
  /** Lower-case names without the trailing dot → their records. */
  readonly records: ReadonlyMap<string, readonly DnsRecord[]>;
  /** Reverse names ("5.0.64.100.in-addr.arpa") → the device's FQDN. */
  readonly ptr: ReadonlyMap<string, string>;
}

/** Lower case, no trailing dot: how names are compared. */
export const normalizeName = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** The in-addr.arpa / ip6.arpa name of an address; null for an invalid one. */
export function reverseName(address: string): string | null {
  const a = parseIp(address);
  if (!a.ok) return null;
  const bytes = a.value.toByteArray();
  if (bytes.length === 4) return `${[...bytes].reverse().join('.')}.in-addr.arpa`;
  const nibbles = bytes.flatMap((b) => [(b >> 4).toString(16), (b & 0xf).toString(16)]);
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

export function buildZone(netmap: Netmap): DnsZone {
  const records = new Map<string, DnsRecord[]>();
  const ptr = new Map<string, string>();
  const add = (r: DnsRecord): void => {
    const name = normalizeName(r.name);
    const list = records.get(name) ?? [];
    if (!list.some((x) => x.type === r.type && x.value === r.value)) list.push({ ...r, name });
    records.set(name, list);
  };
  const { dns } = netmap;
  if (dns.magicDns) {
    for (const d of [netmap.self, ...netmap.peers]) {
      const name = normalizeName(d.fqdn);
      add({ type: 'A', name, value: d.addresses.ipv4 });
      add({ type: 'AAAA', name, value: d.addresses.ipv6 });
      for (const ip of [d.addresses.ipv4, d.addresses.ipv6]) {
        const rev = reverseName(ip);
        if (rev !== null && !ptr.has(rev)) ptr.set(rev, name);
      }
    }
  }
  for (const r of dns.extraRecords) add(r);
  return { domain: dns.magicDns ? normalizeName(dns.domain) : null, records, ptr };
}

/** Whether `name` is `domain` or under it. */
export function inDomain(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}
