/**
 * Rewriting a small configuration file in place, for files that must keep their inode:
 * /etc/resolv.conf may be a bind mount (`ip netns exec` mounts /etc/netns/NAME/resolv.conf over
 * it; containers mount theirs), which rename(2) cannot replace, and programs already running in
 * a namespace see /etc/netns/NAME/resolv.conf only through the inode they mounted.
 *
 * Truncating and then writing (what fs.writeFile does) leaves an empty file to anyone who reads
 * in between, and for good if the process dies there. Instead the new text goes out in one
 * write(2) at offset 0, padded with newlines to at least the old length, and only then is the
 * file cut to size, synced and read back. At every moment the file holds the old text or the
 * full new text (followed, until the truncate, by blank lines, which resolv.conf ignores). When a
 * step fails, the old text is put back the same way before the error is thrown.
 */
import fs from 'node:fs/promises';
import { errorMessage, isErrno } from '../state/atomic-file.js';
import { OsConfigError } from './types.js';

/** Files rewritten in place are small configuration files; anything larger is refused. */
export const MAX_IN_PLACE_BYTES = 1024 * 1024;
/** Read in pieces of this size (/proc files report size 0 and come in pieces anyway). */
const READ_CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/** The operations of an open file an in-place write uses (a FileHandle's), so failures can be injected. */
export interface InPlaceHandle {
  /** Bytes read at `position` (0 at the end). */
  read(buf: Buffer, position: number): Promise<number>;
  /** Bytes written at `position`, in one write(2): fewer than asked is a short write. */
  write(buf: Buffer, position: number): Promise<number>;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface InPlaceFs {
  /** Opens for reading and writing (symlinks followed); creates the file if it does not exist. */
  open(file: string): Promise<{ handle: InPlaceHandle; created: boolean }>;
  remove(file: string): Promise<void>;
}

/** The file could not be rewritten; `restored` says whether its previous content is back. */
export class InPlaceWriteError extends OsConfigError {
  constructor(
    message: string,
    readonly restored: boolean,
  ) {
    super('command_failed', message);
    this.name = 'InPlaceWriteError';
  }
}

function wrap(handle: fs.FileHandle): InPlaceHandle {
  return {
    read: async (buf, position) => (await handle.read(buf, 0, buf.length, position)).bytesRead,
    write: async (buf, position) => (await handle.write(buf, 0, buf.length, position)).bytesWritten,
    truncate: (length) => handle.truncate(length),
    sync: () => handle.sync(),
    close: () => handle.close(),
  };
}

export const systemInPlaceFs: InPlaceFs = {
  open: async (file) => {
    try {
      return { handle: wrap(await fs.open(file, fs.constants.O_RDWR)), created: false };
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    const h = await fs.open(
      file,
      fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL,
      0o644,
    );
    return { handle: wrap(h), created: true };
  },
  remove: (file) => fs.rm(file, { force: true }),
};

/** The whole content from offset 0, or null when there are more than `maxBytes`. */
async function readAll(h: InPlaceHandle, maxBytes: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, maxBytes + 1 - total));
    const n = await h.read(chunk, total);
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    total += n;
    if (total > maxBytes) return null;
  }
  return Buffer.concat(chunks, total);
}

/**
 * Reads a file of at most `maxBytes` bytes: its text, null when it does not exist. Larger files
 * and read errors throw.
 */
export async function readFileBounded(
  file: string,
  maxBytes = MAX_IN_PLACE_BYTES,
): Promise<string | null> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // Sequential reads (position null): /proc files are read front to back.
      const chunk = Buffer.alloc(READ_CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new Error(`${file} is larger than ${maxBytes} bytes`);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Overwrites the content of an open file with `data`: one write of `data` padded with newlines
 * to `coverLength` (at least what the file holds now), then truncate, sync, read back.
 */
async function replaceContent(h: InPlaceHandle, data: Buffer, coverLength: number): Promise<void> {
  const padded =
    data.length >= coverLength
      ? data
      : Buffer.concat([data, Buffer.alloc(coverLength - data.length, NEWLINE)]);
  const n = await h.write(padded, 0);
  if (n !== padded.length) throw new Error(`short write (${n} of ${padded.length} bytes)`);
  if (padded.length !== data.length) await h.truncate(data.length);
  await h.sync();
  const back = await readAll(h, data.length);
  if (back === null || !back.equals(data)) throw new Error('it does not read back as written');
}

/**
 * Replaces `file`'s content with `text` in place (same inode; symlinks followed). On failure the
 * previous content is put back (or the file removed, if this call created it) and an
 * InPlaceWriteError says what happened.
 */
export async function writeFileInPlace(
  file: string,
  text: string,
  fsApi: InPlaceFs = systemInPlaceFs,
  maxBytes = MAX_IN_PLACE_BYTES,
): Promise<void> {
  const data = Buffer.from(text, 'utf8');
  if (data.length > maxBytes) {
    throw new InPlaceWriteError(
      `not writing ${file}: ${data.length} bytes is more than ${maxBytes}`,
      true,
    );
  }
  const { handle: h, created } = await fsApi.open(file).catch((e: unknown) => {
    throw new InPlaceWriteError(
      `not rewriting ${file}: opening it failed (${errorMessage(e)})`,
      true,
    );
  });
  try {
    let old: Buffer | null;
    try {
      old = await readAll(h, maxBytes);
    } catch (e) {
      if (created) await fsApi.remove(file).catch(() => undefined);
      throw new InPlaceWriteError(
        `not rewriting ${file}: reading it failed (${errorMessage(e)})`,
        true,
      );
    }
    if (old === null) {
      throw new InPlaceWriteError(
        `not rewriting ${file}: it is larger than ${maxBytes} bytes`,
        true,
      );
    }
    if (old.equals(data)) return;
    try {
      await replaceContent(h, data, old.length);
    } catch (e) {
      // The failed write covered at most the longer of the two texts.
      const cover = Math.max(old.length, data.length);
      throw await putBack(file, h, old, cover, created, fsApi, e);
    }
  } finally {
    await h.close().catch(() => undefined);
  }
}

async function putBack(
  file: string,
  h: InPlaceHandle,
  old: Buffer,
  coverLength: number,
  created: boolean,
  fsApi: InPlaceFs,
  cause: unknown,
): Promise<InPlaceWriteError> {
  const why = errorMessage(cause);
  try {
    if (created) await fsApi.remove(file);
    else await replaceContent(h, old, coverLength);
    return new InPlaceWriteError(
      `writing ${file} failed (${why}); its previous content is back`,
      true,
    );
  } catch (e) {
    return new InPlaceWriteError(
      `writing ${file} failed (${why}), and putting its previous content back failed too (${errorMessage(e)})`,
      false,
    );
  }
}
