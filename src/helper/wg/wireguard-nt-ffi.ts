/**
 * koffi bindings to wireguard-nt's wireguard.dll: the seven calls the Windows backend needs
 * (WireGuardCreateAdapter, OpenAdapter, CloseAdapter, SetConfiguration, GetConfiguration,
 * SetAdapterState, SetLogger), declared as api/wireguard.h declares them, behind the small
 * WireGuardNtApi interface the backend receives (so the backend is tested without Windows).
 *
 * The configuration buffer crosses the boundary as raw bytes built by wireguard-nt-abi.ts; the
 * koffi struct types below describe the same layout and exist so the layout is checked three
 * ways (C compiler, koffi, our marshaller) in e2e/packaging.test.ts.
 *
 * koffi is loaded lazily and only when a library is bound, so Linux and macOS helpers never
 * load the native addon. On anything but Windows, loadWireGuardNt fails with a typed error.
 */
import { createHash } from 'node:crypto';
import type * as Koffi from 'koffi';

/** The koffi module object (its default export). */
type KoffiApi = typeof Koffi.default;
import { NtAdapterState } from './wireguard-nt-abi.js';

export type WireGuardNtErrorCode =
  /** Not Windows: wireguard.dll cannot exist here. */
  | 'unsupported_platform'
  /** koffi or the DLL could not be loaded, or the DLL lacks a function. */
  | 'load_failed'
  /** A call returned failure; `win32Error` is GetLastError(). */
  | 'call_failed';

export class WireGuardNtError extends Error {
  constructor(
    readonly code: WireGuardNtErrorCode,
    message: string,
    readonly win32Error: number | null = null,
  ) {
    super(message);
    this.name = 'WireGuardNtError';
  }
}

/** An adapter handle (WIREGUARD_ADAPTER_HANDLE): opaque outside the bindings. */
export interface NtAdapterHandle {
  readonly __ntAdapter: unique symbol;
}

export type NtLogger = (level: number, timestamp: bigint, message: string) => void;

export interface WireGuardNtApi {
  /** `guid`: 16 bytes in GUID memory order, or null for a random one. */
  createAdapter(name: string, tunnelType: string, guid: Uint8Array | null): NtAdapterHandle;
  openAdapter(name: string): NtAdapterHandle;
  /** Frees the handle; an adapter made by createAdapter is removed with it. */
  closeAdapter(adapter: NtAdapterHandle): void;
  setConfiguration(adapter: NtAdapterHandle, config: Buffer): void;
  /** The whole configuration buffer (grown and retried on ERROR_MORE_DATA). */
  getConfiguration(adapter: NtAdapterHandle): Buffer;
  setAdapterState(adapter: NtAdapterHandle, up: boolean): void;
  /** null detaches the logger. */
  setLogger(logger: NtLogger | null): void;
}

/** winerror.h */
export const ERROR_MORE_DATA = 234;
/** A first GetConfiguration guess: an interface and a few peers; grown on ERROR_MORE_DATA. */
const INITIAL_CONFIG_BUFFER_BYTES = 4096;
/** The driver reports the size it needs; a few retries cover peers added between calls. */
const GET_CONFIGURATION_ATTEMPTS = 4;

/** The koffi types of wireguard.h (and the Winsock types it uses), Windows x64 layout. */
export interface NtKoffiTypes {
  readonly IN_ADDR: Koffi.TypeObject;
  readonly IN6_ADDR: Koffi.TypeObject;
  readonly SOCKADDR_IN: Koffi.TypeObject;
  readonly SOCKADDR_IN6: Koffi.TypeObject;
  readonly SOCKADDR_INET: Koffi.TypeObject;
  readonly GUID: Koffi.TypeObject;
  readonly WIREGUARD_ALLOWED_IP: Koffi.TypeObject;
  readonly WIREGUARD_PEER: Koffi.TypeObject;
  readonly WIREGUARD_INTERFACE: Koffi.TypeObject;
  readonly WIREGUARD_ADAPTER_HANDLE: Koffi.TypeObject;
  readonly WIREGUARD_LOGGER_CALLBACK: Koffi.TypeObject;
}

/**
 * Declares the types once per koffi instance (koffi type names are global to it). ALIGNED(8)
 * on a struct is expressed as an 8-byte alignment of its first member, which gives the struct
 * alignment 8 and rounds its size up to a multiple of 8, as the attribute does.
 */
