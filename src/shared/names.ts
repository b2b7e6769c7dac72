/**
 * DNS-safe names for MagicDNS: device labels ("laptop-2") and network domains ("acme.trellis").
 * A device's FQDN is `<label>.<network domain>`.
 */
import { decodeError, ok, type DecodeError, type Result } from './result.js';

/** RFC 1035 §2.3.4: a label is at most 63 octets. */
export const MAX_LABEL_LENGTH = 63;
/** RFC 1035 §2.3.4: a name is at most 255 octets on the wire, i.e. 253 characters as text. */
export const MAX_FQDN_LENGTH = 253;
/** A network domain leaves room for one full device label and its dot inside MAX_FQDN_LENGTH. */
export const MAX_NETWORK_DOMAIN_LENGTH = MAX_FQDN_LENGTH - MAX_LABEL_LENGTH - 1;
/** Used when nothing DNS-safe is left of a hostname (e.g. it was all emoji). */
export const FALLBACK_DEVICE_NAME = 'device';
/** Raw hostnames longer than this are cut before normalizing; no OS allows longer ones. */
const MAX_RAW_HOSTNAME = 1024;

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type NameErrorCode = 'invalid_label' | 'invalid_domain' | 'too_long';
export type NameError = DecodeError<NameErrorCode>;

/** Whether the text is a lowercase DNS label: [a-z0-9-], 1–63 chars, no '-' at either end. */
export const isDnsLabel = (text: string): boolean => LABEL_RE.test(text);

/**
 * A device label from an OS hostname: first DNS label only ("web1.corp.example" → "web1"),
 * accents folded ("Zoë's Mac" → "zoes-mac"), runs of anything else turned into one '-',
 * at most 63 characters, never starting or ending with '-'. Falls back to "device".
 */
export function normalizeDeviceName(hostname: string): string {
  const first = hostname.slice(0, MAX_RAW_HOSTNAME).trim().split('.')[0] ?? '';
  const folded = first
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/['’]/g, '')
    .toLowerCase();
  const label = folded
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_LABEL_LENGTH)
    .replace(/-+$/, '');
  return label === '' ? FALLBACK_DEVICE_NAME : label;
}

/**
 * `base` if free, else `base-1`, `base-2`, …, shortening the base so the result stays a valid
 * label. `base` should already be normalized. Terminates: at most taken.size + 1 candidates clash.
 */
export function uniqueName(base: string, taken: ReadonlySet<string>): string {
  const label = isDnsLabel(base) ? base : normalizeDeviceName(base);
  if (!taken.has(label)) return label;
  for (let i = 1; ; i++) {
    const suffix = `-${i}`;
    const stem = label.slice(0, MAX_LABEL_LENGTH - suffix.length).replace(/-+$/, '');
    const candidate = `${stem === '' ? FALLBACK_DEVICE_NAME : stem}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** Validates a network domain ("acme.trellis"): lowercase labels, not ending in mDNS's ".local". */
export function parseNetworkDomain(text: string): Result<string, NameError> {
  if (text.length > MAX_NETWORK_DOMAIN_LENGTH) {
    return decodeError('too_long', `network domain longer than ${MAX_NETWORK_DOMAIN_LENGTH}`);
  }
  const domain = text.toLowerCase().replace(/\.$/, '');
  const labels = domain.split('.');
  const bad = (why: string) =>
    decodeError('invalid_domain', `network domain ${JSON.stringify(text)} ${why}`);
  if (!labels.every(isDnsLabel)) return bad('must be dot-separated labels of [a-z0-9-]');
  const tld = labels[labels.length - 1] ?? '';
  // An all-numeric last label would make names look like IPv4 addresses to resolvers.
  if (/^\d+$/.test(tld)) return bad('must not end in a numeric label');
  // ".local" belongs to multicast DNS (RFC 6762); MagicDNS answers there would fight mDNS.
  if (tld === 'local') return bad('must not end in .local (reserved for mDNS)');
  return ok(domain);
}

export const isNetworkDomain = (text: string): boolean => parseNetworkDomain(text).ok;

/** `<label>.<domain>`, lowercase, no trailing dot. */
export function joinFqdn(label: string, domain: string): Result<string, NameError> {
  if (!isDnsLabel(label))
    return decodeError('invalid_label', `not a DNS label: ${JSON.stringify(label.slice(0, 80))}`);
  const d = parseNetworkDomain(domain);
  if (!d.ok) return d;
  return ok(`${label}.${d.value}`);
}

/** Whether the text is a fully qualified name: 1+ labels, at most 253 characters. */
export function isFqdn(text: string): boolean {
  const name = text.replace(/\.$/, '');
  return name.length > 0 && name.length <= MAX_FQDN_LENGTH && name.split('.').every(isDnsLabel);
}
