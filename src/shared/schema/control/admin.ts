/**
 * The admin API (`/v1/admin/...`), authenticated by an owner or admin user session or an API key.
 * Lists are paged with an opaque cursor.
 */
import * as z from 'zod';
import {
  Cidrs,
  DeviceAddresses,
  DeviceId,
  DeviceName,
  DisplayName,
  Email,
  Fqdn,
  Id,
  MAX_VERSION_LENGTH,
  NodePublicKey,
  OsKind,
  SecretToken,
  Slug,
  Tags,
  Timestamp,
  UserId,
} from '../common.js';
import { NetworkSummary } from './auth.js';
import { DeviceOwner, DnsConfig, PostureResults, RouteState } from './netmap.js';

/** Page size limit: large enough for an admin table, small enough to serve from one query. */
export const MAX_PAGE_SIZE = 500;
/** Policy document size (HuJSON text); big organisations' policies are tens of kilobytes. */
export const MAX_POLICY_LENGTH = 1024 * 1024;
/** Minimum local password length (NIST SP 800-63B asks for at least 8; we ask a little more). */
export const MIN_PASSWORD_LENGTH = 12;
/** Maximum password length: argon2 hashes anything, but a cap stops CPU-burning requests. */
export const MAX_PASSWORD_LENGTH = 256;

export const Cursor = z.string().min(1).max(512);

/** Query string of list endpoints: `?cursor=...&limit=...`. */
export const ListQuery = z.object({
  cursor: Cursor.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
});
export type ListQuery = z.infer<typeof ListQuery>;

/** `{ items, nextCursor }`; nextCursor is null on the last page. */
export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item).max(MAX_PAGE_SIZE), nextCursor: Cursor.nullable() });

/** Path parameter of `/v1/admin/<things>/:id`. */
export const IdParams = z.object({ id: Id });

// Users ---------------------------------------------------------------------------------------

export const UserRole = z.enum(['owner', 'admin', 'member']);
export type UserRole = z.infer<typeof UserRole>;

export const AdminUser = z.object({
  id: UserId,
  email: Email.nullable(),
  name: DisplayName,
  role: UserRole,
  /** "local" for password users, else the OIDC provider's name. */
  provider: z.string().min(1).max(64),
  disabled: z.boolean(),
  createdAt: Timestamp,
  lastLoginAt: Timestamp.nullable(),
});
export type AdminUser = z.infer<typeof AdminUser>;
export const UserList = page(AdminUser);
export type UserList = z.infer<typeof UserList>;

/** Creates a local (password) user; OIDC users appear on first sign-in. */
export const CreateUserRequest = z.object({
  email: Email,
  /** Empty: the email doubles as the display name. */
  name: DisplayName.default(''),
  role: UserRole,
  password: z.string().min(MIN_PASSWORD_LENGTH).max(MAX_PASSWORD_LENGTH),
});
export type CreateUserRequest = z.infer<typeof CreateUserRequest>;

export const UpdateUserRequest = z
  .object({ name: DisplayName, role: UserRole, disabled: z.boolean() })
  .partial()
  .refine((r) => Object.keys(r).length > 0, 'nothing to update');
export type UpdateUserRequest = z.infer<typeof UpdateUserRequest>;

/** `PUT /v1/admin/users/:id/password`: sets a local user's password. */
export const SetPasswordRequest = z.object({
  password: z.string().min(MIN_PASSWORD_LENGTH).max(MAX_PASSWORD_LENGTH),
});
export type SetPasswordRequest = z.infer<typeof SetPasswordRequest>;

// Devices -------------------------------------------------------------------------------------

export const AdminDevice = z.object({
  id: DeviceId,
  name: DeviceName,
  fqdn: Fqdn,
  owner: DeviceOwner,
  nodeKey: NodePublicKey,
  addresses: DeviceAddresses,
  os: OsKind,
  osVersion: z.string().max(MAX_VERSION_LENGTH),
  clientVersion: z.string().max(MAX_VERSION_LENGTH),
  hostname: z.string().max(255),
  online: z.boolean(),
  lastSeen: Timestamp.nullable(),
  created: Timestamp,
  keyExpiry: Timestamp.nullable(),
  keyExpiryDisabled: z.boolean(),
  approved: z.boolean(),
  ephemeral: z.boolean(),
  routes: RouteState,
  exitNode: z.object({ advertised: z.boolean(), approved: z.boolean() }),
  posture: PostureResults,
});
export type AdminDevice = z.infer<typeof AdminDevice>;
export const DeviceList = page(AdminDevice);
export type DeviceList = z.infer<typeof DeviceList>;

