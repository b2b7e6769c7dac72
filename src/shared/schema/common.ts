/**
 * Building blocks shared by every boundary schema: keys, ids, times, addresses, names and the
 * size bounds that keep a hostile peer from making a parser allocate without limit.
 *
 * Every string and array here has a maximum. Field bounds alone do not bound a whole message
 * (a thousand maximal arrays are still large), so each boundary also exports a maximum message
 * size that its transport enforces before JSON.parse.
 */
import * as z from 'zod';
import {
  canonicalIp,
  formatIp,
  formatPrefix,
  ipPortToString,
  isIp,
  parseIpPort,
  parseIpv4,
  parseIpv6,
  parsePrefix,
} from '../ip.js';
import { ok, type Result } from '../result.js';
import {
  MAX_FQDN_LENGTH,
  MAX_LABEL_LENGTH,
  MAX_NETWORK_DOMAIN_LENGTH,
  isDnsLabel,
  isFqdn,
  isNetworkDomain,
} from '../names.js';

// ---------------------------------------------------------------------------------------------
// Bounds. Each is generous for honest peers and small enough that a message of maxima is cheap.

/** Opaque ids from control (UUIDs are 36 chars, ULIDs 26); 64 leaves room for prefixes. */
export const MAX_ID_LENGTH = 64;
/** Secrets and bearer tokens (session, poll, node credential, keys); JWTs fit easily. */
export const MAX_TOKEN_LENGTH = 4096;
/** De facto limit browsers and proxies accept for a URL. */
export const MAX_URL_LENGTH = 2048;
/** Human-readable messages (errors, reasons, hints). */
export const MAX_MESSAGE_LENGTH = 2048;
/** Display names, descriptions, client names. */
export const MAX_DISPLAY_NAME_LENGTH = 256;
/** RFC 5321: a forward path is at most 256 octets including the angle brackets. */
export const MAX_EMAIL_LENGTH = 254;
/** OS hostnames before normalization (POSIX HOST_NAME_MAX is 255). */
export const MAX_HOSTNAME_LENGTH = 255;
/** Version strings ("14.4.1", "6.1.0-18-amd64"). */
export const MAX_VERSION_LENGTH = 128;
/** Filesystem paths (Linux PATH_MAX). */
export const MAX_PATH_LENGTH = 4096;
/** Routes one device advertises, or one peer offers; large subnet routers stay well below. */
export const MAX_ROUTES = 1024;
/** Endpoint candidates of one device: every interface address, STUN results, port mappings. */
export const MAX_ENDPOINTS = 64;
/** Tags on one device or key. */
export const MAX_TAGS = 64;
/** Relay regions in a relay map. */
export const MAX_RELAY_REGIONS = 128;
/** Posture check results for one device. */
export const MAX_POSTURE_RESULTS = 256;

// ---------------------------------------------------------------------------------------------
// Keys and secrets.

/**
 * A Curve25519 public key as WireGuard prints it: 32 bytes in standard base64, 44 characters
 * ending in '='. The 43rd character carries only 4 data bits, so only the 16 letters whose low
 * 2 bits are zero can appear there; anything else would be a second spelling of the same key.
 */
const WG_KEY_RE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
export const WireGuardKey = z
  .string()
  .length(44, 'expected a WireGuard key (44 base64 characters ending in "=")')
  .regex(WG_KEY_RE, 'expected a WireGuard key (44 base64 characters ending in "=")');
/** The device's WireGuard static public key; names the device to peers and relays. */
export const NodePublicKey = WireGuardKey;
export type NodePublicKey = z.infer<typeof NodePublicKey>;
/** The per-start disco public key that authenticates disco messages. */
export const DiscoPublicKey = WireGuardKey;
export type DiscoPublicKey = z.infer<typeof DiscoPublicKey>;

/** An opaque secret or bearer token: printable, no spaces, so it fits an Authorization header. */
export const SecretToken = z
  .string()
  .min(16, 'token too short')
  .max(MAX_TOKEN_LENGTH)
  .regex(/^[A-Za-z0-9._~+/=-]+$/, 'token has characters outside [A-Za-z0-9._~+/=-]');
export type SecretToken = z.infer<typeof SecretToken>;

// ---------------------------------------------------------------------------------------------
// Ids, times, text.

export const Id = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .regex(/^[A-Za-z0-9_-]+$/, 'id has characters outside [A-Za-z0-9_-]');
export type Id = z.infer<typeof Id>;
export const DeviceId = Id;
export const UserId = Id;
export const NetworkId = Id;

/** An instant as ISO 8601 in UTC ("2025-01-31T12:00:00.000Z"), as Date.prototype.toISOString writes it. */
export const Timestamp = z.iso.datetime();
export type Timestamp = z.infer<typeof Timestamp>;

/** Stream sequence numbers and byte counters: non-negative integers JSON can carry exactly. */
export const Counter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Milliseconds of latency; an hour is far beyond any useful measurement. */
export const LatencyMs = z.number().min(0).max(3_600_000);

export const Message = z.string().max(MAX_MESSAGE_LENGTH);
export const DisplayName = z.string().max(MAX_DISPLAY_NAME_LENGTH);
export const Email = z.email().max(MAX_EMAIL_LENGTH);
export const Hostname = z.string().max(MAX_HOSTNAME_LENGTH);

