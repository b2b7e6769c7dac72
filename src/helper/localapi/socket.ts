/**
 * The LocalAPI's Unix socket and who may use it.
 *
 * Access control is the socket file's permissions: mode 0660, owner root, group `trellis` (or the
 * configured group), so only root and members of that group can connect(2). Node exposes no
 * SO_PEERCRED, so the daemon cannot ask the kernel who the caller is; it relies on the kernel
 * having checked write permission on the socket file at connect time, which it always does on
 * Linux. Without the group the socket is 0600: root only.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type http from 'node:http';
import { isErrno } from '../state/atomic-file.js';

/** The group whose members may use the CLI and the desktop app without root. */
export const DEFAULT_SOCKET_GROUP = 'trellis';
export const SOCKET_MODE_GROUP = 0o660;
export const SOCKET_MODE_ROOT_ONLY = 0o600;
/** The socket's directory must be traversable by the group's members; the socket file guards. */
export const SOCKET_DIR_MODE = 0o755;
/** Probe of an existing socket file: a live daemon answers a connect within milliseconds. */
const PROBE_TIMEOUT_MS = 1000;

export interface SocketAccess {
  /** The group given access, or null when only root can connect. */
  readonly group: { readonly name: string; readonly gid: number } | null;
  readonly mode: number;
}

export type GroupLookup = (name: string) => Promise<number | null>;

/** Resolves a group name through NSS (`getent`), falling back to /etc/group. */
export const lookupGroup: GroupLookup = async (name) => {
  if (/^\d+$/.test(name)) return Number(name);
  const viaGetent = await new Promise<string | null>((resolve) => {
    execFile('getent', ['group', name], { timeout: 5000 }, (e, stdout) =>
      resolve(e ? null : stdout),
    );
  });
  const text = viaGetent ?? (await fs.readFile('/etc/group', 'utf8').catch(() => ''));
  for (const line of text.split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid && /^\d+$/.test(gid)) return Number(gid);
  }
  return null;
};

export class SocketSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SocketSetupError';
  }
}

/**
 * Decides who gets access. An explicitly configured group must exist (a typo must not silently
 * lock users out or in); the default group is used only if it exists.
 */
export async function resolveSocketAccess(
  configuredGroup: string | null,
  lookup: GroupLookup = lookupGroup,
): Promise<SocketAccess> {
  const name = configuredGroup ?? DEFAULT_SOCKET_GROUP;
  const gid = await lookup(name);
  if (gid === null) {
    if (configuredGroup !== null)
      throw new SocketSetupError(`socket group "${configuredGroup}" does not exist`);
    return { group: null, mode: SOCKET_MODE_ROOT_ONLY };
  }
  return { group: { name, gid }, mode: SOCKET_MODE_GROUP };
}

/** Whether something accepts connections on the socket path. */
function socketIsLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const done = (live: boolean) => {
      s.destroy();
      resolve(live);
    };
    s.setTimeout(PROBE_TIMEOUT_MS, () => done(true));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Removes a stale socket left by a crashed daemon. Refuses to touch a live one (another trellisd
 * owns it) or anything that is not a socket (a misconfigured path must not delete a file).
 */
async function clearStaleSocket(socketPath: string): Promise<void> {
  let st;
  try {
    st = await fs.lstat(socketPath);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return;
    throw e;
  }
  if (!st.isSocket()) throw new SocketSetupError(`${socketPath} exists and is not a socket`);
  if (await socketIsLive(socketPath)) {
    throw new SocketSetupError(`another daemon is listening on ${socketPath}`);
  }
  await fs.rm(socketPath, { force: true });
}

/** Binds `server` to `socketPath` with the access `access` describes. */
export async function listenOnSocket(
  server: http.Server,
  socketPath: string,
  access: SocketAccess,
): Promise<void> {
  const dir = path.dirname(socketPath);
  await fs.mkdir(dir, { recursive: true, mode: SOCKET_DIR_MODE });
  await clearStaleSocket(socketPath);
  // bind(2) creates the file with the umask applied; 0177 makes it 0600 from the first instant,
  // so there is no window in which a looser mode lets anyone in before the chmod below. Node
  // binds synchronously inside listen(), so the umask is restored before anything else runs.
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    const oldMask = setUmask(0o177);
    try {
      server.listen(socketPath, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      if (oldMask !== null) setUmask(oldMask);
    }
  });
  if (access.group) await fs.chown(socketPath, process.getuid?.() ?? 0, access.group.gid);
  await fs.chmod(socketPath, access.mode);
}

/** process.umask, or null where it cannot be changed (worker threads); chmod still follows. */
function setUmask(mask: number): number | null {
  try {
    return process.umask(mask);
  } catch {
    return null;
  }
}
