/**
 * Network-namespace toolkit for the lab and the e2e tests.
 *
 * Every name a run creates carries a per-run prefix (`tl` + 4 random base-36 characters, so an
 * interface name still has 9 characters left within Linux's 15). Namespaces are joined only to
 * each other by veth pairs created directly inside them: nothing ever gets a link to the host's
 * network. Everything is deleted on dispose(), on process exit and on SIGINT/SIGTERM, and
 * cleanupStale() removes leftovers of runs that died harder than that (SIGKILL, power loss).
 *
 * Several runs may share the machine (CI runs files one at a time, but developers overlap), so
 * each run registers its prefix with its pid under LAB_STATE_DIR; cleanupStale() only touches
 * prefixes whose registering process is gone.
 *
 * Files a run needs (a control plane's data directory, keys, configs) go in its work directory,
 * LAB_WORK_ROOT/<prefix>, which follows the same lifecycle as its namespaces.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, type ExecOptions, type ExecResult } from '../../src/helper/exec.js';
import { isValidInterfaceName, isValidNetnsName } from '../../src/helper/os/ifname.js';
import { WIREGUARD_SOCKET_DIR } from '../../src/helper/wg/uapi.js';

/** Matches every prefix a lab run hands out. */
export const LAB_PREFIX_RE = /^tl[0-9a-z]{4}/;
/** Where runs register their prefix and pid (tmpfs: cleared by a reboot, like namespaces). */
export const LAB_STATE_DIR = '/run/trellis-lab';
/** Parent of every run's work directory. */
export const LAB_WORK_ROOT = join(tmpdir(), 'trellis-lab');
/** A run's work directory (created on first use by Lab.workDir()). */
export const labWorkDir = (prefix: string): string => join(LAB_WORK_ROOT, prefix);
/** Carrier and IPv6 link-local setup take well under a second; 10 s means something is broken. */
const LINK_READY_TIMEOUT_MS = 10_000;
const LINK_POLL_MS = 25;
/** Synchronous cleanup at exit must finish even if `ip` hangs. */
const SYNC_COMMAND_TIMEOUT_MS = 10_000;

function newPrefix(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return `tl${Array.from(randomBytes(4), (b) => alphabet[b % alphabet.length]).join('')}`;
}

function runSync(command: string, args: readonly string[]): string | null {
  try {
    return execFileSync(command, [...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: SYNC_COMMAND_TIMEOUT_MS,
    });
  } catch {
    return null;
  }
}

/**
 * Files `ip netns exec <ns>` mounts over /etc for programs in the namespace (resolv.conf): each
 * lab namespace's own DNS settings, so nothing run in the lab ever sees or changes the host's.
 */
export const NETNS_ETC_DIR = '/etc/netns';
export const netnsResolvConf = (ns: string): string => join(NETNS_ETC_DIR, ns, 'resolv.conf');

