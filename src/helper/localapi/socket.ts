/**
 * The LocalAPI's endpoint and who may use it.
 *
 * Unix (Linux, macOS): a socket file. Access control is its permissions: mode 0660, owner root,
 * group `trellis` (or the configured group), so only root and members of that group can
 * connect(2). Node exposes no SO_PEERCRED, so the daemon cannot ask the kernel who the caller is;
 * it relies on the kernel having checked write permission on the socket file at connect time,
 * which it always does on Linux. Without the group the socket is 0600: root only.
 *
 * Windows: a named pipe (`\\.\pipe\trellisd`), with no file to probe, unlink, chmod or chown.
 * Access is the pipe's DACL. libuv creates the pipe with Windows' default one (full control for
 * SYSTEM and Administrators, read only for Everyone), through which no unelevated process, so
 * neither the desktop app nor the CLI, can send a request. The daemon listens with Node's
 * `readableAll`/`writableAll`, which give Everyone read and write: every account on the machine
 * may use the LocalAPI, as if everyone were in the `trellis` group. Node offers nothing narrower:
 * it cannot set another DACL (one group, or interactive users only), cannot refuse remote
 * clients (PIPE_REJECT_REMOTE_CLIENTS) and cannot read the caller's token, so the daemon cannot
 * tell who calls. docs/install.md states this limit.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { localApiEndpointError } from '../../shared/schema/localapi.js';
import { isErrno } from '../state/atomic-file.js';

/** The group whose members may use the CLI and the desktop app without root. */
export const DEFAULT_SOCKET_GROUP = 'trellis';
export const SOCKET_MODE_GROUP = 0o660;
export const SOCKET_MODE_ROOT_ONLY = 0o600;
/** The socket's directory must be traversable by the group's members; the socket file guards. */
export const SOCKET_DIR_MODE = 0o755;
/** Probe of an existing socket file: a live daemon answers a connect within milliseconds. */
const PROBE_TIMEOUT_MS = 1000;

/** A Unix socket file's owner group and mode. */
export interface UnixSocketAccess {
  /** The group given access, or null when only root can connect. */
  readonly group: { readonly name: string; readonly gid: number } | null;
  readonly mode: number;
}
/** A Windows named pipe: every local account may read and write it (see above). */
export interface PipeAccess {
  readonly pipe: 'everyone';
}
export type SocketAccess = UnixSocketAccess | PipeAccess;
export const PIPE_ACCESS: PipeAccess = { pipe: 'everyone' };

/**
 * The operating system as the endpoint code sees it: which platform (so the Windows branch runs
 * in tests here) and the file calls made for a Unix socket (so tests see which ones run).
 */
export interface SocketOs {
  readonly platform: string;
  readonly fs: {
    mkdir(dir: string, opts: { recursive: true; mode: number }): Promise<unknown>;
    lstat(file: string): Promise<{ isSocket(): boolean }>;
    rm(file: string, opts: { force: true }): Promise<void>;
    chown(file: string, uid: number, gid: number): Promise<void>;
    chmod(file: string, mode: number): Promise<void>;
  };
}
export const nodeSocketOs: SocketOs = { platform: process.platform, fs };

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
 * lock users out or in); the default group is used only if it exists. Windows has no groups
 * here: its pipe is open to every local account.
 */
export async function resolveSocketAccess(
  configuredGroup: string | null,
  lookup: GroupLookup = lookupGroup,
  platform: string = process.platform,
): Promise<SocketAccess> {
  if (platform === 'win32') {
    if (configuredGroup !== null)
      throw new SocketSetupError('a socket group does not apply to the Windows named pipe');
    return PIPE_ACCESS;
  }
  const name = configuredGroup ?? DEFAULT_SOCKET_GROUP;
  const gid = await lookup(name);
  if (gid === null) {
    if (configuredGroup !== null)
      throw new SocketSetupError(`socket group "${configuredGroup}" does not exist`);
    return { group: null, mode: SOCKET_MODE_ROOT_ONLY };
  }
  return { group: { name, gid }, mode: SOCKET_MODE_GROUP };
}

