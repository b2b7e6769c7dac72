/**
 * Picks the WireGuard backend for this machine: the kernel module when it is there (faster, and
 * its device survives a helper restart), wireguard-go otherwise.
 *
 * Kernel support shows as /sys/module/wireguard once the module is loaded; when it is not loaded
 * yet, creating a throwaway `type wireguard` link makes the kernel autoload it, so a successful
 * probe (deleted straight away) is as good a sign.
 */
import { existsSync } from 'node:fs';
import { runCommand, type Exec } from '../exec.js';
import { IpCommand } from '../os/iproute.js';
import { KernelWireGuardBackend, probeLinkName } from './kernel.js';
import type { WireGuardBackend } from './types.js';
import { WireGuardGoBackend, type WireGuardGoOptions } from './wireguard-go.js';

export const KERNEL_MODULE_PATH = '/sys/module/wireguard';

export interface ChooseBackendOptions {
  readonly exec?: Exec;
  readonly netns?: string;
  /** Injected for tests; default fs.existsSync. */
  readonly pathExists?: (path: string) => boolean;
  /** Options for wireguard-go when it is chosen (netns and exec are passed through). */
  readonly wireguardGo?: Omit<WireGuardGoOptions, 'netns' | 'exec'>;
}

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