/** Kills every process inside a namespace, then deletes it. Synchronous: usable at exit. */
function destroyNamespaceSync(ns: string): void {
  rmSync(join(NETNS_ETC_DIR, ns), { recursive: true, force: true });
  const pids = runSync('ip', ['netns', 'pids', ns]) ?? '';
  for (const pid of pids.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  runSync('ip', ['netns', 'del', ns]);
}

/** The socket directory's entries; [] when it does not exist yet. */
function socketFiles(): string[] {
  try {
    return readdirSync(WIREGUARD_SOCKET_DIR);
  } catch {
    return [];
  }
}

function removeSocketsSync(prefix: string): string[] {
  const removed: string[] = [];
  for (const n of socketFiles()) {
    if (n.startsWith(prefix) && n.endsWith('.sock')) {
      rmSync(join(WIREGUARD_SOCKET_DIR, n), { force: true });
      removed.push(n);
    }
  }
  return removed;
}

function listNamespacesSync(): string[] {
  const out = runSync('ip', ['netns', 'list']) ?? '';
  // Lines look like "name" or "name (id: 3)".
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

function ownerAlive(prefix: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(LAB_STATE_DIR, prefix), 'utf8').trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The Debian package that provides each tool the lab uses (scripts/setup-system.sh installs them). */
export const LAB_TOOL_PACKAGES: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
  ping: 'iputils-ping',
  nft: 'nftables',
  iperf3: 'iperf3',
  conntrack: 'conntrack',
  miniupnpd: 'miniupnpd-nftables',
};

function onPath(tool: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => {
    try {
      accessSync(join(d, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Throws (so the test fails, never skips) unless we are root and every tool is installed,
 * naming what to install.
 */
export function requireLabPrerequisites(tools: readonly string[]): void {
  const problems: string[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push('network-namespace tests must run as root');
  }
  for (const t of ['ip', ...tools]) {
    if (!onPath(t)) {
      problems.push(`\`${t}\` not found: install the Debian package ${LAB_TOOL_PACKAGES[t] ?? t}`);
    }
  }
  if (problems.length > 0) throw new Error(`lab prerequisites missing: ${problems.join('; ')}`);
}

export interface StaleCleanup {
  readonly namespaces: string[];
  readonly sockets: string[];
  readonly links: string[];
  /** Work directories (full paths) of dead runs. */
  readonly workDirs: string[];
}

/** Entries of the work root; [] when it does not exist yet. */
function workDirEntries(): string[] {
  try {
    return readdirSync(LAB_WORK_ROOT);
  } catch {
    return [];
  }
}

/**
 * Removes what earlier runs left behind: namespaces (and the processes in them), host-side links
 * and WireGuard sockets whose names match `prefixPattern`, for prefixes whose run is gone.
 */
export function cleanupStale(prefixPattern: RegExp = LAB_PREFIX_RE): StaleCleanup {
  const result: StaleCleanup = { namespaces: [], sockets: [], links: [], workDirs: [] };
  const stale = (name: string): string | null => {
    const m = prefixPattern.exec(name);
    if (!m || m.index !== 0) return null;
    return ownerAlive(m[0]) ? null : m[0];
  };
  const prefixes = new Set<string>();
  for (const ns of listNamespacesSync()) {
    const p = stale(ns);
    if (p === null) continue;
    destroyNamespaceSync(ns);
    result.namespaces.push(ns);
    prefixes.add(p);
  }
  // Interfaces a run made in the host namespace (a wireguard-go started without netns).
  const linksJson = runSync('ip', ['-json', '-details', 'link', 'show']) ?? '[]';
  let links: Array<{ ifname?: unknown; linkinfo?: { info_kind?: unknown } }> = [];
  try {
    links = JSON.parse(linksJson) as typeof links;
  } catch {
    links = [];
  }
  for (const l of links) {
    const name = typeof l.ifname === 'string' ? l.ifname : '';
    const kind = l.linkinfo?.info_kind;
    if (!['tun', 'wireguard', 'veth'].includes(String(kind))) continue;
    const p = stale(name);
    if (p === null) continue;
    runSync('ip', ['link', 'del', 'dev', name]);
    result.links.push(name);
    prefixes.add(p);
  }
  for (const s of socketFiles()) {
    const p = stale(s);
    if (p !== null) prefixes.add(p);
  }
  for (const d of workDirEntries()) {
    const p = stale(d);
    if (p !== null) prefixes.add(p);
  }
  // /etc/netns entries of namespaces that are already gone.
  let etcEntries: string[];
  try {
    etcEntries = readdirSync(NETNS_ETC_DIR);
  } catch {
    etcEntries = [];
  }
  for (const d of etcEntries) {
    if (stale(d) !== null) rmSync(join(NETNS_ETC_DIR, d), { recursive: true, force: true });
  }
  for (const p of prefixes) {
    result.sockets.push(...removeSocketsSync(p));
    const dir = labWorkDir(p);
    if (workDirEntries().includes(p)) {
      rmSync(dir, { recursive: true, force: true });
      result.workDirs.push(dir);
    }
    rmSync(join(LAB_STATE_DIR, p), { force: true });
  }
  return result;
}

export interface Lab {
  /** This run's prefix, e.g. "tl3k9x". */
  readonly prefix: string;
  /** prefix + suffix, checked to be a valid interface name (at most 15 characters). */
  ifname(suffix: string): string;
  /**
   * This run's work directory (mode 0700), created on first call and deleted with the lab (and
   * by cleanupStale() when the run died without deleting it).
   */
  workDir(): string;
  /** The namespaces this lab has created and not yet deleted. */
  namespaceNames(): string[];
  /** Creates namespace `<prefix><suffix>` with loopback up; returns its name. */
  createNamespace(suffix: string): Promise<string>;
  /** A veth pair with one end in each namespace (both must belong to this lab). */
  createVeth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void>;
  addAddress(ns: string, ifname: string, cidr: string): Promise<void>;
  setUp(ns: string, ifname: string): Promise<void>;
  /**
   * Waits until a link (typically a veth whose two ends are up) carries traffic and the kernel
   * has finished configuring it (IPv6 link-local address present, nothing tentative), so that
   * address and route snapshots taken afterwards are stable.
   */
  waitLinkReady(ns: string, ifname: string, timeoutMs?: number): Promise<void>;
  /**
   * Gives a namespace its own resolv.conf (/etc/netns/<ns>/resolv.conf, which `ip netns exec`
   * mounts over /etc/resolv.conf for programs started afterwards); removed with the namespace.
   */
  setResolvConf(ns: string, text: string): void;
  /** Runs a program inside a namespace (`ip netns exec`, no shell). */
  exec(
    ns: string,
    command: string,
    args: readonly string[],
    options?: ExecOptions,
  ): Promise<ExecResult>;
  /** Deletes every namespace (killing the processes in it) and socket this run created. */
  dispose(): Promise<void>;
}

const liveLabs = new Set<LabImpl>();
let hooksInstalled = false;

function disposeAllSync(): void {
  for (const lab of liveLabs) lab.disposeSync();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', disposeAllSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const handler = (): void => {
      disposeAllSync();
      // Re-raise with the default action so the exit status still says "killed by signal".
      process.removeListener(signal, handler);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

class LabImpl implements Lab {
  private readonly namespaces = new Set<string>();
  private disposed = false;

  constructor(readonly prefix: string) {
    mkdirSync(LAB_STATE_DIR, { recursive: true, mode: 0o700 });
    writeFileSync(join(LAB_STATE_DIR, prefix), `${process.pid}\n`);
    liveLabs.add(this);
    installExitHooks();
  }

  workDir(): string {
    if (this.disposed) throw new Error('lab is disposed');
    const dir = labWorkDir(this.prefix);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  namespaceNames(): string[] {
    return [...this.namespaces];
  }

  ifname(suffix: string): string {
    const name = `${this.prefix}${suffix}`;
    if (!isValidInterfaceName(name)) {
      throw new Error(
        `lab interface name ${JSON.stringify(name)} is invalid or longer than 15 characters`,
      );
    }
    return name;
  }

  private ownNs(ns: string): void {
    if (!this.namespaces.has(ns)) throw new Error(`namespace ${ns} does not belong to this lab`);
  }

  async createNamespace(suffix: string): Promise<string> {
    if (this.disposed) throw new Error('lab is disposed');
    const ns = `${this.prefix}${suffix}`;
    if (!isValidNetnsName(ns)) throw new Error(`invalid namespace name ${JSON.stringify(ns)}`);
    // Registered before creation, so a failure half-way is still cleaned up.
    this.namespaces.add(ns);
    await runCommand('ip', ['netns', 'add', ns]);
    await runCommand('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
    // No IPv6 duplicate address detection: a lab namespace cannot have duplicates, and DAD only
    // delays every address (and its routes) by a second after each link change.
    await runCommand('ip', [
      'netns',
      'exec',
      ns,
      'sysctl',
      '-q',
      '-w',
      'net.ipv6.conf.all.accept_dad=0',
      'net.ipv6.conf.default.accept_dad=0',
    ]);
    return ns;
  }

  async createVeth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
    this.ownNs(nsA);
    this.ownNs(nsB);
    for (const n of [ifA, ifB]) {
      if (!isValidInterfaceName(n)) throw new Error(`invalid interface name ${JSON.stringify(n)}`);
    }
    // Both ends are created directly inside their namespaces: never in the host's.
    await runCommand('ip', [
      '-n',
      nsA,
      'link',
      'add',
      'name',
      ifA,
      'type',
      'veth',
      'peer',
      'name',
      ifB,
      'netns',
      nsB,
    ]);
  }

  async addAddress(ns: string, ifname: string, cidr: string): Promise<void> {
    this.ownNs(ns);
    await runCommand('ip', ['-n', ns, 'address', 'add', cidr, 'dev', ifname]);
  }

  async setUp(ns: string, ifname: string): Promise<void> {
    this.ownNs(ns);
    await runCommand('ip', ['-n', ns, 'link', 'set', 'dev', ifname, 'up']);
  }

  async waitLinkReady(
    ns: string,
    ifname: string,
    timeoutMs = LINK_READY_TIMEOUT_MS,
  ): Promise<void> {
    this.ownNs(ns);
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const { stdout } = await runCommand('ip', [
        '-n',
        ns,
        '-json',
        'address',
        'show',
        'dev',
        ifname,
      ]);
      last = stdout;
      const [link] = JSON.parse(stdout) as Array<{
        operstate?: string;
        addr_info?: Array<{ family: string; scope: string; tentative?: boolean }>;
      }>;
      const addrs = link?.addr_info ?? [];
      const ready =
        link?.operstate === 'UP' &&
        addrs.some((a) => a.family === 'inet6' && a.scope === 'link') &&
        !addrs.some((a) => a.tentative);
      if (ready) return;
      await new Promise((r) => setTimeout(r, LINK_POLL_MS));
    }
    throw new Error(`${ns}/${ifname} did not become ready in ${timeoutMs} ms: ${last}`);
  }

  setResolvConf(ns: string, text: string): void {
    this.ownNs(ns);
    mkdirSync(join(NETNS_ETC_DIR, ns), { recursive: true, mode: 0o755 });
    writeFileSync(netnsResolvConf(ns), text, { mode: 0o644 });
  }

  exec(
    ns: string,
    command: string,
    args: readonly string[],
    options?: ExecOptions,
  ): Promise<ExecResult> {
    this.ownNs(ns);
    return runCommand('ip', ['netns', 'exec', ns, command, ...args], options);
  }

  async dispose(): Promise<void> {
    this.disposeSync();
  }

  disposeSync(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const ns of this.namespaces) destroyNamespaceSync(ns);
    this.namespaces.clear();
    removeSocketsSync(this.prefix);
    // Before the state file: a work directory without one would look like a dead run's.
    rmSync(labWorkDir(this.prefix), { recursive: true, force: true });
    rmSync(join(LAB_STATE_DIR, this.prefix), { force: true });
    liveLabs.delete(this);
  }
}

/** Starts a lab run with a fresh prefix, after clearing stale leftovers of dead runs. */
export function createLab(): Lab {
  cleanupStale();
  return new LabImpl(newPrefix());
}

/** Kernel settings the helper may change (and must restore). */
export const SNAPSHOT_SYSCTLS = [
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.ipv4.conf.all.src_valid_mark',
] as const;

export interface NetSnapshot {
  /** Every address in the namespace, as "ifname family local/prefixlen scope", sorted. */
  readonly addresses: readonly string[];
  /** `ip -json route show table all`, IPv4 and IPv6, sorted. */
  readonly routes: readonly unknown[];
  /** `ip -json rule show`, IPv4 then IPv6. */
  readonly rules: readonly unknown[];
  /** `nft -j list ruleset` (every table, with handles). */
  readonly nftables: unknown;
  /** SNAPSHOT_SYSCTLS' values, "name=value". */
  readonly sysctls: readonly string[];
  /** The namespace's own resolv.conf (/etc/netns/<ns>/resolv.conf), or null without one. */
  readonly resolvConf: string | null;
}

/** Addresses, routes, rules, nftables, sysctls and DNS of a namespace, for before/after comparisons. */
export async function netSnapshot(ns: string): Promise<NetSnapshot> {
  const json = async (args: string[]): Promise<unknown[]> => {
    const { stdout } = await runCommand('ip', ['-n', ns, ...args]);
    return stdout.trim() === '' ? [] : (JSON.parse(stdout) as unknown[]);
  };
  const links = (await json(['-json', 'address', 'show'])) as Array<{
    ifname: string;
    addr_info?: Array<{ family: string; local: string; prefixlen: number; scope: string }>;
  }>;
  const addresses = links
    .flatMap((l) =>
      (l.addr_info ?? []).map(
        (a) => `${l.ifname} ${a.family} ${a.local}/${a.prefixlen} ${a.scope}`,
      ),
    )
    .sort();
  // Sorted: the kernel lists equal-metric routes in the order links came up, which says nothing.
  const routes = [
    ...(await json(['-4', '-json', 'route', 'show', 'table', 'all'])),
    ...(await json(['-6', '-json', 'route', 'show', 'table', 'all'])),
  ]
    .map((r) => JSON.stringify(r))
    .sort()
    .map((r) => JSON.parse(r) as unknown);
  const rules = [
    ...(await json(['-4', '-json', 'rule', 'show'])),
    ...(await json(['-6', '-json', 'rule', 'show'])),
  ];
  const inNs = (command: string, args: string[]) =>
    runCommand('ip', ['netns', 'exec', ns, command, ...args]);
  const nftables: unknown = JSON.parse((await inNs('nft', ['-j', 'list', 'ruleset'])).stdout);
  const sysctls = (await inNs('sysctl', [...SNAPSHOT_SYSCTLS])).stdout
    .trim()
    .split('\n')
    .map((l) => l.replace(/\s*=\s*/, '='));
  let resolvConf: string | null;
  try {
    resolvConf = readFileSync(netnsResolvConf(ns), 'utf8');
  } catch {
    resolvConf = null;
  }
  return { addresses, routes, rules, nftables, sysctls, resolvConf };
}
