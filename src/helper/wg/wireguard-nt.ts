/**
 * The Windows WireGuard backend: wireguard-nt (the kernel driver behind wireguard.dll), driven
 * through the koffi bindings in wireguard-nt-ffi.ts.
 *
 * Diffs map one to one onto the driver's own incremental configuration: interface flags
 * HAS_PRIVATE_KEY / HAS_LISTEN_PORT / REPLACE_PEERS, and per peer REMOVE, UPDATE_ONLY (never
 * adds a peer by accident), HAS_ENDPOINT, HAS_PERSISTENT_KEEPALIVE and REPLACE_ALLOWED_IPS, so
 * an unchanged peer is not in the buffer at all and keeps its session.
 *
 * The adapter is created with a GUID derived from its name (Windows keys its network profile on
 * it) and lives as long as our handle: closing the handle, or the helper process dying, removes
 * it, so there is never a crashed predecessor's adapter to adopt. The MTU is set with netsh
 * (os/windows.ts) since the driver has no MTU call. fwmark has no Windows counterpart: a
 * non-zero one is refused (the exit-node routing that needs it is Linux policy routing).
 */
import ipaddr from 'ipaddr.js';
import {
  formatIp,
  ipFamily,
  ipPortToString,
  parseCidr,
  parseIp,
  parseIpPort,
} from '../../shared/ip.js';
import { keyFromBase64, keyToBase64, publicKeyFromPrivate } from '../../shared/keys.js';
import { runCommand, type Exec } from '../exec.js';
import { isValidInterfaceName } from '../os/ifname.js';
import { netshMtuCommands } from '../os/windows.js';
import { createConfigApplier, type ConfigApplier } from './applier.js';
import type { WgConfigDiff } from './diff.js';
import {
  WgError,
  type WgDeviceStats,
  type WgInterfaceConfig,
  type WireGuardBackend,
  type WireGuardDevice,
} from './types.js';
import {
  decodeNtConfig,
  encodeNtConfig,
  fileTimeToDate,
  NtInterfaceFlag,
  NtPeerFlag,
  ZERO_KEY,
  type NtAllowedIp,
  type NtEndpoint,
  type NtInterface,
  type NtPeer,
} from './wireguard-nt-abi.js';
import {
  adapterGuid,
  WireGuardNtError,
  type NtAdapterHandle,
  type WireGuardNtApi,
} from './wireguard-nt-ffi.js';
import { MAX_TUNNEL_MTU, MIN_TUNNEL_MTU } from './wireguard-go.js';

/** Shown by Windows as the adapter's device description. */
export const TRELLIS_TUNNEL_TYPE = 'Trellis';

const key = (b64: string, what: string): Uint8Array => {
  const k = keyFromBase64(b64);
  if (!k.ok) throw new WgError('bad_config', `${what} is not a WireGuard base64 key`);
  return k.value;
};

function endpointOf(text: string): NtEndpoint {
  const ep = parseIpPort(text);
  if (!ep.ok) throw new WgError('bad_config', `endpoint ${text}: ${ep.error.message}`);
  const ip = parseIp(ep.value.ip);
  if (!ip.ok) throw new WgError('bad_config', `endpoint ${text}: ${ip.error.message}`);
  const address = new Uint8Array(ip.value.toByteArray());
  return ep.value.family === 'ipv4'
    ? { family: 'ipv4', address, port: ep.value.port }
    : { family: 'ipv6', address, port: ep.value.port, flowInfo: 0, scopeId: 0 };
}

function allowedIpOf(cidr: string): NtAllowedIp {
  const c = parseCidr(cidr);
  if (!c.ok) throw new WgError('bad_config', `allowed IP ${cidr}: ${c.error.message}`);
  return {
    family: ipFamily(c.value.address),
    address: new Uint8Array(c.value.address.toByteArray()),
    cidr: c.value.bits,
  };
}

const peerBase = {
  presharedKey: ZERO_KEY,
  persistentKeepalive: 0,
  endpoint: null,
  txBytes: 0n,
  rxBytes: 0n,
  lastHandshake: 0n,
  allowedIps: [],
} as const;

