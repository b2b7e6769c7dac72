/**
 * The binary configuration format of wireguard-nt (wireguard.dll, api/wireguard.h): what
 * WireGuardSetConfiguration takes and WireGuardGetConfiguration returns is one variable-length
 * buffer,
 *
 *   WIREGUARD_INTERFACE
 *   PeersCount × ( WIREGUARD_PEER, then that peer's AllowedIPsCount × WIREGUARD_ALLOWED_IP )
 *
 * Every struct is declared `ALIGNED(8)`, so each size is a multiple of 8 and the structs follow
 * one another without gaps. The offsets below are those of wireguard.h compiled for Windows x64
 * (DWORD = 32 bits, SOCKADDR_INET = 28 bytes aligned to 4); e2e/packaging.test.ts checks them,
 * field by field, against a C program with the same struct definitions and against koffi's
 * layout of the FFI types (wireguard-nt-ffi.ts).
 *
 * Multi-byte integers are little-endian, as on every Windows target, except the ports inside
 * SOCKADDR_INET, which are in network byte order. Address families are Winsock's: AF_INET = 2,
 * AF_INET6 = 23 (not Linux's 10).
 *
 * decodeNtConfig reads bytes the driver wrote; it is total (a typed error for anything that
 * does not fit) and never trusts a count beyond the buffer's length.
 */
import { decodeError, ok, type DecodeError, type Result } from '../../shared/result.js';

export const WIREGUARD_KEY_LENGTH = 32;

/** Winsock address families. */
export const AF_INET = 2;
export const AF_INET6 = 23;

/** WIREGUARD_INTERFACE_FLAG */
export const NtInterfaceFlag = {
  HAS_PUBLIC_KEY: 1 << 0,
  HAS_PRIVATE_KEY: 1 << 1,
  HAS_LISTEN_PORT: 1 << 2,
  REPLACE_PEERS: 1 << 3,
} as const;

/** WIREGUARD_PEER_FLAG */
export const NtPeerFlag = {
  HAS_PUBLIC_KEY: 1 << 0,
  HAS_PRESHARED_KEY: 1 << 1,
  HAS_PERSISTENT_KEEPALIVE: 1 << 2,
  HAS_ENDPOINT: 1 << 3,
  REPLACE_ALLOWED_IPS: 1 << 5,
  REMOVE: 1 << 6,
  /** Do not add a new peer (wireguard.h calls it WIREGUARD_PEER_UPDATE_ONLY). */
  UPDATE_ONLY: 1 << 7,
} as const;

/** WIREGUARD_ADAPTER_STATE */
export const NtAdapterState = { DOWN: 0, UP: 1 } as const;

/** WIREGUARD_LOGGER_LEVEL */
export const NtLogLevel = { INFO: 0, WARN: 1, ERR: 2 } as const;

/** Field offsets and struct sizes (bytes), Windows x64. */
export const NT_LAYOUT = {
  WIREGUARD_ALLOWED_IP: {
    size: 24,
    align: 8,
    fields: { Address: 0, AddressFamily: 16, Cidr: 18 },
  },
  WIREGUARD_PEER: {
    size: 136,
    align: 8,
    fields: {
      Flags: 0,
      Reserved: 4,
      PublicKey: 8,
      PresharedKey: 40,
      PersistentKeepalive: 72,
      Endpoint: 76,
      TxBytes: 104,
      RxBytes: 112,
      LastHandshake: 120,
      AllowedIPsCount: 128,
    },
  },
  WIREGUARD_INTERFACE: {
    size: 80,
    align: 8,
    fields: { Flags: 0, ListenPort: 4, PrivateKey: 6, PublicKey: 38, PeersCount: 72 },
  },
  /** SOCKADDR_INET: a union of SOCKADDR_IN (16 bytes) and SOCKADDR_IN6 (28 bytes). */
  SOCKADDR_INET: {
    size: 28,
    align: 4,
    fields: {
      si_family: 0,
      sin_port: 2,
      sin_addr: 4,
      sin6_port: 2,
      sin6_flowinfo: 4,
      sin6_addr: 8,
      sin6_scope_id: 24,
    },
  },
} as const;

const IFACE = NT_LAYOUT.WIREGUARD_INTERFACE;
const PEER = NT_LAYOUT.WIREGUARD_PEER;
const AIP = NT_LAYOUT.WIREGUARD_ALLOWED_IP;
const SA = NT_LAYOUT.SOCKADDR_INET;

