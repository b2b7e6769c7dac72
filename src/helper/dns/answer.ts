/**
 * What MagicDNS does with one query (a pure function of the query bytes and the rules): answer
 * it from the zone, forward it to an upstream, or drop it. Queries come from any local program
 * and, on an exit node, from peers: every byte is untrusted. dns-packet throws on malformed
 * input; that becomes a drop (or FORMERR when the header is readable), never an exception.
 *
 * Order of decision, for a query of class IN:
 *   1. a name in the zone (devices, extra records)       → answer (NODATA for other types)
 *   2. a reverse name of a device address                → PTR
 *   3. under a split-DNS domain (longest match wins)     → forward to its nameservers
 *   4. under the mesh domain                             → NXDOMAIN, authoritatively
 *   5. anything else                                     → the default upstreams, or SERVFAIL
 */
import * as dnsPacket from 'dns-packet';
import type { DnsRecord } from '../../shared/schema/control/netmap.js';
import { inDomain, normalizeName, type DnsZone } from './zone.js';

/**
 * How long resolvers may cache our answers. Device addresses are stable for a device's life,
 * but a renamed or removed device should not linger for long.
 */
export const MAGIC_DNS_TTL_SECONDS = 300;
/** The classic UDP limit; larger only when the client says so with EDNS(0). */
const DEFAULT_UDP_PAYLOAD = 512;
/** What we answer over UDP at most, whatever EDNS asks for (no fragmented answers). */
const MAX_UDP_PAYLOAD = 1232;
/** DNS header: id, flags, four counts. */
const HEADER_BYTES = 12;
/** One character-string of a TXT record (a length byte precedes it). */
const MAX_TXT_STRING_BYTES = 255;
/** A CNAME chain inside the zone is followed this far (a loop in extra records ends here). */
const MAX_CNAME_HOPS = 8;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODE;

export interface Upstream {
  readonly address: string;
  readonly port: number;
}

export interface ResolverRules {
  readonly zone: DnsZone;
  /** Domains (lower case, no trailing dot) → their nameservers. */
  readonly splitDns: ReadonlyMap<string, readonly Upstream[]>;
  /** Where all other names go; empty: SERVFAIL. */
  readonly upstreams: readonly Upstream[];
}

export type QueryDecision =
  | { readonly type: 'answer'; readonly response: Buffer }
  | { readonly type: 'forward'; readonly upstreams: readonly Upstream[]; readonly query: Buffer }
  | { readonly type: 'drop'; readonly reason: string };

/** A response that carries only a code (and the question, when there is one). */
export function errorResponse(query: Buffer, rcode: Rcode): Buffer | null {
  if (query.length < HEADER_BYTES) return null;
  const id = query.readUInt16BE(0);
  const rd = query.readUInt16BE(2) & dnsPacket.RECURSION_DESIRED;
  let questions: dnsPacket.Question[] = [];
  try {
    questions = (dnsPacket.decode(query).questions ?? []).slice(0, 1);
  } catch {
    // Unreadable question: the code alone.
  }
  return dnsPacket.encode({
    type: 'response',
    id,
    flags: rd | dnsPacket.RECURSION_AVAILABLE | RCODE[rcode],
    questions,
  });
}

function udpLimit(packet: dnsPacket.DecodedPacket): number {
  const opt = (packet.additionals ?? []).find((a) => a.type === 'OPT') as
    dnsPacket.OptAnswer | undefined;
  if (!opt) return DEFAULT_UDP_PAYLOAD;
  return Math.min(MAX_UDP_PAYLOAD, Math.max(DEFAULT_UDP_PAYLOAD, opt.udpPayloadSize));
}

function toAnswer(r: DnsRecord): dnsPacket.Answer {
  const base = { name: r.name, ttl: MAGIC_DNS_TTL_SECONDS, class: 'IN' as const };
  switch (r.type) {
    case 'A':
    case 'AAAA':
    case 'CNAME':
      return { ...base, type: r.type, data: r.value };
    case 'TXT': {
      // A TXT record is a list of strings of at most 255 bytes each.
      const bytes = Buffer.from(r.value);
      const parts: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += MAX_TXT_STRING_BYTES)
        parts.push(bytes.subarray(i, i + MAX_TXT_STRING_BYTES));
      return { ...base, type: 'TXT', data: parts.length > 0 ? parts : [Buffer.alloc(0)] };
    }
  }
}