/** The SetConfiguration input for a diff (diff.ts). Pure. */
export function ntConfigForDiff(diff: WgConfigDiff): NtInterface {
  if (diff.fwmark !== undefined && diff.fwmark !== 0) {
    throw new WgError('bad_config', 'fwmark is a Linux feature; wireguard-nt has none');
  }
  let flags = 0;
  let privateKey = ZERO_KEY;
  let publicKey = ZERO_KEY;
  if (diff.privateKey !== undefined) {
    flags |= NtInterfaceFlag.HAS_PRIVATE_KEY;
    privateKey = key(diff.privateKey, 'private key');
    publicKey = publicKeyFromPrivate(privateKey);
  }
  if (diff.listenPort !== undefined) flags |= NtInterfaceFlag.HAS_LISTEN_PORT;
  if (diff.replacePeers) flags |= NtInterfaceFlag.REPLACE_PEERS;
  const peers: NtPeer[] = diff.peers.map((p): NtPeer => {
    const publicKey = key(p.publicKey, 'peer public key');
    switch (p.kind) {
      case 'remove':
        return { ...peerBase, publicKey, flags: NtPeerFlag.HAS_PUBLIC_KEY | NtPeerFlag.REMOVE };
      case 'add': {
        let f = NtPeerFlag.HAS_PUBLIC_KEY | NtPeerFlag.REPLACE_ALLOWED_IPS;
        if (p.endpoint !== null) f |= NtPeerFlag.HAS_ENDPOINT;
        if (p.persistentKeepalive !== 0) f |= NtPeerFlag.HAS_PERSISTENT_KEEPALIVE;
        return {
          ...peerBase,
          flags: f,
          publicKey,
          persistentKeepalive: p.persistentKeepalive,
          endpoint: p.endpoint === null ? null : endpointOf(p.endpoint),
          allowedIps: p.allowedIps.map(allowedIpOf),
        };
      }
      case 'update': {
        let f: number = NtPeerFlag.HAS_PUBLIC_KEY | NtPeerFlag.UPDATE_ONLY;
        if (p.endpoint !== undefined) f |= NtPeerFlag.HAS_ENDPOINT;
        if (p.persistentKeepalive !== undefined) f |= NtPeerFlag.HAS_PERSISTENT_KEEPALIVE;
        if (p.allowedIps !== undefined) f |= NtPeerFlag.REPLACE_ALLOWED_IPS;
        return {
          ...peerBase,
          flags: f,
          publicKey,
          persistentKeepalive: p.persistentKeepalive ?? 0,
          endpoint: p.endpoint === undefined ? null : endpointOf(p.endpoint),
          allowedIps: (p.allowedIps ?? []).map(allowedIpOf),
        };
      }
    }
  });
  return { flags, listenPort: diff.listenPort ?? 0, privateKey, publicKey, peers };
}

function endpointText(ep: NtEndpoint | null): string | null {
  if (ep === null) return null;
  return ipPortToString(formatIp(ipaddr.fromByteArray([...ep.address])), ep.port);
}

/** Device statistics from a GetConfiguration result. */
export function statsFromNt(iface: NtInterface): WgDeviceStats {
  return {
    listenPort: iface.listenPort,
    peers: iface.peers.map((p) => ({
      publicKey: keyToBase64(p.publicKey),
      endpoint: endpointText(p.endpoint),
      lastHandshake: fileTimeToDate(p.lastHandshake),
      rxBytes: Number(p.rxBytes),
      txBytes: Number(p.txBytes),
    })),
  };
}

export interface WireGuardNtBackendOptions {
  /** Loads the bindings (loadWireGuardNt on Windows; a stand-in in tests). Called once. */
  readonly loadApi: () => Promise<WireGuardNtApi>;
  /** For netsh (MTU). */
  readonly exec?: Exec;
  /** Driver log lines (the driver logs from its own threads). */
  readonly onLog?: (level: number, message: string) => void;
}