const typeCache = new WeakMap<object, NtKoffiTypes>();
export function ntKoffiTypes(koffi: KoffiApi): NtKoffiTypes {
  const cached = typeCache.get(koffi);
  if (cached) return cached;
  const IN_ADDR = koffi.union('TRELLIS_IN_ADDR', {
    S_un_b: koffi.array('uint8_t', 4),
    S_un_w: koffi.array('uint16_t', 2),
    S_addr: 'uint32_t',
  });
  const IN6_ADDR = koffi.union('TRELLIS_IN6_ADDR', {
    Byte: koffi.array('uint8_t', 16),
    Word: koffi.array('uint16_t', 8),
  });
  const SOCKADDR_IN = koffi.struct('TRELLIS_SOCKADDR_IN', {
    sin_family: 'uint16_t',
    sin_port: 'uint16_t',
    sin_addr: IN_ADDR,
    sin_zero: koffi.array('char', 8),
  });
  const SOCKADDR_IN6 = koffi.struct('TRELLIS_SOCKADDR_IN6', {
    sin6_family: 'uint16_t',
    sin6_port: 'uint16_t',
    sin6_flowinfo: 'uint32_t',
    sin6_addr: IN6_ADDR,
    sin6_scope_id: 'uint32_t',
  });
  const SOCKADDR_INET = koffi.union('TRELLIS_SOCKADDR_INET', {
    Ipv4: SOCKADDR_IN,
    Ipv6: SOCKADDR_IN6,
    si_family: 'uint16_t',
  });
  const GUID = koffi.struct('TRELLIS_GUID', {
    Data1: 'uint32_t',
    Data2: 'uint16_t',
    Data3: 'uint16_t',
    Data4: koffi.array('uint8_t', 8),
  });
  const WIREGUARD_ALLOWED_IP = koffi.struct('TRELLIS_WIREGUARD_ALLOWED_IP', {
    Address: [8, koffi.union({ V4: IN_ADDR, V6: IN6_ADDR })],
    AddressFamily: 'uint16_t',
    Cidr: 'uint8_t',
  });
  const WIREGUARD_PEER = koffi.struct('TRELLIS_WIREGUARD_PEER', {
    Flags: [8, 'uint32_t'],
    Reserved: 'uint32_t',
    PublicKey: koffi.array('uint8_t', 32),
    PresharedKey: koffi.array('uint8_t', 32),
    PersistentKeepalive: 'uint16_t',
    Endpoint: SOCKADDR_INET,
    TxBytes: 'uint64_t',
    RxBytes: 'uint64_t',
    LastHandshake: 'uint64_t',
    AllowedIPsCount: 'uint32_t',
  });
  const WIREGUARD_INTERFACE = koffi.struct('TRELLIS_WIREGUARD_INTERFACE', {
    Flags: [8, 'uint32_t'],
    ListenPort: 'uint16_t',
    PrivateKey: koffi.array('uint8_t', 32),
    PublicKey: koffi.array('uint8_t', 32),
    PeersCount: 'uint32_t',
  });
  const WIREGUARD_ADAPTER_HANDLE = koffi.pointer(
    'TRELLIS_WIREGUARD_ADAPTER_HANDLE',
    koffi.opaque('TRELLIS_WIREGUARD_ADAPTER'),
  );
  const WIREGUARD_LOGGER_CALLBACK = koffi.proto(
    'void __stdcall TRELLIS_WIREGUARD_LOGGER_CALLBACK(int Level, uint64_t Timestamp, const char16_t *Message)',
  );
  const types: NtKoffiTypes = {
    IN_ADDR,
    IN6_ADDR,
    SOCKADDR_IN,
    SOCKADDR_IN6,
    SOCKADDR_INET,
    GUID,
    WIREGUARD_ALLOWED_IP,
    WIREGUARD_PEER,
    WIREGUARD_INTERFACE,
    WIREGUARD_ADAPTER_HANDLE,
    WIREGUARD_LOGGER_CALLBACK,
  };
  typeCache.set(koffi, types);
  return types;
}

/** GUID fields from its 16 bytes in memory order (Data1-3 little-endian, as Windows stores them). */
function guidFields(bytes: Uint8Array): Record<string, unknown> {
  const b = Buffer.from(bytes);
  return {
    Data1: b.readUInt32LE(0),
    Data2: b.readUInt16LE(4),
    Data3: b.readUInt16LE(6),
    Data4: [...b.subarray(8, 16)],
  };
}

/**
 * A stable GUID per adapter name (RFC 4122 version 5 style, from SHA-256): Windows keys its
 * network profile (NLA) on the adapter GUID, so a random one would create a new "network" at
 * every start.
 */