/**
 * The driver's own limits are far higher; these bound what a corrupt buffer can make us
 * allocate and what we would ever send (a netmap of tens of thousands of peers is beyond any
 * network Trellis serves).
 */
export const MAX_NT_PEERS = 65_536;
export const MAX_NT_ALLOWED_IPS_PER_PEER = 65_536;
/** DWORD: SetConfiguration's size argument. */
export const MAX_NT_CONFIG_BYTES = 0xffff_ffff;

export type NtEndpoint =
  | { readonly family: 'ipv4'; readonly address: Uint8Array; readonly port: number }
  | {
      readonly family: 'ipv6';
      readonly address: Uint8Array;
      readonly port: number;
      readonly flowInfo: number;
      readonly scopeId: number;
    };

export interface NtAllowedIp {
  readonly family: 'ipv4' | 'ipv6';
  /** 4 or 16 bytes. */
  readonly address: Uint8Array;
  readonly cidr: number;
}

/** One WIREGUARD_PEER and its allowed IPs, field for field. */
export interface NtPeer {
  readonly flags: number;
  readonly publicKey: Uint8Array;
  /** All zero when unset. */
  readonly presharedKey: Uint8Array;
  readonly persistentKeepalive: number;
  /** null: SOCKADDR_INET all zero (family 0). */
  readonly endpoint: NtEndpoint | null;
  readonly txBytes: bigint;
  readonly rxBytes: bigint;
  /** 100 ns intervals since 1601-01-01 UTC; 0 = never. */
  readonly lastHandshake: bigint;
  readonly allowedIps: readonly NtAllowedIp[];
}

/** One WIREGUARD_INTERFACE and its peers, field for field. */
export interface NtInterface {
  readonly flags: number;
  readonly listenPort: number;
  /** All zero when unset (GetConfiguration never returns the private key's absence as null). */
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly peers: readonly NtPeer[];
}

export type NtConfigErrorCode = 'truncated' | 'too_many' | 'bad_value' | 'trailing_bytes';
export type NtConfigError = DecodeError<NtConfigErrorCode>;

export const ZERO_KEY: Uint8Array = new Uint8Array(WIREGUARD_KEY_LENGTH);

/** The buffer size for `iface`. */
export function ntConfigSize(iface: NtInterface): number {
  let size = IFACE.size;
  for (const p of iface.peers) size += PEER.size + p.allowedIps.length * AIP.size;
  return size;
}

function checkKey(key: Uint8Array, what: string): void {
  if (key.length !== WIREGUARD_KEY_LENGTH) {
    throw new RangeError(`${what} must be ${WIREGUARD_KEY_LENGTH} bytes, got ${key.length}`);
  }
}

function checkUint(n: number, max: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > max) throw new RangeError(`${what} must be 0-${max}`);
}

function writeEndpoint(buf: Buffer, at: number, ep: NtEndpoint | null): void {
  if (ep === null) return; // all zero: si_family 0 (AF_UNSPEC)
  checkUint(ep.port, 0xffff, 'endpoint port');
  if (ep.family === 'ipv4') {
    if (ep.address.length !== 4) throw new RangeError('IPv4 endpoint address must be 4 bytes');
    buf.writeUInt16LE(AF_INET, at + SA.fields.si_family);
    buf.writeUInt16BE(ep.port, at + SA.fields.sin_port);
    buf.set(ep.address, at + SA.fields.sin_addr);
  } else {
    if (ep.address.length !== 16) throw new RangeError('IPv6 endpoint address must be 16 bytes');
    checkUint(ep.flowInfo, 0xffff_ffff, 'flow info');
    checkUint(ep.scopeId, 0xffff_ffff, 'scope id');
    buf.writeUInt16LE(AF_INET6, at + SA.fields.si_family);
    buf.writeUInt16BE(ep.port, at + SA.fields.sin6_port);
    buf.writeUInt32LE(ep.flowInfo, at + SA.fields.sin6_flowinfo);
    buf.set(ep.address, at + SA.fields.sin6_addr);
    buf.writeUInt32LE(ep.scopeId, at + SA.fields.sin6_scope_id);
  }
}

/**
 * Serializes `iface` into the buffer WireGuardSetConfiguration takes. Reserved fields and
 * padding are zero. Throws RangeError for values the C types cannot hold (a programming error:
 * callers build NtInterface from validated configs).
 */