/** `PATCH /v1/admin/devices/:id`: each present field is one change (and one audit entry). */
export const UpdateDeviceRequest = z
  .object({
    name: DeviceName,
    keyExpiryDisabled: z.boolean(),
    approved: z.boolean(),
    tags: Tags,
    approvedRoutes: Cidrs,
    exitNodeApproved: z.boolean(),
  })
  .partial()
  .refine((r) => Object.keys(r).length > 0, 'nothing to update');
export type UpdateDeviceRequest = z.infer<typeof UpdateDeviceRequest>;

// Pre-auth keys -------------------------------------------------------------------------------

export const PreauthKeyInfo = z.object({
  id: Id,
  description: DisplayName,
  /** The non-secret start of the key ("tr_auth_Ab3xQ9"), to tell keys apart. */
  prefix: z.string().max(64),
  reusable: z.boolean(),
  ephemeral: z.boolean(),
  /** Devices registered with it skip admin approval. */
  preapproved: z.boolean(),
  tags: Tags,
  createdAt: Timestamp,
  /**
   * For an untagged key, the user its devices belong to; null when it was made from the server's
   * CLI for tags only (or the user was deleted).
   */
  createdBy: UserId.nullable(),
  expiresAt: Timestamp,
  /** Devices registered with it; a single-use key is spent at 1. */
  usedCount: z.number().int().min(0),
  revoked: z.boolean(),
});
export type PreauthKeyInfo = z.infer<typeof PreauthKeyInfo>;
export const PreauthKeyList = page(PreauthKeyInfo);
export type PreauthKeyList = z.infer<typeof PreauthKeyList>;

/** A pre-auth key lives at most a year: long-lived keys belong in a secrets manager's rotation. */
export const MAX_PREAUTH_KEY_TTL_SECONDS = 365 * 86_400;

/**
 * Give `expiresAt` or `expiresIn` (seconds), not both; neither means the server's default (a
 * day). Untagged keys register devices owned by `user` (default: the calling user, or the
 * API key's creator); tagged keys register tagged devices and take no user.
 */
export const CreatePreauthKeyRequest = z
  .object({
    description: DisplayName.default(''),
    reusable: z.boolean().default(false),
    ephemeral: z.boolean().default(false),
    preapproved: z.boolean().default(false),
    tags: Tags.default([]),
    expiresAt: Timestamp.optional(),
    expiresIn: z.number().int().min(1).max(MAX_PREAUTH_KEY_TTL_SECONDS).optional(),
    user: UserId.optional(),
  })
  .refine((r) => r.expiresAt === undefined || r.expiresIn === undefined, {
    message: 'give expiresAt or expiresIn, not both',
  })
  .refine((r) => r.user === undefined || r.tags.length === 0, {
    message: 'a key registers tagged devices or devices of a user, not both',
  });
export type CreatePreauthKeyRequest = z.infer<typeof CreatePreauthKeyRequest>;

/** The secret appears here once; control stores only its hash. */
export const CreatePreauthKeyResponse = z.object({ key: PreauthKeyInfo, secret: SecretToken });
export type CreatePreauthKeyResponse = z.infer<typeof CreatePreauthKeyResponse>;

// Sessions ------------------------------------------------------------------------------------

