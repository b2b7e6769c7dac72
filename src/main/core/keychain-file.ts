/**
 * The keychain fallback: every session in one file, encrypted with Electron's safeStorage (which
 * itself keys off the OS keychain or, on Linux, kwallet/libsecret). Where safeStorage would only
 * obfuscate (Linux "basic_text" backend), the cipher reports itself unavailable and nothing is
 * written: a session in an effectively plain file is worse than signing in again.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { err, ok, type Result } from '../../shared/result.js';
import { parseJsonWith } from '../../shared/schema/parse.js';
import {
  accountOf,
  fromStored,
  keychainError,
  newestFirst,
  normalizeControlUrl,
  StoredSession,
  toStored,
  type Keychain,
  type KeychainError,
} from './keychain.js';

/** Electron's safeStorage, or a test double with the same shape. */
export interface SecretCipher {
  /** False when encryption would not protect anything (no OS key store). */
  isAvailable(): boolean;
  encrypt(plain: string): Buffer;
  decrypt(sealed: Buffer): string;
}

/** A person has a handful of sessions; 256 bounds a corrupt or hostile file. */
export const MAX_FILE_SESSIONS = 256;
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const FILE_MODE = 0o600;

const SessionFile = z.object({
  v: z.literal(1),
  sessions: z.array(StoredSession).max(MAX_FILE_SESSIONS),
});

export function safeStorageKeychain(
  file: string,
  cipher: SecretCipher,
): Result<Keychain, KeychainError> {
  if (!cipher.isAvailable()) {
    return err({
      code: 'unavailable',
      message: 'safeStorage has no OS key store to encrypt with; sessions are kept in memory only',
    });
  }

  async function read(): Promise<Result<StoredSession[], KeychainError>> {
    let sealed: Buffer;
    try {
      const st = await fs.stat(file);
      if (st.size > MAX_FILE_BYTES)
        return err({ code: 'corrupt', message: 'session file too large' });
      sealed = await fs.readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok([]);
      return err(keychainError('io', e));
    }
    let text: string;
    try {
      text = cipher.decrypt(sealed);
    } catch (e) {
      return err(keychainError('corrupt', e));
    }
    const parsed = parseJsonWith(SessionFile, text, MAX_FILE_BYTES);
    if (!parsed.ok) return err({ code: 'corrupt', message: parsed.error.message });
    return ok(parsed.value.sessions);
  }

  /** Atomic: a crash mid-write leaves the old file, never a torn one. */
  async function write(sessions: StoredSession[]): Promise<Result<void, KeychainError>> {
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const sealed = cipher.encrypt(JSON.stringify({ v: 1, sessions }));
      const h = await fs.open(tmp, 'w', FILE_MODE);
      try {
        await h.writeFile(sealed);
        await h.sync();
      } finally {
        await h.close();
      }
      await fs.rename(tmp, file);
      return ok(undefined);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      return err(keychainError('io', e));
    }
  }

  const same = (s: StoredSession, controlUrl: string, account: string) =>
    s.controlUrl === normalizeControlUrl(controlUrl) && s.user.id === account;

  return ok({
    kind: 'safe-storage-file',
    save: async (e) => {
      const r = await read();
      // A corrupt file is replaced rather than blocking every future sign-in.
      const sessions = r.ok ? r.value : [];
      const stored = toStored(e);
      const rest = sessions.filter((s) => !same(s, e.controlUrl, accountOf(e)));
      return write([stored, ...rest].slice(0, MAX_FILE_SESSIONS));
    },
    list: async (controlUrl) => {
      const r = await read();
      if (!r.ok) return r;
      const url = normalizeControlUrl(controlUrl);
      return ok(
        r.value
          .filter((s) => s.controlUrl === url)
          .map(fromStored)
          .sort(newestFirst),
      );
    },
    remove: async (controlUrl, account) => {
      const r = await read();
      if (!r.ok) return r.error.code === 'corrupt' ? write([]) : r;
      return write(r.value.filter((s) => !same(s, controlUrl, account)));
    },
  });
}

/** The first keychain that works: the OS keychain, then the safeStorage file, then memory. */
export async function chooseKeychain(
  candidates: readonly (() => Promise<Result<Keychain, KeychainError>>)[],
  fallback: () => Keychain,
  onSkip: (e: KeychainError) => void = () => undefined,
): Promise<Keychain> {
  for (const c of candidates) {
    const r = await c();
    if (r.ok) return r.value;
    onSkip(r.error);
  }
  return fallback();
}