export function encodeNtConfig(iface: NtInterface): Buffer {
  checkKey(iface.privateKey, 'private key');
  checkKey(iface.publicKey, 'public key');
  checkUint(iface.flags, 0xffff_ffff, 'interface flags');
  checkUint(iface.listenPort, 0xffff, 'listen port');
  if (iface.peers.length > MAX_NT_PEERS) throw new RangeError(`more than ${MAX_NT_PEERS} peers`);
  const size = ntConfigSize(iface);
  if (size > MAX_NT_CONFIG_BYTES) throw new RangeError('configuration too large');
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(iface.flags, IFACE.fields.Flags);
  buf.writeUInt16LE(iface.listenPort, IFACE.fields.ListenPort);
  buf.set(iface.privateKey, IFACE.fields.PrivateKey);
  buf.set(iface.publicKey, IFACE.fields.PublicKey);
  buf.writeUInt32LE(iface.peers.length, IFACE.fields.PeersCount);
  let at = IFACE.size;
  for (const p of iface.peers) {
    checkKey(p.publicKey, 'peer public key');
    checkKey(p.presharedKey, 'preshared key');
    checkUint(p.flags, 0xffff_ffff, 'peer flags');
    checkUint(p.persistentKeepalive, 0xffff, 'persistent keepalive');
    if (p.allowedIps.length > MAX_NT_ALLOWED_IPS_PER_PEER) {
      throw new RangeError(`more than ${MAX_NT_ALLOWED_IPS_PER_PEER} allowed IPs on one peer`);
    }
    buf.writeUInt32LE(p.flags, at + PEER.fields.Flags);
    buf.set(p.publicKey, at + PEER.fields.PublicKey);
    buf.set(p.presharedKey, at + PEER.fields.PresharedKey);
    buf.writeUInt16LE(p.persistentKeepalive, at + PEER.fields.PersistentKeepalive);
    writeEndpoint(buf, at + PEER.fields.Endpoint, p.endpoint);
    buf.writeBigUInt64LE(p.txBytes, at + PEER.fields.TxBytes);
    buf.writeBigUInt64LE(p.rxBytes, at + PEER.fields.RxBytes);
    buf.writeBigUInt64LE(p.lastHandshake, at + PEER.fields.LastHandshake);
    buf.writeUInt32LE(p.allowedIps.length, at + PEER.fields.AllowedIPsCount);
    at += PEER.size;
    for (const a of p.allowedIps) {
      const bytes = a.family === 'ipv4' ? 4 : 16;
      if (a.address.length !== bytes)
        throw new RangeError(`${a.family} address must be ${bytes} bytes`);
      checkUint(a.cidr, bytes * 8, 'CIDR length');
      buf.set(a.address, at + AIP.fields.Address);
      buf.writeUInt16LE(a.family === 'ipv4' ? AF_INET : AF_INET6, at + AIP.fields.AddressFamily);
      buf.writeUInt8(a.cidr, at + AIP.fields.Cidr);
      at += AIP.size;
    }
  }
  return buf;
}

const copy = (buf: Buffer, at: number, len: number): Uint8Array =>
  new Uint8Array(buf.subarray(at, at + len));

function readEndpoint(buf: Buffer, at: number): Result<NtEndpoint | null, NtConfigError> {
  const family = buf.readUInt16LE(at + SA.fields.si_family);
  switch (family) {
    case 0:
      return ok(null);
    case AF_INET:
      return ok({
        family: 'ipv4',
        address: copy(buf, at + SA.fields.sin_addr, 4),
        port: buf.readUInt16BE(at + SA.fields.sin_port),
      });
    case AF_INET6:
      return ok({
        family: 'ipv6',
        address: copy(buf, at + SA.fields.sin6_addr, 16),
        port: buf.readUInt16BE(at + SA.fields.sin6_port),
        flowInfo: buf.readUInt32LE(at + SA.fields.sin6_flowinfo),
        scopeId: buf.readUInt32LE(at + SA.fields.sin6_scope_id),
      });
    default:
      return decodeError('bad_value', `endpoint address family ${family}`);
  }
}

/**
 * Parses a configuration buffer (what WireGuardGetConfiguration wrote; `length` is the byte
 * count it reported). Total: every count is checked against the bytes actually present.
 */
