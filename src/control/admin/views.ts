/**
 * Store rows → the admin API's wire shapes (src/shared/schema/control/admin.ts). Wire types stop
 * here: the operations speak store types inside and hand these views out.
 */
import type {
  AdminDevice,
  AdminUser,
  ApiKeyInfo,
  AuditActor,
  AuditEvent,
  NetworkSettingsView,
  PreauthKeyInfo,
  SessionInfo,
} from '../../shared/schema/control/admin.js';
import { MAX_MESSAGE_LENGTH } from '../../shared/schema/common.js';
import { toMeshDevice } from '../mesh.js';
import type { ApiKey } from '../store/api-keys.js';
import type { AuditEntry, JsonValue } from '../store/audit.js';
import type { Device } from '../store/devices.js';
import type { Network } from '../store/networks.js';
import type { PreauthKey } from '../store/preauth-keys.js';
import type { UserSession } from '../store/sessions.js';
import type { User } from '../store/users.js';
import type { MeshEffects } from './deps.js';

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function userView(u: User, oidcProviderName: string | null): AdminUser {
  return {
    id: u.id,
    email: u.email,
    name: u.displayName,
    role: u.role,
    provider: u.oidc ? (oidcProviderName ?? 'oidc') : 'local',
    disabled: u.disabled,
    createdAt: iso(u.createdAt),
    lastLoginAt: isoOrNull(u.lastLoginAt),
  };
}

export function deviceView(
  d: Device,
  network: Network,
  owner: User | null,
  mesh: MeshEffects,
): AdminDevice {
  const m = toMeshDevice(d, network, owner);
  const live = mesh.presence(d.id);
  return {
    id: d.id,
    name: d.name,
    fqdn: m.fqdn,
    owner: m.owner,
    nodeKey: d.nodeKey,
    addresses: { ipv4: d.ipv4, ipv6: d.ipv6 },
    os: m.os,
    osVersion: d.osVersion,
    clientVersion: d.clientVersion,
    hostname: d.hostname,
    online: live?.online ?? false,
    lastSeen: live?.lastSeen ?? isoOrNull(d.lastSeenAt),
    created: iso(d.createdAt),
    keyExpiry: isoOrNull(d.keyExpiry),
    keyExpiryDisabled: d.keyExpiryDisabled,
    approved: d.approved,
    ephemeral: d.ephemeral,
    routes: m.routes,
    exitNode: { advertised: m.hostInfo?.advertiseExitNode === true, approved: m.isExitNode },
    posture: [...m.posture],
  };
}

export function preauthKeyView(k: PreauthKey): PreauthKeyInfo {
  return {
    id: k.id,
    description: k.description ?? '',
    prefix: k.keyPrefix,
    reusable: k.reusable,
    ephemeral: k.ephemeral,
    preapproved: k.preapproved,
    tags: k.tags,
    createdAt: iso(k.createdAt),
    createdBy: k.createdBy,
    expiresAt: iso(k.expiresAt),
    usedCount: k.usedCount,
    revoked: k.revokedAt !== null,
  };
}

export function apiKeyView(k: ApiKey): ApiKeyInfo {
  return {
    id: k.id,
    description: k.description ?? '',
    prefix: k.prefix,
    createdAt: iso(k.createdAt),
    createdBy: k.createdBy,
    expiresAt: isoOrNull(k.expiresAt),
    lastUsedAt: isoOrNull(k.lastUsedAt),
    revoked: k.revokedAt !== null,
  };
}

export function sessionView(s: UserSession, currentSessionId: string | null): SessionInfo {
  return {
    id: s.id,
    userId: s.userId,
    clientName: s.clientName,
    createdAt: iso(s.createdAt),
    lastUsedAt: isoOrNull(s.lastUsedAt),
    expiresAt: iso(s.expiresAt),
    current: s.id === currentSessionId,
  };
}

export function settingsView(n: Network): NetworkSettingsView {
  return {
    network: { id: n.id, name: n.name, domain: n.domain },
    keyExpiryDays: n.settings.keyExpiryDays,
    deviceApprovalRequired: n.settings.deviceApprovalRequired,
    dns: {
      magicDns: n.settings.dns.magicDns,
      nameservers: n.settings.dns.nameservers,
      searchDomains: n.settings.dns.searchDomains,
      splitDns: n.settings.dns.splitDns,
      extraRecords: n.settings.dns.extraRecords,
    },
    auditRetentionDays: n.settings.auditRetentionDays,
  };
}

// Audit ----------------------------------------------------------------------------------------

/** The wire diff holds at most this many fields (AuditEvent's bound); the rest is summarized. */
const MAX_DIFF_FIELDS = 64;

type Scalar = string | number | boolean | null;

/** Objects and arrays become JSON text, cut to the wire bound. */
function scalar(v: JsonValue | undefined): Scalar {
  if (v === undefined) return null;
  if (v === null || typeof v !== 'object') {
    return typeof v === 'string' ? v.slice(0, MAX_MESSAGE_LENGTH) : v;
  }
  return JSON.stringify(v).slice(0, MAX_MESSAGE_LENGTH);
}

/** `{ from, to }` pairs (how admin changes are recorded) become old/new; plain values are new. */
function diffView(diff: AuditEntry['diff']): AuditEvent['diff'] {
  if (!diff) return [];
  const out: AuditEvent['diff'] = [];
  for (const [field, v] of Object.entries(diff).slice(0, MAX_DIFF_FIELDS)) {
    const pair =
      v !== null && typeof v === 'object' && !Array.isArray(v) && 'from' in v && 'to' in v
        ? v
        : null;
    out.push(
      pair
        ? { field: field.slice(0, 128), old: scalar(pair.from), new: scalar(pair.to) }
        : { field: field.slice(0, 128), old: null, new: scalar(v) },
    );
  }
  return out;
}

/** Audit ids and targets come from our own writers; anything that does not fit the wire is dropped. */
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const SLUG_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function actorView(e: AuditEntry, emails: ReadonlyMap<string, string>): AuditActor {
  const id = e.actor.id;
  switch (e.actor.type) {
    case 'user':
      return id && ID_RE.test(id)
        ? { type: 'user', id, email: emails.get(id) ?? null }
        : { type: 'system' };
    case 'api_key':
      return id && ID_RE.test(id) ? { type: 'api-key', id } : { type: 'system' };
    case 'device':
      return id && ID_RE.test(id) ? { type: 'device', id } : { type: 'system' };
    case 'system':
      return { type: 'system' };
  }
}

export function auditView(e: AuditEntry, emails: ReadonlyMap<string, string>): AuditEvent {
  const t = e.target;
  return {
    id: String(e.id),
    time: iso(e.at),
    actor: actorView(e, emails),
    action: SLUG_RE.test(e.action) ? e.action : 'unknown',
    target:
      t && t.id && ID_RE.test(t.id) && SLUG_RE.test(t.type) ? { type: t.type, id: t.id } : null,
    diff: diffView(e.diff),
  };
}
