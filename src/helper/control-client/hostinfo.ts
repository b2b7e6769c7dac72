/**
 * What the device tells control about itself (HostInfo), gathered from the OS through a small
 * interface so tests (and other OSes later) can supply the facts.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { formatPrefix, maskPrefix, parseCidr } from '../../shared/ip.js';
import {
  MAX_DISPLAY_NAME_LENGTH,
  MAX_HOSTNAME_LENGTH,
  MAX_VERSION_LENGTH,
} from '../../shared/schema/common.js';
import {
  MAX_LOCAL_NETWORKS,
  MAX_REPORTED_PROCESSES,
  type HostInfo,
} from '../../shared/schema/control/hostinfo.js';
import type { Prefs } from '../../shared/schema/localapi.js';
import { TRELLIS_VERSION } from '../../shared/version.js';

/** One address of one interface, as os.networkInterfaces() reports it. */
export interface InterfaceAddress {
  readonly interfaceName: string;
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  /** "192.168.1.5/24"; null when the OS did not report a netmask. */
  readonly cidr: string | null;
  readonly internal: boolean;
}

/** The OS facts the helper reports. */
export interface HostEnv {
  hostname(): string;
  /** Contents of /etc/os-release, or null when absent. */
  osRelease(): Promise<string | null>;
  kernelVersion(): string;
  arch(): string;
  interfaces(): InterfaceAddress[];
  /**
   * The executable paths of the running processes (Linux: the targets of /proc/<pid>/exe).
   * Absent: this host cannot tell, and no process is reported as running.
   */
  runningExecutables?(): Promise<string[]>;
}

/** A process table larger than this is cut short: posture checks name a handful of programs. */
export const MAX_SCANNED_PROCESSES = 65_536;

/** The executables of running processes as /proc shows them (all PID namespaces we can see). */
export async function procExecutables(procDir = '/proc'): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(procDir);
  } catch {
    return [];
  }
  const pids = entries.filter((e) => /^\d+$/.test(e)).slice(0, MAX_SCANNED_PROCESSES);
  const out = new Set<string>();
  for (const pid of pids) {
    try {
      // A replaced binary reads "/path (deleted)": the process still runs the old file.
      out.add((await fs.readlink(`${procDir}/${pid}/exe`)).replace(/ \(deleted\)$/, ''));
    } catch {
      // Kernel threads have no exe; processes come and go while we read.
    }
  }
  return [...out];
}

export const systemHostEnv: HostEnv = {
  hostname: () => os.hostname(),
  osRelease: async () => {
    for (const f of ['/etc/os-release', '/usr/lib/os-release']) {
      try {
        // os-release is a few hundred bytes; reading more than 64 KiB would mean it is not one.
        const text = await fs.readFile(f, 'utf8');
        return text.slice(0, 64 * 1024);
      } catch {
        // try the next location
      }
    }
    return null;
  },
  kernelVersion: () => os.release(),
  arch: () => os.arch(),
  runningExecutables: () => procExecutables(),
  interfaces: () => {
    const out: InterfaceAddress[] = [];
    for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
      for (const a of addrs ?? []) {
        out.push({
          interfaceName: name,
          address: a.address,
          family: a.family,
          cidr: a.cidr,
          internal: a.internal,
        });
      }
    }
    return out;
  },
};

/**
 * Parses os-release (KEY=value lines, values optionally quoted, `#` comments). Lines that do not
 * fit are skipped: the file is advisory, never a reason to fail.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2] ?? '';
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    out[m[1] as string] = value;
  }
  return out;
}

/**
 * Networks of the device's own non-mesh interfaces ("192.168.1.0/24"), for posture's local
 * network checks. Loopback, link-local and the WireGuard interface itself are left out.
 */
export function localNetworks(addrs: readonly InterfaceAddress[], meshInterface: string): string[] {
  const out = new Set<string>();
  for (const a of addrs) {
    if (a.internal || a.interfaceName === meshInterface || !a.cidr) continue;
    if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')) continue;
    const p = parseCidr(a.cidr);
    if (!p.ok) continue;
    out.add(formatPrefix(maskPrefix(p.value)));
    if (out.size >= MAX_LOCAL_NETWORKS) break;
  }
  return [...out];
}

/**
 * Of the paths posture asks about, those a running process executes. Only these are reported:
 * control learns nothing else about what runs on the device.
 */
export async function runningProcesses(
  env: HostEnv,
  processPaths: readonly string[],
): Promise<string[]> {
  if (processPaths.length === 0 || !env.runningExecutables) return [];
  const running = new Set(await env.runningExecutables());
  return [...new Set(processPaths)].filter((p) => running.has(p)).slice(0, MAX_REPORTED_PROCESSES);
}

export async function collectHostInfo(
  env: HostEnv,
  prefs: Pick<Prefs, 'hostname' | 'advertiseRoutes' | 'advertiseExitNode'>,
  meshInterface: string,
  /** The netmap's postureQueries.processPaths. */
  processPaths: readonly string[] = [],
): Promise<HostInfo> {
  const release = parseOsRelease((await env.osRelease()) ?? '');
  const description = release.PRETTY_NAME ?? release.NAME;
  return {
    hostname: (prefs.hostname ?? env.hostname()).slice(0, MAX_HOSTNAME_LENGTH),
    os: 'linux',
    osVersion: (release.VERSION_ID ?? '').slice(0, MAX_VERSION_LENGTH),
    kernelVersion: env.kernelVersion().slice(0, MAX_VERSION_LENGTH),
    clientVersion: TRELLIS_VERSION,
    arch: env.arch().slice(0, 32),
    ...(description ? { description: description.slice(0, MAX_DISPLAY_NAME_LENGTH) } : {}),
    posture: {
      runningProcesses: await runningProcesses(env, processPaths),
      localNetworks: localNetworks(env.interfaces(), meshInterface),
    },
    advertisedRoutes: [...prefs.advertiseRoutes],
    advertiseExitNode: prefs.advertiseExitNode,
  };
}
