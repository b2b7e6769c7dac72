/**
 * Picks the WireGuard backend for this machine. Windows: wireguard-nt (wireguard.dll through
 * koffi). macOS: wireguard-go on a utun device, its iproute2 housekeeping answered by macOS
 * tools (os/darwin.ts). Linux: the kernel module when it is there (faster, and its device
 * survives a helper restart), wireguard-go otherwise.
 *
 * Kernel support shows as /sys/module/wireguard once the module is loaded; when it is not loaded
 * yet, creating a throwaway `type wireguard` link makes the kernel autoload it, so a successful
 * probe (deleted straight away) is as good a sign.
 */
import { existsSync } from 'node:fs';
import { runCommand, type Exec } from '../exec.js';
import { darwinIpExec } from '../os/darwin.js';
import { IpCommand } from '../os/iproute.js';
import { KernelWireGuardBackend, probeLinkName } from './kernel.js';
import type { WireGuardBackend } from './types.js';
import { WireGuardGoBackend, type WireGuardGoOptions } from './wireguard-go.js';
import { WireGuardNtBackend } from './wireguard-nt.js';
import { loadWireGuardNt } from './wireguard-nt-ffi.js';

export const KERNEL_MODULE_PATH = '/sys/module/wireguard';

export interface ChooseBackendOptions {
  readonly exec?: Exec;
  readonly netns?: string;
  /** Injected for tests; default fs.existsSync. */
  readonly pathExists?: (path: string) => boolean;
  /** Options for wireguard-go when it is chosen (netns and exec are passed through). */
  readonly wireguardGo?: Omit<WireGuardGoOptions, 'netns' | 'exec'>;
  /** Injected for tests; default process.platform. */
  readonly platform?: NodeJS.Platform;
  /**
   * wireguard.dll on Windows; default $TRELLIS_WIREGUARD_DLL (the packaged launcher sets it to
   * the copy in the app's resources), else `wireguard.dll` from the DLL search path.
   */
  readonly wireguardNtDll?: string;
}

/** Where wireguard.dll is looked for when no path is given. */
export const wireguardNtDllPath = (options: ChooseBackendOptions): string =>
  options.wireguardNtDll ?? (process.env.TRELLIS_WIREGUARD_DLL || 'wireguard.dll');

export type KernelSupport = 'module_loaded' | 'probe_succeeded' | 'unavailable';

export async function detectKernelWireGuard(
  options: ChooseBackendOptions = {},
): Promise<KernelSupport> {
  const pathExists = options.pathExists ?? existsSync;
  if (pathExists(KERNEL_MODULE_PATH)) return 'module_loaded';
  const ip = new IpCommand(options.exec ?? runCommand, options.netns);
  const probe = probeLinkName();
  try {
    await ip.run(['link', 'add', 'dev', probe, 'type', 'wireguard']);
  } catch {
    return 'unavailable';
  }
  await ip.deleteLink(probe).catch(() => undefined);
  return 'probe_succeeded';
}

export async function chooseBackend(options: ChooseBackendOptions = {}): Promise<WireGuardBackend> {
  const exec = options.exec ?? runCommand;
  const netns = options.netns;
  switch (options.platform ?? process.platform) {
    case 'win32': {
      const dllPath = wireguardNtDllPath(options);
      return new WireGuardNtBackend({ exec, loadApi: () => loadWireGuardNt({ dllPath }) });
    }
    case 'darwin':
      return new WireGuardGoBackend({ ...options.wireguardGo, exec: darwinIpExec(exec) });
    default:
      break;
  }
  const support = await detectKernelWireGuard(options);
  if (support !== 'unavailable') {
    return new KernelWireGuardBackend({ exec, ...(netns !== undefined ? { netns } : {}) });
  }
  return new WireGuardGoBackend({
    ...options.wireguardGo,
    exec,
    ...(netns !== undefined ? { netns } : {}),
  });
}
