/**
 * The DNS settings' structured fields as editable text, one entry per line:
 *   split DNS      `corp.example.com: 10.0.0.53, 10.0.0.54`
 *   extra records  `nas.corp.example.com A 192.168.1.10` (A, AAAA, CNAME, TXT; a TXT value is
 *                  the rest of the line)
 * Parsing checks the shape only; control validates names and addresses and says what is wrong.
 */
import type { DnsSettings } from '../../shared/schema/control/admin.js';
import { err, ok, type Result } from '../../shared/result.js';
import { splitList } from './format.js';

type SplitDns = DnsSettings['splitDns'];
type DnsRecord = DnsSettings['extraRecords'][number];

const lines = (text: string) =>
  text
    .split('\n')
    .map((l, i) => ({ n: i + 1, l: l.trim() }))
    .filter((x) => x.l.length > 0 && !x.l.startsWith('#'));

export function formatSplitDns(s: SplitDns): string {
  return Object.entries(s)
    .map(([domain, ns]) => `${domain}: ${ns.join(', ')}`)
    .join('\n');
}

export function parseSplitDns(text: string): Result<SplitDns, string> {
  const out: Record<string, string[]> = {};
  for (const { n, l } of lines(text)) {
    const colon = l.indexOf(':');
    // An IPv6 nameserver has colons too: the domain is everything before the first ": ".
    const sep = l.indexOf(': ');
    const at = sep >= 0 ? sep : colon;
    if (at <= 0) return err(`Split DNS, line ${n}: expected "domain: nameserver, nameserver"`);
    const domain = l.slice(0, at).trim().toLowerCase();
    const ns = splitList(l.slice(at + 1));
    if (ns.length === 0)
      return err(`Split DNS, line ${n}: ${domain} needs at least one nameserver`);
    if (out[domain]) return err(`Split DNS, line ${n}: ${domain} is listed twice`);
    out[domain] = ns;
  }
  return ok(out);
}

export function formatRecords(records: readonly DnsRecord[]): string {
  return records.map((r) => `${r.name} ${r.type} ${r.value}`).join('\n');
}

const TYPES = new Set(['A', 'AAAA', 'CNAME', 'TXT']);

export function parseRecords(text: string): Result<DnsRecord[], string> {
  const out: DnsRecord[] = [];
  for (const { n, l } of lines(text)) {
    const m = /^(\S+)\s+(\S+)\s+(.+)$/.exec(l);
    const type = m?.[2]?.toUpperCase();
    if (!m || !type || !TYPES.has(type))
      return err(`Extra records, line ${n}: expected "name A|AAAA|CNAME|TXT value"`);
    const name = (m[1] ?? '').toLowerCase();
    const value = (m[3] ?? '').trim();
    out.push({ name, type, value } as DnsRecord);
  }
  return ok(out);
}
