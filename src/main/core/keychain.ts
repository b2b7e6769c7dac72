/**
 * Where the desktop app keeps user sessions (the bearer token control issues at sign-in), per
 * control URL and account: the OS keychain through @napi-rs/keyring (Secret Service on Linux,
 * Keychain on macOS, Credential Manager on Windows), or, where there is none, a file encrypted
 * with Electron's safeStorage. Never a plain file, never a log line (tokens travel as Secret).
 */
import * as z from 'zod';
import { ok, type Result } from '../../shared/result.js';
import { HttpUrl, SecretToken, Timestamp } from '../../shared/schema/common.js';
import { NetworkSummary, UserSummary } from '../../shared/schema/control/auth.js';
import { Secret } from './secret.js';

export interface SessionEntry {
  readonly controlUrl: string;
  readonly token: Secret;
  readonly expiresAt: string | null;
  readonly user: UserSummary;
  readonly network: NetworkSummary;
  readonly savedAt: string;
}

export interface KeychainError {
  readonly code: 'unavailable' | 'corrupt' | 'io';
  readonly message: string;
}

export type KeychainKind = 'os-keychain' | 'safe-storage-file' | 'memory';

export interface Keychain {
  readonly kind: KeychainKind;
  save(entry: SessionEntry): Promise<Result<void, KeychainError>>;
  /** Every session stored for one control server, newest first. */
  list(controlUrl: string): Promise<Result<SessionEntry[], KeychainError>>;
  remove(controlUrl: string, account: string): Promise<Result<void, KeychainError>>;
}

/** The account name an entry is stored under: the user id (stable, unlike email addresses). */
export const accountOf = (e: Pick<SessionEntry, 'user'>): string => e.user.id;

/** The newest session for a control server, or null. */
export async function currentSession(
  keychain: Keychain,
  controlUrl: string,
): Promise<Result<SessionEntry | null, KeychainError>> {
  const r = await keychain.list(controlUrl);
  return r.ok ? ok(r.value[0] ?? null) : r;
}

/** Keys URLs the same way however the user typed them ("https://X.example/" = "https://x.example"). */
export function normalizeControlUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return url;
  }
}

// The stored form ------------------------------------------------------------------------------

/** What is written to the keychain for one session (the whole JSON text is the secret). */
export const StoredSession = z.object({
  v: z.literal(1),
  controlUrl: HttpUrl,
  token: SecretToken,
  expiresAt: Timestamp.nullable(),
  user: UserSummary,
  network: NetworkSummary,
  savedAt: Timestamp,
});
export type StoredSession = z.infer<typeof StoredSession>;

export const toStored = (e: SessionEntry): StoredSession => ({
  v: 1,
  controlUrl: normalizeControlUrl(e.controlUrl),
  token: e.token.reveal(),
  expiresAt: e.expiresAt,
  user: e.user,
  network: e.network,
  savedAt: e.savedAt,
});

export const fromStored = (s: StoredSession): SessionEntry => ({
  controlUrl: s.controlUrl,
  token: new Secret(s.token),
  expiresAt: s.expiresAt,
  user: s.user,
  network: s.network,
  savedAt: s.savedAt,
});

export const newestFirst = (a: SessionEntry, b: SessionEntry): number =>
  b.savedAt.localeCompare(a.savedAt);

// In memory --------------------------------------------------------------------------------------

/**
 * Sessions in process memory only: the web bridge's choice when the OS has no keychain (the user
 * signs in again after a restart), and the fake for tests.
 */
export function memoryKeychain(): Keychain {
  const entries = new Map<string, StoredSession>();
  const key = (controlUrl: string, account: string) =>
    `${normalizeControlUrl(controlUrl)}\n${account}`;
  return {
    kind: 'memory',
    save: async (e) => {
      entries.set(key(e.controlUrl, accountOf(e)), toStored(e));
      return ok(undefined);
    },
    list: async (controlUrl) => {
      const url = normalizeControlUrl(controlUrl);
      return ok(
        [...entries.values()]
          .filter((s) => s.controlUrl === url)
          .map(fromStored)
          .sort(newestFirst),
      );
    },
    remove: async (controlUrl, account) => {
      entries.delete(key(controlUrl, account));
      return ok(undefined);
    },
  };
}

export const keychainError = (code: KeychainError['code'], e: unknown): KeychainError => ({
  code,
  message: (e instanceof Error ? e.message : String(e)).slice(0, 500),
});
