/** trellisd's command line → its configuration (pure, unit-tested). */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { err, ok, type Result } from '../../shared/result.js';
import { HttpUrl } from '../../shared/schema/common.js';
import { defaultLocalApiEndpoint, localApiEndpointError } from '../../shared/schema/localapi.js';
import { DEFAULT_MTU } from '../engine/index.js';
import { isValidInterfaceName, isValidNetnsName } from '../os/ifname.js';
import { DEFAULT_STATE_DIR } from '../state/store.js';
import { DEFAULT_CONTROL_URL, DEFAULT_TUN_NAME, DEFAULT_WG_LISTEN_PORT } from './defaults.js';

export type BackendChoice = 'wireguard-go' | 'kernel' | 'auto';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface TrellisdFlags {
  readonly stateDir: string;
  /** The LocalAPI endpoint: a Unix socket path, or on Windows a named pipe. */
  readonly socket: string;
  /** --socket-group (not on Windows); null: the `trellis` group if it exists, else root only. */
  readonly socketGroup: string | null;
  readonly controlUrl: string;
  readonly tunName: string;
  readonly backend: BackendChoice;
  readonly logLevel: LogLevel;
  /** magicsock's UDP port (WireGuard's own port when magicsock is off). */
  readonly port: number;
  /**
   * Whether magicsock carries the traffic. It must share a network namespace with WireGuard (its
   * loopback proxies), so 'auto' turns it off with --netns, where the daemon stays outside.
   */
  readonly magicsock: boolean;
  /**
   * The direct fast path (WireGuard's own port carries direct traffic): 'auto' where the system
   * supports it (Linux, nftables, wireguard-go); always 'off' without magicsock.
   */
  readonly fastPath: 'on' | 'off' | 'auto';
  readonly mtu: number;
  /** Put the WireGuard interface, its OS config and pings in this network namespace. */
  readonly netns: string | null;
  /**
   * Stop (as on SIGTERM) when stdin reaches its end: how the Windows service host, which has no
   * signals to send a console-less child, asks for a clean stop.
   */
  readonly stopOnStdinClose: boolean;
}

/** The usage text; `platform` picks the defaults shown (process.platform). */
export const trellisdUsage = (platform: string) => `usage: trellisd [flags]

  --state-dir DIR        state directory (default ${DEFAULT_STATE_DIR})
  --socket PATH          LocalAPI socket, a named pipe on Windows (default ${defaultLocalApiEndpoint(platform)})
  --socket-group GROUP   group allowed to use the socket (default: "trellis" if it exists, else root only)
  --control-url URL      control server for a fresh state directory (default ${DEFAULT_CONTROL_URL})
  --tun-name NAME        WireGuard interface name (default ${DEFAULT_TUN_NAME})
  --backend KIND         wireguard-go, kernel or auto (default auto)
  --port N               UDP port peers reach us on, 0 to pick one (default ${DEFAULT_WG_LISTEN_PORT})
  --magicsock MODE       on, off or auto: auto is on, except with --netns (default auto)
  --fast-path MODE       on, off or auto: WireGuard's port carries direct traffic (default auto)
  --mtu N                tunnel MTU (default ${DEFAULT_MTU})
  --netns NAME           put the interface, its OS config and pings in this network namespace
  --log-level LEVEL      ${LOG_LEVELS.join(', ')} (default info)
  --stop-on-stdin-close  stop cleanly, as on SIGTERM, when stdin closes (the Windows service)
`;
export const TRELLISD_USAGE = trellisdUsage(process.platform);

/** Parses trellisd's argv for `platform` (process.platform), which decides the socket's kind. */
export function parseTrellisdFlags(
  argv: readonly string[],
  platform: string = process.platform,
): Result<TrellisdFlags | 'help', string> {
  let values: Record<string, string | boolean | undefined>;
  try {
    const r = parseArgs({
      args: [...argv],
      options: {
        'state-dir': { type: 'string' },
        socket: { type: 'string' },
        'socket-group': { type: 'string' },
        'control-url': { type: 'string' },
        'tun-name': { type: 'string' },
        backend: { type: 'string' },
        'log-level': { type: 'string' },
        port: { type: 'string' },
        magicsock: { type: 'string' },
        'fast-path': { type: 'string' },
        mtu: { type: 'string' },
        netns: { type: 'string' },
        'stop-on-stdin-close': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    });
    values = r.values;
  } catch (e) {
    return err((e as Error).message);
  }
  if (values.help) return ok('help');
  const str = (k: string): string | undefined =>
    typeof values[k] === 'string' ? (values[k] as string) : undefined;

  const controlUrl = str('control-url') ?? DEFAULT_CONTROL_URL;
  if (!HttpUrl.safeParse(controlUrl).success)
    return err(`--control-url must be an http(s) URL, not ${JSON.stringify(controlUrl)}`);
  const tunName = str('tun-name') ?? DEFAULT_TUN_NAME;
  if (!isValidInterfaceName(tunName))
    return err(`--tun-name must be a Linux interface name (1-15 of [A-Za-z0-9_.-])`);
  const backend = str('backend') ?? 'auto';
  if (backend !== 'wireguard-go' && backend !== 'kernel' && backend !== 'auto') {
    return err(`--backend must be wireguard-go, kernel or auto, not ${JSON.stringify(backend)}`);
  }
  const logLevel = str('log-level') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    return err(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const port = Number(str('port') ?? DEFAULT_WG_LISTEN_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return err('--port must be 0-65535');
  const mtu = Number(str('mtu') ?? DEFAULT_MTU);
  if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 65535) return err('--mtu must be 1280-65535');
  const netns = str('netns') ?? null;
  if (netns !== null && !isValidNetnsName(netns))
    return err('--netns must be a network namespace name');
  const magicsock = str('magicsock') ?? 'auto';
  if (magicsock !== 'on' && magicsock !== 'off' && magicsock !== 'auto')
    return err(`--magicsock must be on, off or auto, not ${JSON.stringify(magicsock)}`);
  if (magicsock === 'on' && netns !== null)
    return err('--magicsock on needs trellisd in the same namespace as WireGuard (no --netns)');
  const fastPath = str('fast-path') ?? 'auto';
  if (fastPath !== 'on' && fastPath !== 'off' && fastPath !== 'auto')
    return err(`--fast-path must be on, off or auto, not ${JSON.stringify(fastPath)}`);
  const withMagicsock = magicsock === 'on' || (magicsock === 'auto' && netns === null);
  if (fastPath === 'on' && !withMagicsock) return err('--fast-path on needs magicsock');
  const socket = str('socket') ?? defaultLocalApiEndpoint(platform);
  const socketError = localApiEndpointError(socket, platform);
  if (socketError !== null) return err(`--socket ${socketError}`);
  const socketGroup = str('socket-group') ?? null;
  if (socketGroup !== null && platform === 'win32')
    return err('--socket-group does not apply on Windows: every local user may use the pipe');
  const stateDir = str('state-dir') ?? DEFAULT_STATE_DIR;
  // Windows: C:\ProgramData\Trellis\state as the service scripts pass it.
  const isAbsolute = platform === 'win32' ? path.win32.isAbsolute : path.posix.isAbsolute;
  if (!isAbsolute(stateDir)) return err('--state-dir must be an absolute path');

  return ok({
    stateDir,
    socket,
    socketGroup,
    controlUrl,
    tunName,
    backend,
    logLevel: logLevel as LogLevel,
    port,
    magicsock: withMagicsock,
    fastPath: withMagicsock ? fastPath : 'off',
    mtu,
    netns,
    stopOnStdinClose: values['stop-on-stdin-close'] === true,
  });
}
