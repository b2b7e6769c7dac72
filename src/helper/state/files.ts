/**
 * What trellisd keeps on disk, one schema per file. Each file carries a format version so a later
 * release can migrate it; the disco key is deliberately absent (it is new on every start).
 */
import * as z from 'zod';
import {
  DeviceAddresses,
  DeviceId,
  DeviceName,
  Fqdn,
  HttpUrl,
  NodePublicKey,
  SecretToken,
  Timestamp,
  WireGuardKey,
} from '../../shared/schema/common.js';
import { NetworkSummary, UserSummary } from '../../shared/schema/control/auth.js';
import { Netmap } from '../../shared/schema/control/netmap.js';
import { MAX_CONTROL_MESSAGE_BYTES } from '../../shared/schema/control.js';
import { MAX_LOCALAPI_REQUEST_BYTES, Prefs } from '../../shared/schema/localapi.js';

export const STATE_FORMAT_VERSION = 1;
const Version = z.literal(STATE_FORMAT_VERSION);

/** The node's WireGuard static key, and the one it replaced (sent as `oldNodeKey` on re-login). */
export const NodeKeyFile = z.object({
  version: Version,
  privateKey: WireGuardKey,
  /** Public key of the previous registration, so control keeps the device's identity on rotation. */
  previousPublicKey: NodePublicKey.nullable(),
});
export type NodeKeyFile = z.infer<typeof NodeKeyFile>;

/** What control said when this device registered; the credential authenticates the map stream. */
export const RegistrationFile = z.object({
  version: Version,
  controlUrl: HttpUrl,
  deviceId: DeviceId,
  nodeCredential: SecretToken,
  /** The node key the credential belongs to; a mismatch with node-key.json voids the registration. */
  nodePublicKey: NodePublicKey,
  name: DeviceName,
  fqdn: Fqdn,
  addresses: DeviceAddresses,
  network: NetworkSummary,
  /** The signed-in user, when registered through a login (null for pre-auth keys). */
  user: UserSummary.nullable(),
  keyExpiry: Timestamp.nullable(),
  registeredAt: Timestamp,
});
export type RegistrationFile = z.infer<typeof RegistrationFile>;

export const PrefsFile = z.object({ version: Version, prefs: Prefs });
export type PrefsFile = z.infer<typeof PrefsFile>;

/** The last netmap, so tunnels come back after a restart while control is unreachable. */
export const NetmapFile = z.object({
  version: Version,
  deviceId: DeviceId,
  nodePublicKey: NodePublicKey,
  netmap: Netmap,
  savedAt: Timestamp,
});
export type NetmapFile = z.infer<typeof NetmapFile>;

/** Small files: a key or a registration is well under a kilobyte; 64 KiB is pure headroom. */
export const MAX_SMALL_STATE_FILE_BYTES = 64 * 1024;
/** Prefs are bounded like the LocalAPI request that sets them. */
export const MAX_PREFS_FILE_BYTES = MAX_LOCALAPI_REQUEST_BYTES;
/** A netmap is bounded like the control message that delivered it. */
export const MAX_NETMAP_FILE_BYTES = MAX_CONTROL_MESSAGE_BYTES;

export const STATE_FILE_NAMES = {
  nodeKey: 'node-key.json',
  registration: 'registration.json',
  prefs: 'prefs.json',
  netmap: 'netmap.json',
} as const;
