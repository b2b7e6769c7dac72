/**
 * Whose /etc/resolv.conf this process sees. A process in a network namespace other than the
 * system's still shares the host's files: only `ip netns exec NAME` gives it a private mount
 * namespace with /etc/netns/NAME/resolv.conf bind-mounted over /etc/resolv.conf. Without that
 * mount, rewriting "its" resolv.conf rewrites the host's. So the helper treats /etc/resolv.conf
 * as its own only when it can prove it:
 *
 * - the initial network namespace: /proc/self/ns/net equals /proc/1/ns/net, or, when pid 1's is
 *   unreadable (some sandboxes deny it even to root), is the initial namespace's fixed inode;
 * - another namespace: it has a name (an nsfs mount of it in /run/netns), the mount visible on
 *   /etc/resolv.conf is a bind mount of /etc/netns/NAME/resolv.conf, and both paths are one file.
 *
 * Anything else, including not being able to tell which namespace this is, is a refusal with
 * the reason. All facts come through a ProcReader, so the logic is tested on captured /proc text.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { readFileBounded } from './in-place-file.js';

export const SYSTEM_RESOLV_CONF = '/etc/resolv.conf';
/** Where `ip netns` keeps its per-namespace files; `ip netns exec NAME` mounts NAME/resolv.conf. */
export const NETNS_ETC_DIR = '/etc/netns';
/** The file `ip netns exec NAME` mounts over /etc/resolv.conf. */
export const netnsResolvConf = (name: string): string =>
  path.posix.join(NETNS_ETC_DIR, name, 'resolv.conf');
/** Where `ip netns add` bind-mounts namespaces to name them (/var/run is a link to /run). */
const NETNS_RUN_DIRS = ['/run/netns', '/var/run/netns'];
/**
 * The initial network namespace's inode (NET_NS_INIT_INO, linux/nsfs.h) on kernels that fix it.
 * Older kernels give every namespace a dynamic inode from 0xF0000000 up, so no other namespace
 * can have this one: equal means initial, different proves nothing.
 */
export const INITIAL_NETNS_LINK = `net:[${0xeffffff9}]`;
/** mountinfo is a few KB even on busy hosts; this bounds what a hostile /proc could make us hold. */
const MAX_MOUNTINFO_BYTES = 4 * 1024 * 1024;

/** The facts the check reads; every method answers null when it cannot read (ENOENT, EACCES). */
export interface ProcReader {
  readlink(file: string): Promise<string | null>;
  readText(file: string): Promise<string | null>;
  /** The identity of the file a path names, symlinks followed ("dev:ino"). */
  fileId(file: string): Promise<string | null>;
  realpath(file: string): Promise<string | null>;
}

export type NetnsIdentity =
  | { readonly kind: 'initial' }
  /** `link` is /proc/self/ns/net's target; `initialUnknown` when pid 1's could not be read. */
  | { readonly kind: 'other'; readonly link: string; readonly initialUnknown: boolean }
  | { readonly kind: 'unknown'; readonly why: string };

export type ResolvConfOwner =
  /** The system's namespace: /etc/resolv.conf is the system's, as on any host. */
  | { readonly kind: 'initial' }
  /** `ip netns exec NAME` mounted the namespace's own file over /etc/resolv.conf. */
  | { readonly kind: 'netns'; readonly name: string }
  | { readonly kind: 'refused'; readonly reason: string };

const NETNS_LINK_RE = /^net:\[\d{1,20}\]$/;

/** Which network namespace this process is in, as far as /proc tells. */
export async function netnsIdentity(proc: ProcReader): Promise<NetnsIdentity> {
  const self = await proc.readlink('/proc/self/ns/net');
  if (self === null || !NETNS_LINK_RE.test(self)) {
    return {
      kind: 'unknown',
      why: `/proc/self/ns/net is ${self === null ? 'unreadable' : `not a namespace link (${JSON.stringify(self)})`}`,
    };
  }
  const init = await proc.readlink('/proc/1/ns/net');
  if (init !== null) {
    return self === init
      ? { kind: 'initial' }
      : { kind: 'other', link: self, initialUnknown: false };
  }
  if (self === INITIAL_NETNS_LINK) return { kind: 'initial' };
  return { kind: 'other', link: self, initialUnknown: true };
}