const ntToWg = (code: 'create_failed' | 'uapi_error', e: unknown, what: string): WgError =>
  e instanceof WgError
    ? e
    : new WgError(code, `${what}: ${e instanceof Error ? e.message : String(e)}`);

export class WireGuardNtBackend implements WireGuardBackend {
  readonly kind = 'wireguard-nt' as const;
  private api: Promise<WireGuardNtApi> | null = null;

  constructor(private readonly options: WireGuardNtBackendOptions) {}

  private loadApi(): Promise<WireGuardNtApi> {
    this.api ??= this.options.loadApi().then((api) => {
      const onLog = this.options.onLog;
      if (onLog) api.setLogger((level, _t, message) => onLog(level, message));
      return api;
    });
    // A failed load is retried at the next create (the DLL may have been installed since).
    this.api.catch(() => (this.api = null));
    return this.api;
  }

  async create(name: string, options: { readonly mtu: number }): Promise<WireGuardNtDevice> {
    if (!isValidInterfaceName(name)) {
      throw new WgError('create_failed', `invalid interface name ${JSON.stringify(name)}`);
    }
    const { mtu } = options;
    if (!Number.isInteger(mtu) || mtu < MIN_TUNNEL_MTU || mtu > MAX_TUNNEL_MTU) {
      throw new WgError(
        'bad_config',
        `MTU must be ${MIN_TUNNEL_MTU}-${MAX_TUNNEL_MTU}, got ${mtu}`,
      );
    }
    let api: WireGuardNtApi;
    let handle: NtAdapterHandle;
    try {
      api = await this.loadApi();
      handle = api.createAdapter(name, TRELLIS_TUNNEL_TYPE, adapterGuid(name));
    } catch (e) {
      throw ntToWg('create_failed', e, `wireguard-nt adapter ${name}`);
    }
    try {
      const exec = this.options.exec ?? runCommand;
      for (const c of netshMtuCommands(name, mtu)) await exec(c.command, c.args);
    } catch (e) {
      api.closeAdapter(handle);
      throw ntToWg('create_failed', e, `${name}: setting the MTU`);
    }
    return new WireGuardNtDevice(name, api, handle);
  }
}

export class WireGuardNtDevice implements WireGuardDevice {
  private readonly applier: ConfigApplier;
  private up = false;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly api: WireGuardNtApi,
    private readonly handle: NtAdapterHandle,
  ) {
    this.applier = createConfigApplier(async (diff) => {
      const buffer = encodeNtConfig(ntConfigForDiff(diff));
      try {
        this.api.setConfiguration(this.handle, buffer);
        // Up only once it has a key: the driver opens its sockets then (and they belong to us).
        if (!this.up) {
          this.api.setAdapterState(this.handle, true);
          this.up = true;
        }
      } catch (e) {
        throw ntToWg('uapi_error', e, this.name);
      } finally {
        buffer.fill(0); // it held the private key
      }
    });
  }

  private check(): void {
    if (this.closed) throw new WgError('closed', `${this.name} is closed`);
  }

  async apply(config: WgInterfaceConfig): Promise<void> {
    this.check();
    await this.applier.apply(config);
  }

  async stats(): Promise<WgDeviceStats> {
    return this.applier.exclusive(async () => {
      this.check();
      let buf: Buffer;
      try {
        buf = this.api.getConfiguration(this.handle);
      } catch (e) {
        throw ntToWg('uapi_error', e, this.name);
      }
      const parsed = decodeNtConfig(buf);
      buf.fill(0);
      if (!parsed.ok) {
        throw new WgError(
          'uapi_error',
          `${this.name}: driver configuration: ${parsed.error.message}`,
        );
      }
      return statsFromNt(parsed.value);
    });
  }

  close(): Promise<void> {
    return this.applier.exclusive(async () => {
      if (this.closed) return;
      this.closed = true;
      try {
        if (this.up) this.api.setAdapterState(this.handle, false);
      } catch (e) {
        if (!(e instanceof WireGuardNtError)) throw e;
        // Closing the handle below removes the adapter whatever its state.
      }
      this.api.closeAdapter(this.handle);
    });
  }
}