/** Semantic version ("1.4.0", "1.5.0-rc.1"), so posture can compare client versions. */
export const SemVer = z
  .string()
  .max(MAX_VERSION_LENGTH)
  .regex(
    /^\d{1,9}\.\d{1,9}\.\d{1,9}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/,
    'expected a semantic version',
  );

/** Protocol versions exchanged in handshakes. */
export const ProtocolVersion = z.number().int().min(1).max(65535);

export const HttpUrl = z.url({ protocol: /^https?$/ }).max(MAX_URL_LENGTH);
export const WsUrl = z.url({ protocol: /^wss?$/ }).max(MAX_URL_LENGTH);

/** Short machine-readable identifiers that may grow over time (health codes, audit actions). */
export const Slug = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'expected a lowercase identifier');

export const OsKind = z.enum(['linux', 'windows', 'macos', 'ios', 'android', 'freebsd', 'other']);
export type OsKind = z.infer<typeof OsKind>;

// ---------------------------------------------------------------------------------------------
// Names.

/** A device's MagicDNS label ("laptop-2"). */
export const DeviceName = z
  .string()
  .max(MAX_LABEL_LENGTH)
  .refine(isDnsLabel, 'expected a DNS label: [a-z0-9-], 1-63 chars, no leading or trailing "-"');
export const Fqdn = z
  .string()
  .max(MAX_FQDN_LENGTH)
  .refine(isFqdn, 'expected a lowercase domain name');
export const NetworkDomain = z
  .string()
  .max(MAX_NETWORK_DOMAIN_LENGTH)
  .refine(isNetworkDomain, 'expected a network domain such as "acme.trellis"');

/** "tag:server": tags name non-user device owners in policy, as Tailscale's do. */
export const Tag = z
  .string()
  .max(4 + MAX_LABEL_LENGTH)
  .regex(/^tag:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'expected a tag such as "tag:server"');
export type Tag = z.infer<typeof Tag>;
export const Tags = z.array(Tag).max(MAX_TAGS);

// ---------------------------------------------------------------------------------------------
// Addresses. Parsed strictly and rewritten to canonical text, so equal addresses compare equal.

/**
 * A string schema that parses with an ip.ts parser and outputs the canonical text, reporting the
 * parser's own message (e.g. "prefix has host bits set; did you mean 10.0.0.0/24?").
 */
const canonicalText = (parse: (t: string) => Result<string, { message: string }>) =>
  z
    .string()
    .max(64)
    .transform((t, ctx) => {
      const r = parse(t);
      if (r.ok) return r.value;
      ctx.addIssue({ code: 'custom', message: r.error.message, input: t });
      return z.NEVER;
    });

const mapOk =
  <A, B, E>(f: (t: string) => Result<A, E>, g: (a: A) => B) =>
  (t: string): Result<B, E> => {
    const r = f(t);
    return r.ok ? ok(g(r.value)) : r;
  };

/** Any IP address, canonicalized (IPv4 dotted decimal, IPv6 RFC 5952). */
export const IpAddr = canonicalText(canonicalIp);
export const Ipv4Addr = canonicalText(mapOk(parseIpv4, formatIp));
export const Ipv6Addr = canonicalText(mapOk(parseIpv6, formatIp));

/**
 * A route or filter prefix ("10.0.0.0/24"), canonical, host bits zero. Input with host bits set
 * is rejected with the intended prefix named, rather than silently widened or narrowed.
 */
export const Cidr = canonicalText(mapOk(parsePrefix, formatPrefix));
export const Cidrs = z.array(Cidr).max(MAX_ROUTES);

/** "1.2.3.4:41641" or "[2001:db8::1]:41641", canonical. */
export const IpPortText = canonicalText(mapOk(parseIpPort, (p) => ipPortToString(p.ip, p.port)));

/** A host to reach a service at (STUN server): a domain name or an IP address. */
export const HostOrIp = z
  .string()
  .max(MAX_FQDN_LENGTH)
  .refine((t) => isFqdn(t.toLowerCase()) || isIp(t), 'expected a host name or IP address');

export const Port = z.number().int().min(1).max(65535);

/** A device's mesh addresses: one IPv4 from 100.64.0.0/10, one IPv6 from the network's ULA /48. */
export const DeviceAddresses = z.object({ ipv4: Ipv4Addr, ipv6: Ipv6Addr });
export type DeviceAddresses = z.infer<typeof DeviceAddresses>;

/** A bounded string-keyed map. JSON objects cannot be bounded before parse, so count after. */
export const boundedRecord = <K extends z.core.$ZodRecordKey, V extends z.ZodType>(
  key: K,
  value: V,
  maxEntries: number,
) =>
  z
    .record(key, value)
    .refine((r) => Object.keys(r).length <= maxEntries, `at most ${maxEntries} entries`);

// ---------------------------------------------------------------------------------------------
// Relay regions.

/** A relay region's numeric id (stable across relay-map changes; 0 is never used). */
export const RegionId = z.number().int().min(1).max(65535);
export type RegionId = z.infer<typeof RegionId>;
/** A region id used as a JSON object key ("7"). */
export const RegionKey = z.string().regex(/^[1-9]\d{0,4}$/, 'expected a region id');
/** Latency per region id, e.g. `{ "1": 12.5, "2": 48 }`. */
export const RegionLatencies = boundedRecord(RegionKey, LatencyMs, MAX_RELAY_REGIONS);