export interface MountEntry {
  readonly id: number;
  readonly parent: number;
  /** The mounted directory or file within its file system (for nsfs: the namespace's link). */
  readonly root: string;
  readonly mountPoint: string;
  readonly fsType: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescapeMountField = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** The entries of /proc/<pid>/mountinfo (proc(5)); malformed lines are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0 || sep + 1 >= f.length) continue;
    const id = Number(f[0]);
    const parent = Number(f[1]);
    if (!Number.isSafeInteger(id) || !Number.isSafeInteger(parent)) continue;
    out.push({
      id,
      parent,
      root: unescapeMountField(f[3] as string),
      mountPoint: unescapeMountField(f[4] as string),
      fsType: f[sep + 1] as string,
    });
  }
  return out;
}

/** The mount a path resolves to when several are stacked on it: the one nothing is mounted on. */
export function topMountAt(mounts: readonly MountEntry[], mountPoint: string): MountEntry | null {
  const here = mounts.filter((m) => m.mountPoint === mountPoint);
  return here.find((m) => !here.some((o) => o.parent === m.id && o !== m)) ?? null;
}

/** The names `ip netns` gave the namespace whose link is `link`. */
export function netnsNames(mounts: readonly MountEntry[], link: string): string[] {
  return mounts
    .filter(
      (m) =>
        m.fsType === 'nsfs' &&
        m.root === link &&
        NETNS_RUN_DIRS.includes(path.posix.dirname(m.mountPoint)),
    )
    .map((m) => path.posix.basename(m.mountPoint));
}

/**
 * Whether writing `file` (default /etc/resolv.conf, possibly a symlink) would change this
 * network namespace's own resolv.conf; see the module comment for what counts as proof.
 */
export async function resolvConfOwner(
  proc: ProcReader,
  file = SYSTEM_RESOLV_CONF,
): Promise<ResolvConfOwner> {
  const ns = await netnsIdentity(proc);
  if (ns.kind === 'initial') return ns;
  const refuse = (why: string): ResolvConfOwner => ({
    kind: 'refused',
    reason: `${file} may be the host's or another namespace's: ${why}`,
  });
  if (ns.kind === 'unknown') {
    return refuse(`cannot tell which network namespace this process is in (${ns.why})`);
  }
  const where = `this process is in network namespace ${ns.link}, ${ns.initialUnknown ? 'which cannot be compared with the initial one (/proc/1/ns/net is unreadable)' : 'not the initial one'}`;
  const mountinfo = await proc.readText('/proc/self/mountinfo');
  if (mountinfo === null) return refuse(`${where}, and /proc/self/mountinfo is unreadable`);
  const mounts = parseMountinfo(mountinfo);
  const names = netnsNames(mounts, ns.link);
  if (names.length === 0) {
    return refuse(
      `${where}, which has no name in ${NETNS_RUN_DIRS[0]} (start trellisd with \`ip netns exec NAME\` and /etc/netns/NAME/resolv.conf, or outside it with --netns NAME)`,
    );
  }
  // The bind mount sits where the path leads: on a symlink's target, if /etc/resolv.conf is one.
  const target = (await proc.realpath(file)) ?? file;
  const top = topMountAt(mounts, target);
  const name = names.find((n) => top?.root === netnsResolvConf(n));
  const first = names[0] as string;
  const fix = `(create ${netnsResolvConf(first)} before \`ip netns exec ${first}\`, or run trellisd in the host namespace with --netns ${first})`;
  if (name === undefined) {
    return refuse(
      `${where}, and ${target} is not a bind mount of ${netnsResolvConf(first)} ${fix}`,
    );
  }
  const [a, b] = await Promise.all([proc.fileId(file), proc.fileId(netnsResolvConf(name))]);
  if (a === null || b === null || a !== b) {
    return refuse(`${where}, and ${file} is not the same file as ${netnsResolvConf(name)} ${fix}`);
  }
  return { kind: 'netns', name };
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch {
    return null;
  }
}

/** The real /proc and file system. */
export const systemProcReader: ProcReader = {
  readlink: (file) => orNull(fs.readlink(file)),
  readText: (file) => orNull(readFileBounded(file, MAX_MOUNTINFO_BYTES)),
  fileId: (file) => orNull(fs.stat(file, { bigint: true }).then((st) => `${st.dev}:${st.ino}`)),
  realpath: (file) => orNull(fs.realpath(file)),
};
