/** Electron's safeStorage as the keychain fallback's cipher (see core/keychain-file.ts). */
import { safeStorage } from 'electron';
import type { SecretCipher } from '../core/keychain-file.js';

export const safeStorageCipher: SecretCipher = {
  // On Linux without a keyring, safeStorage falls back to a hard-coded key ("basic_text"):
  // that is obfuscation, not encryption, so it counts as unavailable.
  isAvailable: () =>
    safeStorage.isEncryptionAvailable() &&
    (process.platform !== 'linux' || safeStorage.getSelectedStorageBackend() !== 'basic_text'),
  encrypt: (plain) => safeStorage.encryptString(plain),
  decrypt: (sealed) => safeStorage.decryptString(sealed),
};