/** What trellisd logs at start about who may use its LocalAPI. */
export function socketAccessNotice(access: SocketAccess): {
  readonly level: 'info' | 'warn';
  readonly fields: Record<string, unknown>;
  readonly msg: string;
} {
  if ('pipe' in access)
    return {
      level: 'warn',
      fields: {},
      msg: "LocalAPI pipe: every local account may use it (Node cannot narrow a pipe's DACL or read the caller's token)",
    };
  if (access.group)
    return {
      level: 'info',
      fields: { group: access.group.name, gid: access.group.gid },
      msg: 'LocalAPI socket: root and this group (mode 0660), checked by the socket file permissions (Node cannot read SO_PEERCRED)',
    };
  return {
    level: 'warn',
    fields: {},
    msg: 'LocalAPI socket: group "trellis" does not exist, so only root can use it (mode 0600); create the group or pass --socket-group',
  };
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
async function clearStaleSocket(socketPath: string, files: SocketOs['fs']): Promise<void> {
  let st;
  try {
    st = await files.lstat(socketPath);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return;
    throw e;
  }
  if (!st.isSocket()) throw new SocketSetupError(`${socketPath} exists and is not a socket`);
  if (await socketIsLive(socketPath)) {
    throw new SocketSetupError(`another daemon is listening on ${socketPath}`);
  }
  await files.rm(socketPath, { force: true });
}

/**
 * net.Server.listen's options for `endpoint`: on Windows the pipe opened to every local account
 * (see the top of this file); elsewhere the socket file, whose access listenOnSocket sets.
 */
export function listenOptions(endpoint: string, platform: string): net.ListenOptions {
  return platform === 'win32'
    ? { path: endpoint, readableAll: true, writableAll: true }
    : { path: endpoint };
}

/** Binds `server` to `endpoint` with the access `access` describes. */
export async function listenOnSocket(
  server: net.Server,
  endpoint: string,
  access: SocketAccess,
  os: SocketOs = nodeSocketOs,
): Promise<void> {
  const problem = localApiEndpointError(endpoint, os.platform);
  if (problem !== null) throw new SocketSetupError(`LocalAPI endpoint ${endpoint} ${problem}`);
  const options = listenOptions(endpoint, os.platform);
  if (os.platform === 'win32') {
    if (!('pipe' in access)) throw new SocketSetupError('a named pipe has no owner group or mode');
    // A second daemon cannot create the pipe's first instance: libuv reports EADDRINUSE.
    await bind(server, options, null).catch((e: unknown) => {
      throw isErrno(e, 'EADDRINUSE')
        ? new SocketSetupError(`another daemon is listening on ${endpoint}`)
        : e;
    });
    return;
  }
  if ('pipe' in access) throw new SocketSetupError(`${endpoint} is a Unix socket, not a pipe`);
  await os.fs.mkdir(path.dirname(endpoint), { recursive: true, mode: SOCKET_DIR_MODE });
  await clearStaleSocket(endpoint, os.fs);
  // bind(2) creates the file with the umask applied; 0177 makes it 0600 from the first instant,
  // so there is no window in which a looser mode lets anyone in before the chmod below.
  await bind(server, options, 0o177);
  if (access.group) await os.fs.chown(endpoint, process.getuid?.() ?? 0, access.group.gid);
  await os.fs.chmod(endpoint, access.mode);
}

/** Removes the socket file when the server is done; a pipe goes with its last handle. */
export async function removeSocketFile(endpoint: string, os: SocketOs = nodeSocketOs) {
  if (os.platform !== 'win32') await os.fs.rm(endpoint, { force: true });
}

/**
 * server.listen, as a promise. With `umask`, that umask is in force while Node binds, which it
 * does synchronously inside listen(), so the old one is back before anything else runs.
 */
function bind(server: net.Server, options: net.ListenOptions, umask: number | null) {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    const oldMask = umask === null ? null : setUmask(umask);
    try {
      server.listen(options, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      if (oldMask !== null) setUmask(oldMask);
    }
  });
}

/** process.umask, or null where it cannot be changed (worker threads); chmod still follows. */
function setUmask(mask: number): number | null {
  try {
    return process.umask(mask);
  } catch {
    return null;
  }
}
