/**
 * resolv.conf as the helper writes it when it takes over system DNS without systemd-resolved.
 * The original file travels inside ours, as comment lines, so restoring it needs no other state:
 * a stop, or the next start after a crash, finds the original in the file itself and writes it
 * back byte for byte.
 *
 *   # Written by trellisd for MagicDNS; the original below is restored when trellisd stops.
 *   # trellisd-original: present
 *   # |nameserver 192.168.1.1
 *   # |
 *   nameserver 100.100.100.100
 *   search acme.trellis
 */
import { canonicalIp } from '../../shared/ip.js';

export const RESOLV_CONF_HEADER =
  '# Written by trellisd for MagicDNS; the original below is restored when trellisd stops.';
const ORIGINAL_STATE = '# trellisd-original: ';
const ORIGINAL_LINE = '# |';
/** resolv.conf files are a few hundred bytes; one this large is not one we should carry along. */
export const MAX_RESOLV_CONF_BYTES = 64 * 1024;
/** Characters a search domain may contain in the file (a newline or space would inject). */
const DOMAIN_RE = /^[A-Za-z0-9_.-]{1,253}$/;

export class ResolvConfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResolvConfError';
  }
}

export interface ResolvConfSettings {
  readonly nameservers: readonly string[];
  readonly searchDomains: readonly string[];
}

/** Our file; `original` null records that there was no file before. */
export function renderResolvConf(settings: ResolvConfSettings, original: string | null): string {
  if (original !== null && Buffer.byteLength(original) > MAX_RESOLV_CONF_BYTES) {
    throw new ResolvConfError(
      `the existing resolv.conf is larger than ${MAX_RESOLV_CONF_BYTES} bytes`,
    );
  }
  const lines = [
    RESOLV_CONF_HEADER,
    `${ORIGINAL_STATE}${original === null ? 'absent' : 'present'}`,
  ];
  if (original !== null) for (const l of original.split('\n')) lines.push(`${ORIGINAL_LINE}${l}`);
  for (const ns of settings.nameservers) {
    const ip = canonicalIp(ns);
    if (!ip.ok) throw new ResolvConfError(`not a nameserver address: ${JSON.stringify(ns)}`);
    lines.push(`nameserver ${ip.value}`);
  }
  const search = settings.searchDomains.map((d) => d.replace(/\.$/, ''));
  for (const d of search) {
    if (!DOMAIN_RE.test(d)) throw new ResolvConfError(`not a search domain: ${JSON.stringify(d)}`);
  }
  if (search.length > 0) lines.push(`search ${search.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The original a file of ours carries: { original: text } or { original: null } (there was no
 * file); null when the file is not one of ours.
 */
export function parseOwnResolvConf(text: string): { original: string | null } | null {
  const lines = text.split('\n');
  if (lines[0] !== RESOLV_CONF_HEADER) return null;
  const state = lines[1];
  if (state === `${ORIGINAL_STATE}absent`) return { original: null };
  if (state !== `${ORIGINAL_STATE}present`) return null;
  const original: string[] = [];
  for (const l of lines.slice(2)) {
    if (!l.startsWith(ORIGINAL_LINE)) break;
    original.push(l.slice(ORIGINAL_LINE.length));
  }
  return { original: original.join('\n') };
}

/** The `nameserver` addresses of a resolv.conf text, in order (canonical, invalid ones skipped). */
export function nameserversOf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(raw);
    if (!m) continue;
    // A scoped IPv6 address ("fe80::1%eth0") cannot be forwarded to from an unscoped socket.
    const ip = canonicalIp(m[1] as string);
    if (ip.ok) out.push(ip.value);
  }
  return out;
}

/**
 * The nameservers the system used before the helper took over: those of the original inside our
 * file, or of the file itself when it is not ours.
 */
export function systemNameservers(text: string | null): string[] {
  if (text === null) return [];
  const own = parseOwnResolvConf(text);
  if (own) return own.original === null ? [] : nameserversOf(own.original);
  return nameserversOf(text);
}