/** Records for a name and type from the zone, following CNAMEs inside it. */
function lookup(zone: DnsZone, name: string, qtype: string): dnsPacket.Answer[] | null {
  const out: dnsPacket.Answer[] = [];
  let current = name;
  for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
    const records = zone.records.get(current);
    if (!records) return hop === 0 ? null : out;
    const exact = records.filter((r) => qtype === 'ANY' || r.type === qtype);
    if (exact.length > 0 || qtype === 'CNAME') {
      out.push(...exact.map(toAnswer));
      return out;
    }
    const cname = records.find((r) => r.type === 'CNAME');
    if (!cname) return out;
    out.push(toAnswer(cname));
    current = normalizeName(cname.value);
  }
  return out;
}

function longestSplit(rules: ResolverRules, name: string): readonly Upstream[] | null {
  let best: string | null = null;
  for (const domain of rules.splitDns.keys()) {
    if (inDomain(name, domain) && (best === null || domain.length > best.length)) best = domain;
  }
  return best === null ? null : (rules.splitDns.get(best) ?? null);
}

export function handleQuery(
  query: Buffer,
  rules: ResolverRules,
  transport: 'udp' | 'tcp',
): QueryDecision {
  if (query.length < HEADER_BYTES) return { type: 'drop', reason: 'shorter than a DNS header' };
  const flags = query.readUInt16BE(2);
  // A response sent to us is never answered (no reflection loops).
  if (flags & 0x8000) return { type: 'drop', reason: 'not a query' };
  const reply = (rcode: Rcode): QueryDecision => {
    const response = errorResponse(query, rcode);
    return response ? { type: 'answer', response } : { type: 'drop', reason: rcode };
  };
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return reply('NOTIMP');
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(query);
  } catch {
    return reply('FORMERR');
  }
  const questions = packet.questions ?? [];
  const q = questions[0];
  if (questions.length !== 1 || !q) return reply('FORMERR');
  if ((q.class ?? 'IN') !== 'IN') return reply('REFUSED');
  const name = normalizeName(q.name);

  const respond = (answers: dnsPacket.Answer[], rcode: Rcode): QueryDecision => {
    const make = (list: dnsPacket.Answer[], truncated: boolean): Buffer =>
      dnsPacket.encode({
        type: 'response',
        id: packet.id ?? 0,
        flags:
          (flags & dnsPacket.RECURSION_DESIRED) |
          dnsPacket.RECURSION_AVAILABLE |
          dnsPacket.AUTHORITATIVE_ANSWER |
          (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) |
          RCODE[rcode],
        questions: [q],
        answers: list,
      });
    let full: Buffer;
    try {
      full = make(answers, false);
    } catch {
      // A record the encoder refuses (netmap content, not the query): fail this name only.
      return reply('SERVFAIL');
    }
    if (transport === 'tcp' || full.length <= udpLimit(packet)) {
      return { type: 'answer', response: full };
    }
    return { type: 'answer', response: make([], true) };
  };

  // dns-packet names every type it knows, ANY (255) included, though its typings omit it.
  const qtype = q.type as string;
  const local = lookup(rules.zone, name, qtype);
  if (local !== null) return respond(local, 'NOERROR');
  if (qtype === 'PTR' || qtype === 'ANY') {
    const target = rules.zone.ptr.get(name);
    if (target !== undefined) {
      return respond(
        [{ name, type: 'PTR', class: 'IN', ttl: MAGIC_DNS_TTL_SECONDS, data: target }],
        'NOERROR',
      );
    }
  }
  const split = longestSplit(rules, name);
  if (split !== null && split.length > 0) return { type: 'forward', upstreams: split, query };
  if (rules.zone.domain !== null && inDomain(name, rules.zone.domain))
    return respond([], 'NXDOMAIN');
  if (rules.upstreams.length > 0) return { type: 'forward', upstreams: rules.upstreams, query };
  return reply('SERVFAIL');
}
