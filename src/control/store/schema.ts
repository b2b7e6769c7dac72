/**
 * Row shapes of every table, as Kysely sees them. These types never leave src/control/store:
 * repositories convert rows to the camelCase domain objects in ./types.ts.
 *
 * Portable column conventions (one rule per kind, same on both dialects):
 * - ids are TEXT (prefixed random ids, see ids.ts), except audit_log.id (an integer sequence
 *   that doubles as the pagination cursor);
 * - timestamps are milliseconds since the Unix epoch: BIGINT on PostgreSQL (parsed to number by
 *   the pool's type parser), INTEGER on SQLite;
 * - booleans are BOOLEAN on PostgreSQL and INTEGER 0/1 on SQLite; both are written as 0/1
 *   (PostgreSQL's boolean input accepts '1'/'0') and read back through codec.toBool;
 * - JSON is JSONB on PostgreSQL (read back parsed) and TEXT on SQLite (read back as a string);
 *   both are written as JSON text and read back through codec.parseJson.
 */
import type { ColumnType, Generated } from 'kysely';

/** Milliseconds since the Unix epoch. */
export type Millis = number;
export type SqlBool = ColumnType<boolean | number, number, number>;
export type SqlJson = ColumnType<unknown, string, string>;
export type SqlJsonNullable = ColumnType<unknown, string | null, string | null>;

export interface NetworksTable {
  id: string;
  name: string;
  /** MagicDNS suffix: devices resolve as `<device>.<domain>`. */
  domain: string;
  ipv4_prefix: string;
  ipv6_ula_prefix: string;
  settings: SqlJson;
  created_at: Millis;
  updated_at: Millis;
}

export interface UsersTable {
  id: string;
  network_id: string;
  /** Stored lower-cased so the per-network unique index is case-insensitive. */
  email: string;
  display_name: string;
  role: string;
  password_hash: string | null;
  oidc_issuer: string | null;
  oidc_subject: string | null;
  groups: SqlJson;
  disabled: SqlBool;
  created_at: Millis;
  updated_at: Millis;
  last_login_at: Millis | null;
}

export interface UserSessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  client_name: string | null;
  created_at: Millis;
  expires_at: Millis;
  last_used_at: Millis | null;
  revoked_at: Millis | null;
}

export interface LoginSessionsTable {
  id: string;
  poll_token_hash: string;
  secret_hash: string;
  state: string;
  client_name: string | null;
  /** Set by complete(): who signed in. */
  user_id: string | null;
  /** Set by claim(): the user session handed to the poller (at most once). */
  user_session_id: string | null;
  oidc_state: string | null;
  oidc_nonce: string | null;
  oidc_code_verifier: string | null;
  created_at: Millis;
  expires_at: Millis;
  completed_at: Millis | null;
}

export interface PreauthKeysTable {
  id: string;
  network_id: string;
  key_hash: string;
  key_prefix: string;
  description: string | null;
  created_by: string | null;
  reusable: SqlBool;
  ephemeral: SqlBool;
  preapproved: SqlBool;
  tags: SqlJson;
  expires_at: Millis;
  used_count: number;
  revoked_at: Millis | null;
  created_at: Millis;
  last_used_at: Millis | null;
}

export interface DevicesTable {
  id: string;
  network_id: string;
  user_id: string | null;
  tags: SqlJson;
  name: string;
  hostname: string;
  node_key: string;
  disco_key: string | null;
  credential_hash: string;
  /** Host index of ipv4 inside the network's prefix; the allocator's gap search runs on it. */
  addr_index: number;
  ipv4: string;
  ipv6: string;
  os: string;
  os_version: string;
  client_version: string;
  host_info: SqlJson;
  key_expiry: Millis | null;
  key_expiry_disabled: SqlBool;
  /** When the audit log recorded the key's expiry (0003); older than key_expiry: not yet. */
  key_expiry_noted_at: Millis | null;
  approved: SqlBool;
  ephemeral: SqlBool;
  preauth_key_id: string | null;
  created_at: Millis;
  updated_at: Millis;
  last_seen_at: Millis | null;
  endpoints: SqlJson;
  home_relay_region: number | null;
  relay_latencies: SqlJson;
  advertised_routes: SqlJson;
}

export interface DeviceRoutesTable {
  device_id: string;
  prefix: string;
  advertised: SqlBool;
  approved: SqlBool;
  is_exit: SqlBool;
  created_at: Millis;
  updated_at: Millis;
}

export interface ApiKeysTable {
  id: string;
  network_id: string;
  key_hash: string;
  prefix: string;
  description: string | null;
  created_by: string | null;
  expires_at: Millis | null;
  revoked_at: Millis | null;
  created_at: Millis;
  last_used_at: Millis | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  network_id: string | null;
  at: Millis;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  diff: SqlJsonNullable;
}

export interface KvTable {
  key: string;
  value: string;
  updated_at: Millis;
}

export interface Database {
  networks: NetworksTable;
  users: UsersTable;
  user_sessions: UserSessionsTable;
  login_sessions: LoginSessionsTable;
  preauth_keys: PreauthKeysTable;
  devices: DevicesTable;
  device_routes: DeviceRoutesTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  kv: KvTable;
}