export const SessionInfo = z.object({
  id: Id,
  userId: UserId,
  clientName: z.string().max(64).nullable(),
  createdAt: Timestamp,
  lastUsedAt: Timestamp.nullable(),
  expiresAt: Timestamp,
  /** The session making this request. */
  current: z.boolean(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;
export const SessionList = page(SessionInfo);
export type SessionList = z.infer<typeof SessionList>;

/** `GET /v1/admin/sessions?user=...`: active sessions, of one user or of everyone. */
export const SessionListQuery = ListQuery.extend({ user: UserId.optional() });
export type SessionListQuery = z.infer<typeof SessionListQuery>;

/** `DELETE /v1/admin/users/:id/sessions`: how many sessions were signed out. */
export const RevokedSessions = z.object({ revoked: z.number().int().min(0) });
export type RevokedSessions = z.infer<typeof RevokedSessions>;

// API keys ------------------------------------------------------------------------------------

export const ApiKeyInfo = z.object({
  id: Id,
  description: DisplayName,
  /** The non-secret start of the key ("tr_api_Ab3xQ9"). */
  prefix: z.string().max(64),
  createdAt: Timestamp,
  /** null when made with the server's CLI (or its creator was deleted). */
  createdBy: UserId.nullable(),
  expiresAt: Timestamp.nullable(),
  lastUsedAt: Timestamp.nullable(),
  revoked: z.boolean(),
});
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;
export const ApiKeyList = page(ApiKeyInfo);
export type ApiKeyList = z.infer<typeof ApiKeyList>;

/** `expiresAt` (null: never) or `expiresIn` seconds; neither means the key does not expire. */
export const CreateApiKeyRequest = z
  .object({
    description: DisplayName.default(''),
    expiresAt: Timestamp.nullable().default(null),
    expiresIn: z.number().int().min(1).optional(),
  })
  .refine((r) => r.expiresAt === null || r.expiresIn === undefined, {
    message: 'give expiresAt or expiresIn, not both',
  });
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequest>;

export const CreateApiKeyResponse = z.object({ key: ApiKeyInfo, secret: SecretToken });
export type CreateApiKeyResponse = z.infer<typeof CreateApiKeyResponse>;

// Policy --------------------------------------------------------------------------------------

export const PolicyDocument = z.object({
  /** HuJSON text exactly as the admin wrote it, comments included. */
  policy: z.string().max(MAX_POLICY_LENGTH),
  /** 1, 2, 3, ... per network; 0 while nothing was saved (the built-in default applies). */
  version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Changes whenever the policy does; send it back as `ifMatch` to avoid lost updates. */
  etag: z.string().min(1).max(128),
  updatedAt: Timestamp.nullable(),
});
export type PolicyDocument = z.infer<typeof PolicyDocument>;

export const PutPolicyRequest = z.object({
  policy: z.string().max(MAX_POLICY_LENGTH),
  ifMatch: z.string().min(1).max(128).optional(),
  /** Why, kept with the version ("open ssh to the build servers"). */
  comment: DisplayName.optional(),
});
export type PutPolicyRequest = z.infer<typeof PutPolicyRequest>;

/** Returned with 400 when the policy does not parse or its tests fail. */
export const PolicyProblem = z.object({
  /** 1-based line and column in the document, when known. */
  line: z.number().int().min(1).optional(),
  column: z.number().int().min(1).optional(),
  message: z.string().max(2048),
});
export const PolicyRejected = z.object({
  error: z.object({ code: z.literal('bad_request'), message: z.string().max(2048) }),
  problems: z.array(PolicyProblem).max(100),
});
export type PolicyRejected = z.infer<typeof PolicyRejected>;

// Audit log -----------------------------------------------------------------------------------

export const AuditActor = z.discriminatedUnion('type', [
  z.object({ type: z.literal('user'), id: UserId, email: Email.nullable() }),
  z.object({ type: z.literal('api-key'), id: Id }),
  z.object({ type: z.literal('device'), id: DeviceId }),
  z.object({ type: z.literal('system') }),
]);
export type AuditActor = z.infer<typeof AuditActor>;

const AuditValue = z.union([z.string().max(2048), z.number(), z.boolean(), z.null()]);

export const AuditEvent = z.object({
  id: Id,
  time: Timestamp,
  actor: AuditActor,
  /** "user.login", "device.rename", "policy.update", ... */
  action: Slug,
  target: z.object({ type: Slug, id: Id }).nullable(),
  /** Changed fields, old and new value. */
  diff: z.array(z.object({ field: z.string().max(128), old: AuditValue, new: AuditValue })).max(64),
});
export type AuditEvent = z.infer<typeof AuditEvent>;
export const AuditLog = page(AuditEvent);
export type AuditLog = z.infer<typeof AuditLog>;

/**
 * `GET /v1/admin/audit`: newest first. `since` is inclusive, `until` exclusive; `actor` is a
 * type ("user", "api-key", "device", "system") optionally followed by ":<id>".
 */
export const AuditQuery = ListQuery.extend({
  since: Timestamp.optional(),
  until: Timestamp.optional(),
  actor: z
    .string()
    .max(80)
    .regex(/^(user|api-key|device|system)(:[A-Za-z0-9_-]{1,64})?$/, 'expected "<type>[:<id>]"')
    .optional(),
  action: Slug.optional(),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

// Policy versions and routes ------------------------------------------------------------------

export const PolicyVersionNumber = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** One entry of `GET /v1/admin/policy/versions` (newest first; the text via .../versions/:version). */
export const PolicyVersionInfo = z.object({
  version: PolicyVersionNumber,
  createdAt: Timestamp,
  createdBy: AuditActor,
  comment: DisplayName.nullable(),
  /** Set when this version was made by rolling back to that older one. */
  rolledBackFrom: PolicyVersionNumber.nullable(),
  /** The version in force (the newest). */
  active: z.boolean(),
});
export type PolicyVersionInfo = z.infer<typeof PolicyVersionInfo>;
export const PolicyVersionList = page(PolicyVersionInfo);
export type PolicyVersionList = z.infer<typeof PolicyVersionList>;

/** Path parameter of `GET /v1/admin/policy/versions/:version`. */
export const PolicyVersionParams = z.object({
  version: z.coerce.number().pipe(PolicyVersionNumber),
});

/**
 * `POST /v1/admin/policy/rollback`: saves version `version`'s text as a new version. It must
 * still pass validation (groups it names may have gone); refused like PUT otherwise.
 */
export const RollbackPolicyRequest = z.object({
  version: PolicyVersionNumber,
  ifMatch: z.string().min(1).max(128).optional(),
  comment: DisplayName.optional(),
});
export type RollbackPolicyRequest = z.infer<typeof RollbackPolicyRequest>;

/**
 * `GET /v1/admin/routes`: per device, subnet routes advertised, approved (an approval may precede
 * the advertisement) and enabled (both: what peers may use), and the exit node.
 */
export const DeviceRoutesView = z.object({
  deviceId: DeviceId,
  deviceName: DeviceName,
  advertised: Cidrs,
  approved: Cidrs,
  enabled: Cidrs,
  exitNode: z.object({ advertised: z.boolean(), approved: z.boolean(), enabled: z.boolean() }),
});
export type DeviceRoutesView = z.infer<typeof DeviceRoutesView>;
export const DeviceRoutesList = page(DeviceRoutesView);
export type DeviceRoutesList = z.infer<typeof DeviceRoutesList>;

// Network settings ----------------------------------------------------------------------------

/** Key expiry can be set from a day to ten years (Tailscale allows 1–180 days). */
export const MAX_KEY_EXPIRY_DAYS = 3650;
export const KeyExpiryDays = z.number().int().min(1).max(MAX_KEY_EXPIRY_DAYS);

/**
 * The DNS settings an admin edits; the network domain itself is fixed at creation.
 * `extraRecords` are answered by devices' local resolvers beside device names; their names may
 * be any FQDN (control refuses duplicates and CNAMEs sharing a name, see docs/control.md "DNS").
 */
export const DnsSettings = z.object({
  magicDns: z.boolean(),
  nameservers: DnsConfig.shape.nameservers,
  searchDomains: DnsConfig.shape.searchDomains,
  splitDns: DnsConfig.shape.splitDns,
  extraRecords: DnsConfig.shape.extraRecords,
});
export type DnsSettings = z.infer<typeof DnsSettings>;

/** Audit entries are kept up to a century; 0 keeps them forever. */
export const MAX_AUDIT_RETENTION_DAYS = 36_500;
/** Days the audit log keeps an entry before the retention sweep deletes it; 0: forever. */
export const AuditRetentionDays = z.number().int().min(0).max(MAX_AUDIT_RETENTION_DAYS);

/** `GET /v1/admin/settings`. */
export const NetworkSettingsView = z.object({
  network: NetworkSummary,
  /** Default lifetime of a node key, from registration or re-login. */
  keyExpiryDays: KeyExpiryDays,
  /** New devices wait for an admin's approval before they get peers. */
  deviceApprovalRequired: z.boolean(),
  dns: DnsSettings,
  auditRetentionDays: AuditRetentionDays,
});
export type NetworkSettingsView = z.infer<typeof NetworkSettingsView>;

/** `PATCH /v1/admin/settings`: present fields change; `dns` fields merge into the current ones. */
export const UpdateNetworkSettingsRequest = z
  .object({
    keyExpiryDays: KeyExpiryDays,
    deviceApprovalRequired: z.boolean(),
    dns: DnsSettings.partial(),
    auditRetentionDays: AuditRetentionDays,
  })
  .partial()
  .refine((r) => Object.keys(r).length > 0, 'nothing to update');
export type UpdateNetworkSettingsRequest = z.infer<typeof UpdateNetworkSettingsRequest>;