export function decodeNtConfig(
  buf: Buffer,
  length: number = buf.length,
): Result<NtInterface, NtConfigError> {
  if (!Number.isInteger(length) || length < 0 || length > buf.length) {
    return decodeError(
      'truncated',
      `reported length ${length} exceeds the ${buf.length}-byte buffer`,
    );
  }
  if (length < IFACE.size) {
    return decodeError('truncated', `${length} bytes is shorter than WIREGUARD_INTERFACE`);
  }
  const peersCount = buf.readUInt32LE(IFACE.fields.PeersCount);
  if (peersCount > MAX_NT_PEERS) return decodeError('too_many', `${peersCount} peers`);
  // Each peer needs at least PEER.size bytes, so a count the buffer cannot hold fails at once.
  if (peersCount * PEER.size > length - IFACE.size) {
    return decodeError('truncated', `${peersCount} peers do not fit in ${length} bytes`);
  }
  const peers: NtPeer[] = [];
  let at: number = IFACE.size;
  for (let i = 0; i < peersCount; i++) {
    if (at + PEER.size > length) return decodeError('truncated', `peer ${i} is cut off`);
    const count = buf.readUInt32LE(at + PEER.fields.AllowedIPsCount);
    if (count > MAX_NT_ALLOWED_IPS_PER_PEER) {
      return decodeError('too_many', `peer ${i} has ${count} allowed IPs`);
    }
    if (at + PEER.size + count * AIP.size > length) {
      return decodeError('truncated', `peer ${i}'s ${count} allowed IPs are cut off`);
    }
    const endpoint = readEndpoint(buf, at + PEER.fields.Endpoint);
    if (!endpoint.ok) return decodeError('bad_value', `peer ${i}: ${endpoint.error.message}`);
    const allowedIps: NtAllowedIp[] = [];
    let a = at + PEER.size;
    for (let j = 0; j < count; j++, a += AIP.size) {
      const fam = buf.readUInt16LE(a + AIP.fields.AddressFamily);
      const cidr = buf.readUInt8(a + AIP.fields.Cidr);
      if (fam !== AF_INET && fam !== AF_INET6) {
        return decodeError('bad_value', `peer ${i} allowed IP ${j}: address family ${fam}`);
      }
      const family = fam === AF_INET ? 'ipv4' : 'ipv6';
      const bytes = family === 'ipv4' ? 4 : 16;
      if (cidr > bytes * 8) {
        return decodeError('bad_value', `peer ${i} allowed IP ${j}: /${cidr} for ${family}`);
      }
      allowedIps.push({ family, address: copy(buf, a + AIP.fields.Address, bytes), cidr });
    }
    peers.push({
      flags: buf.readUInt32LE(at + PEER.fields.Flags),
      publicKey: copy(buf, at + PEER.fields.PublicKey, WIREGUARD_KEY_LENGTH),
      presharedKey: copy(buf, at + PEER.fields.PresharedKey, WIREGUARD_KEY_LENGTH),
      persistentKeepalive: buf.readUInt16LE(at + PEER.fields.PersistentKeepalive),
      endpoint: endpoint.value,
      txBytes: buf.readBigUInt64LE(at + PEER.fields.TxBytes),
      rxBytes: buf.readBigUInt64LE(at + PEER.fields.RxBytes),
      lastHandshake: buf.readBigUInt64LE(at + PEER.fields.LastHandshake),
      allowedIps,
    });
    at = a;
  }
  if (at !== length) {
    return decodeError('trailing_bytes', `${length - at} bytes after the last peer`);
  }
  return ok({
    flags: buf.readUInt32LE(IFACE.fields.Flags),
    listenPort: buf.readUInt16LE(IFACE.fields.ListenPort),
    privateKey: copy(buf, IFACE.fields.PrivateKey, WIREGUARD_KEY_LENGTH),
    publicKey: copy(buf, IFACE.fields.PublicKey, WIREGUARD_KEY_LENGTH),
    peers,
  });
}

/** FILETIME epoch (1601-01-01) to Unix epoch, in 100 ns units. */
const FILETIME_UNIX_OFFSET = 116_444_736_000_000_000n;

/** A WIREGUARD_PEER LastHandshake as a Date; null for 0 (never) or an impossible value. */
export function fileTimeToDate(t: bigint): Date | null {
  if (t === 0n || t < FILETIME_UNIX_OFFSET) return null;
  const ms = (t - FILETIME_UNIX_OFFSET) / 10_000n;
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? null : d;
}
