/**
 * Sessions in the OS keychain through @napi-rs/keyring: one credential per (control URL, account)
 * under the service "trellis-desktop <control URL>", its secret the StoredSession JSON. On Linux
 * the entry is pinned to the Secret Service (GNOME Keyring, KWallet): the library's other Linux
 * store, the kernel keyring, forgets everything at reboot, which would look like random sign-outs.
 */
import type * as KeyringNs from '@napi-rs/keyring';
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
  type SessionEntry,
} from './keychain.js';

/** A StoredSession is well under 8 KiB (a token is at most 4 KiB). */
const MAX_STORED_CHARS = 16 * 1024;
const SERVICE_PREFIX = 'trellis-desktop ';

type KeyringModule = typeof KeyringNs;

export const keychainService = (controlUrl: string): string =>
  `${SERVICE_PREFIX}${normalizeControlUrl(controlUrl)}`;

const ENTRY_OPTIONS = { linux: { store: 'secret-service' as const } };

/**
 * Opens the OS keychain, or says why it cannot (no Secret Service on the session bus, locked
 * keychain, native binding missing). Probing reads one entry, which is harmless.
 */
export async function openOsKeychain(
  load: () => Promise<KeyringModule> = () => import('@napi-rs/keyring'),
): Promise<Result<Keychain, KeychainError>> {
  let kr: KeyringModule;
  try {
    kr = await load();
  } catch (e) {
    return err(keychainError('unavailable', e));
  }
  try {
    await new kr.AsyncEntry(`${SERVICE_PREFIX}probe`, 'probe', ENTRY_OPTIONS).getPassword();
  } catch (e) {
    return err(keychainError('unavailable', e));
  }
  return ok(osKeychain(kr));
}

function osKeychain(kr: KeyringModule): Keychain {
  const entry = (controlUrl: string, account: string) =>
    new kr.AsyncEntry(keychainService(controlUrl), account, ENTRY_OPTIONS);
  return {
    kind: 'os-keychain',
    save: async (e: SessionEntry) => {
      try {
        await entry(e.controlUrl, accountOf(e)).setPassword(JSON.stringify(toStored(e)));
        return ok(undefined);
      } catch (x) {
        return err(keychainError('io', x));
      }
    },
    list: async (controlUrl) => {
      let creds: { account: string; password: string }[];
      try {
        creds = await kr.findCredentialsAsync(keychainService(controlUrl));
      } catch (x) {
        return err(keychainError('io', x));
      }
      const out: SessionEntry[] = [];
      for (const c of creds) {
        const s = parseJsonWith(StoredSession, c.password, MAX_STORED_CHARS);
        // Another program's or an older build's entry under our service name is skipped, not fatal.
        if (s.ok && s.value.user.id === c.account) out.push(fromStored(s.value));
      }
      return ok(out.sort(newestFirst));
    },
    remove: async (controlUrl, account) => {
      try {
        await entry(controlUrl, account).deleteCredential();
        return ok(undefined);
      } catch (x) {
        return err(keychainError('io', x));
      }
    },
  };
}
