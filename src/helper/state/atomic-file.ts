/**
 * Crash-safe file primitives for the state directory: a reader could see the old content or the
 * new, never a torn mix, even if the helper or the machine dies halfway through a write.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** State files are secrets (node key, credential): owner read/write only. */
export const STATE_FILE_MODE = 0o600;
/** The state directory: root only, so no other user can list or read it. */
export const STATE_DIR_MODE = 0o700;
/** Marks temp files so a restart can remove those a crash left behind. */
export const TEMP_MARKER = '.tmp-';

/**
 * Writes `data` to `file` atomically: temp file in the same directory, fsync, rename over the
 * target, fsync the directory (so the rename itself survives power loss).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  const tmp = `${file}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await fs.open(tmp, 'wx', STATE_FILE_MODE);
  try {
    // The umask can only narrow the creation mode; chmod makes the 0600 explicit either way.
    await fh.chmod(STATE_FILE_MODE);
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

/** Makes a directory's entries (renames, unlinks) durable. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await fs.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export type ReadBoundedResult =
  | { readonly kind: 'ok'; readonly text: string }
  | { readonly kind: 'missing' }
  | { readonly kind: 'too_large'; readonly size: number }
  | { readonly kind: 'unreadable'; readonly message: string };

/** Reads a UTF-8 file, refusing one larger than `maxBytes` before reading it into memory. */
export async function readBounded(file: string, maxBytes: number): Promise<ReadBoundedResult> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return { kind: 'missing' };
    return { kind: 'unreadable', message: errorMessage(e) };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { kind: 'unreadable', message: 'not a regular file' };
    if (st.size > maxBytes) return { kind: 'too_large', size: st.size };
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return { kind: 'ok', text: buf.subarray(0, bytesRead).toString('utf8') };
  } catch (e) {
    return { kind: 'unreadable', message: errorMessage(e) };
  } finally {
    await fh.close();
  }
}

/** Creates the directory (and parents) and forces it to `mode`, whatever was there before. */
export async function ensurePrivateDir(dir: string, mode = STATE_DIR_MODE): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  const st = await fs.stat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if ((st.mode & 0o777) !== mode) await fs.chmod(dir, mode);
}

/** Removes temp files that a crash in the middle of writeFileAtomic left behind. */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.readdir(dir)) {
    if (!name.includes(TEMP_MARKER)) continue;
    await fs.rm(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
