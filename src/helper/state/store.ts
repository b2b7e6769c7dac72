/**
 * The helper's state directory (default /var/lib/trellis): node key, registration (device id,
 * node credential, control URL), prefs and the last netmap. Readable by root only; every write is
 * atomic; a damaged file falls back to its previous good copy, or to "absent", never a crash.
 */
import {
  generateKeyPair,
  keyFromBase64,
  keyToBase64,
  publicKeyFromPrivate,
} from '../../shared/keys.js';
import type { Netmap } from '../../shared/schema/control/netmap.js';
import type { Prefs } from '../../shared/schema/localapi.js';
import { ensurePrivateDir, removeStaleTemps } from './atomic-file.js';
import {
  MAX_NETMAP_FILE_BYTES,
  MAX_PREFS_FILE_BYTES,
  MAX_SMALL_STATE_FILE_BYTES,
  NetmapFile,
  NodeKeyFile,
  PrefsFile,
  RegistrationFile,
  STATE_FILE_NAMES,
  STATE_FORMAT_VERSION,
} from './files.js';
import { JsonStateFile, type StateIssue } from './json-file.js';

export const DEFAULT_STATE_DIR = '/var/lib/trellis';

/** The node key in both forms the helper needs. */
export interface NodeKey {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly privateKeyBase64: string;
  readonly publicKeyBase64: string;
  /** The key the device registered with before the current one, if it rotated. */
  readonly previousPublicKey: string | null;
}

export type Registration = Omit<RegistrationFile, 'version'>;

export interface LoadedState {
  readonly nodeKey: NodeKey;
  readonly registration: Registration | null;
  readonly prefs: Prefs | null;
  /** Only a netmap saved for the current registration (same device and key). */
  readonly netmap: Netmap | null;
  /** Everything that was wrong on disk and how it was recovered, for the log and health. */
  readonly issues: readonly StateIssue[];
}

/** A new random node key (not saved) that remembers `previousPublicKey` as the one it replaces. */
export function freshNodeKey(previousPublicKey: string | null): NodeKey {
  return toNodeKey(generateKeyPair().privateKey, previousPublicKey);
}

function toNodeKey(privateKey: Uint8Array, previousPublicKey: string | null): NodeKey {
  const publicKey = publicKeyFromPrivate(privateKey);
  return {
    privateKey,
    publicKey,
    privateKeyBase64: keyToBase64(privateKey),
    publicKeyBase64: keyToBase64(publicKey),
    previousPublicKey,
  };
}

export class StateStore {
  private readonly nodeKeyFile: JsonStateFile<typeof NodeKeyFile>;
  private readonly registrationFile: JsonStateFile<typeof RegistrationFile>;
  private readonly prefsFile: JsonStateFile<typeof PrefsFile>;
  private readonly netmapFile: JsonStateFile<typeof NetmapFile>;

  private constructor(readonly dir: string) {
    this.nodeKeyFile = new JsonStateFile(
      dir,
      STATE_FILE_NAMES.nodeKey,
      NodeKeyFile,
      MAX_SMALL_STATE_FILE_BYTES,
    );
    this.registrationFile = new JsonStateFile(
      dir,
      STATE_FILE_NAMES.registration,
      RegistrationFile,
      MAX_SMALL_STATE_FILE_BYTES,
    );
    this.prefsFile = new JsonStateFile(
      dir,
      STATE_FILE_NAMES.prefs,
      PrefsFile,
      MAX_PREFS_FILE_BYTES,
    );
    this.netmapFile = new JsonStateFile(
      dir,
      STATE_FILE_NAMES.netmap,
      NetmapFile,
      MAX_NETMAP_FILE_BYTES,
    );
  }

  /** Creates the directory if needed and forces it to mode 0700; removes crash leftovers. */
  static async open(dir: string = DEFAULT_STATE_DIR): Promise<StateStore> {
    await ensurePrivateDir(dir);
    await removeStaleTemps(dir);
    return new StateStore(dir);
  }

  /**
   * Loads everything. A missing or unrecoverable node key is replaced by a new one (and saved);
   * a registration for another key is dropped, since its credential cannot work with this key.
   */
  async load(): Promise<LoadedState> {
    const issues: StateIssue[] = [];
    const note = <T>(r: { value: T | null; issue: StateIssue | null }): T | null => {
      if (r.issue) issues.push(r.issue);
      return r.value;
    };

    const keyFile = note(await this.nodeKeyFile.read());
    let nodeKey: NodeKey;
    const priv = keyFile ? keyFromBase64(keyFile.privateKey) : null;
    if (keyFile && priv?.ok) {
      nodeKey = toNodeKey(priv.value, keyFile.previousPublicKey);
    } else {
      nodeKey = toNodeKey(generateKeyPair().privateKey, null);
      await this.saveNodeKey(nodeKey);
    }

    let registration: RegistrationFile | null = note(await this.registrationFile.read());
    if (registration && registration.nodePublicKey !== nodeKey.publicKeyBase64) {
      issues.push({
        file: STATE_FILE_NAMES.registration,
        code: 'invalid',
        message: 'registration belongs to a different node key',
        recovery: 'default',
      });
      registration = null;
      await this.registrationFile.remove();
    }

    const prefsFile = note(await this.prefsFile.read());
    const netmapFile = note(await this.netmapFile.read());
    const netmap =
      netmapFile &&
      registration &&
      netmapFile.deviceId === registration.deviceId &&
      netmapFile.nodePublicKey === registration.nodePublicKey
        ? netmapFile.netmap
        : null;

    return {
      nodeKey,
      registration: registration ? stripVersion(registration) : null,
      prefs: prefsFile?.prefs ?? null,
      netmap,
      issues,
    };
  }

  async saveNodeKey(key: NodeKey): Promise<void> {
    await this.nodeKeyFile.write({
      version: STATE_FORMAT_VERSION,
      privateKey: key.privateKeyBase64,
      previousPublicKey: key.previousPublicKey,
    });
  }

  /** A fresh key that remembers `current` as the one it replaces. Saved before it is returned. */
  async rotateNodeKey(current: NodeKey, rememberPrevious: string | null): Promise<NodeKey> {
    const next = toNodeKey(
      generateKeyPair().privateKey,
      rememberPrevious ?? current.previousPublicKey,
    );
    await this.saveNodeKey(next);
    return next;
  }

  async saveRegistration(r: Registration | null): Promise<void> {
    if (r === null) return this.registrationFile.remove();
    await this.registrationFile.write({ version: STATE_FORMAT_VERSION, ...r });
  }

  async savePrefs(prefs: Prefs): Promise<void> {
    await this.prefsFile.write({ version: STATE_FORMAT_VERSION, prefs });
  }

  async saveNetmap(
    owner: { deviceId: string; nodePublicKey: string } | null,
    netmap: Netmap | null,
    now: Date = new Date(),
  ): Promise<void> {
    if (owner === null || netmap === null) return this.netmapFile.remove();
    await this.netmapFile.write({
      version: STATE_FORMAT_VERSION,
      deviceId: owner.deviceId,
      nodePublicKey: owner.nodePublicKey,
      netmap,
      savedAt: now.toISOString(),
    });
  }
}

function stripVersion(r: RegistrationFile): Registration {
  const { version: _version, ...rest } = r;
  return rest;
}