export function adapterGuid(name: string): Uint8Array {
  const h = createHash('sha256').update(`trellis wireguard-nt adapter ${name}`).digest();
  const g = new Uint8Array(h.subarray(0, 16));
  g[7] = ((g[7] ?? 0) & 0x0f) | 0x50; // version 5 (Data3's high nibble, little-endian)
  g[8] = ((g[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  return g;
}

/**
 * Binds the calls of an already loaded library. `getLastError` reads the thread's last error
 * right after a failed call (on Windows: kernel32's GetLastError; koffi preserves it across
 * the call boundary). Exposed for tests, which bind a stand-in library built here.
 */
export function bindWireGuardNt(
  koffi: KoffiApi,
  lib: Koffi.LibraryHandle,
  getLastError: () => number,
): WireGuardNtApi {
  const t = ntKoffiTypes(koffi);
  const fn = (decl: string) => {
    try {
      return lib.func(decl);
    } catch (e) {
      throw new WireGuardNtError('load_failed', `wireguard.dll: ${(e as Error).message}`);
    }
  };
  const H = 'TRELLIS_WIREGUARD_ADAPTER_HANDLE';
  const create = fn(
    `${H} __stdcall WireGuardCreateAdapter(const char16_t *Name, const char16_t *TunnelType, const TRELLIS_GUID *RequestedGUID)`,
  );
  const open = fn(`${H} __stdcall WireGuardOpenAdapter(const char16_t *Name)`);
  const close = fn(`void __stdcall WireGuardCloseAdapter(${H} Adapter)`);
  const setConfig = fn(
    `int __stdcall WireGuardSetConfiguration(${H} Adapter, const void *Config, uint32_t Bytes)`,
  );
  const getConfig = fn(
    `int __stdcall WireGuardGetConfiguration(${H} Adapter, void *Config, _Inout_ uint32_t *Bytes)`,
  );
  const setState = fn(`int __stdcall WireGuardSetAdapterState(${H} Adapter, int State)`);
  const setLogger = fn(
    `void __stdcall WireGuardSetLogger(TRELLIS_WIREGUARD_LOGGER_CALLBACK *NewLogger)`,
  );

  const failed = (what: string): WireGuardNtError => {
    const code = getLastError();
    return new WireGuardNtError('call_failed', `${what} failed (Windows error ${code})`, code);
  };
  const handle = (h: unknown, what: string): NtAdapterHandle => {
    if (h === null || h === undefined) throw failed(what);
    return h as NtAdapterHandle;
  };
  /** The registered logger trampoline (a native function pointer). */
  let registered: bigint | null = null;

  return {
    createAdapter(name, tunnelType, guid) {
      return handle(
        create(name, tunnelType, guid === null ? null : guidFields(guid)),
        `WireGuardCreateAdapter(${name})`,
      );
    },
    openAdapter(name) {
      return handle(open(name), `WireGuardOpenAdapter(${name})`);
    },
    closeAdapter(adapter) {
      close(adapter);
    },
    setConfiguration(adapter, config) {
      if (!setConfig(adapter, config, config.length)) throw failed('WireGuardSetConfiguration');
    },
    getConfiguration(adapter) {
      let size = INITIAL_CONFIG_BUFFER_BYTES;
      for (let i = 0; i < GET_CONFIGURATION_ATTEMPTS; i++) {
        const buf = Buffer.alloc(size);
        const bytes = [size];
        if (getConfig(adapter, buf, bytes)) {
          const n = bytes[0] ?? 0;
          if (n > buf.length) throw failed('WireGuardGetConfiguration (size grew past buffer)');
          return buf.subarray(0, n);
        }
        const error = getLastError();
        if (error !== ERROR_MORE_DATA || (bytes[0] ?? 0) <= size) {
          throw new WireGuardNtError(
            'call_failed',
            `WireGuardGetConfiguration failed (Windows error ${error})`,
            error,
          );
        }
        size = bytes[0] ?? size;
      }
      throw new WireGuardNtError(
        'call_failed',
        'WireGuardGetConfiguration kept asking for a larger buffer',
        ERROR_MORE_DATA,
      );
    },
    setAdapterState(adapter, up) {
      const state = up ? NtAdapterState.UP : NtAdapterState.DOWN;
      if (!setState(adapter, state))
        throw failed(`WireGuardSetAdapterState(${up ? 'up' : 'down'})`);
    },
    setLogger(logger) {
      const previous = registered;
      if (logger === null) {
        setLogger(null);
        registered = null;
      } else {
        registered = koffi.register(
          (level: number, timestamp: bigint | number, message: string) =>
            logger(level, BigInt(timestamp), message),
          koffi.pointer(t.WIREGUARD_LOGGER_CALLBACK),
        );
        setLogger(registered);
      }
      // Only once the DLL holds the new pointer may the old one go.
      if (previous) koffi.unregister(previous);
    },
  };
}

export interface LoadWireGuardNtOptions {
  /** Path of wireguard.dll (shipped in the app's resources, see docs/install.md). */
  readonly dllPath: string;
  /** Injected for tests; default process.platform. */
  readonly platform?: NodeJS.Platform;
}

/** Loads wireguard.dll and binds it. Windows only; a WireGuardNtError elsewhere. */
export async function loadWireGuardNt(options: LoadWireGuardNtOptions): Promise<WireGuardNtApi> {
  const platform = options.platform ?? process.platform;
  if (platform !== 'win32') {
    throw new WireGuardNtError(
      'unsupported_platform',
      `wireguard-nt is a Windows driver; this is ${platform} (use the wireguard-go or kernel backend)`,
    );
  }
  let koffi: KoffiApi;
  try {
    koffi = (await import('koffi')).default;
  } catch (e) {
    throw new WireGuardNtError('load_failed', `koffi could not be loaded: ${(e as Error).message}`);
  }
  let lib: Koffi.LibraryHandle;
  let kernel32: Koffi.LibraryHandle;
  try {
    lib = koffi.load(options.dllPath);
    kernel32 = koffi.load('kernel32.dll');
  } catch (e) {
    throw new WireGuardNtError(
      'load_failed',
      `could not load ${options.dllPath}: ${(e as Error).message}`,
    );
  }
  const getLastError = kernel32.func('uint32_t __stdcall GetLastError()');
  return bindWireGuardNt(koffi, lib, () => Number(getLastError()));
}
