/**
 * Public surface of the control plane's storage layer. Row shapes (schema.ts) stay internal.
 */
export { openStore } from './store.js';
export type { Repositories, Store, StoreOptions, StoreTx } from './store.js';
export type { PostgresStoreConfig, SqliteStoreConfig, StoreConfig } from './connect.js';
export { DEFAULT_PG_POOL_SIZE, SQLITE_BUSY_TIMEOUT_MS } from './connect.js';
export type { Dialect } from './context.js';
export { SchemaTooNewError } from './migrate.js';
export type { MigrateReport, SchemaStatus } from './migrate.js';
export { hashToken, newToken, tokenDisplayPrefix, TOKEN_PREFIXES } from './tokens.js';
export type { TokenPrefix } from './tokens.js';
export { newId } from './ids.js';
export type { IdKind } from './ids.js';
export {
  DEFAULT_IPV4_PREFIX,
  MAGIC_DNS_IPV4,
  ipv6For,
  isUla48,
  parseIpv4Prefix,
  randomUlaPrefix,
} from './addresses.js';

export {
  DEFAULT_KEY_EXPIRY_DAYS,
  NetworkRepository,
  defaultNetworkSettings,
  networkSettingsSchema,
} from './networks.js';
export type {
  CreateNetworkError,
  CreateNetworkInput,
  DnsSettings,
  Network,
  NetworkSettings,
  NetworkSettingsPatch,
} from './networks.js';
export { ROLES, UserRepository, normalizeEmail } from './users.js';
export type {
  CreateLocalUserInput,
  CreateUserError,
  OidcIdentity,
  Role,
  UpsertOidcUserInput,
  User,
} from './users.js';
export { UserSessionRepository } from './sessions.js';
export type { CreateUserSessionInput, UserSession } from './sessions.js';
export { LoginSessionRepository } from './login-sessions.js';
export type {
  ClaimLoginError,
  CompleteLoginError,
  CreateLoginSessionInput,
  LoginSession,
  LoginState,
  OidcLoginParams,
} from './login-sessions.js';
export { PreauthKeyRepository } from './preauth-keys.js';
export type { ConsumePreauthKeyError, CreatePreauthKeyInput, PreauthKey } from './preauth-keys.js';
export { DeviceRepository, isKeyExpired } from './devices.js';
export type { CreateDeviceError, CreateDeviceInput, Device, HostInfoUpdate } from './devices.js';
export { ApiKeyRepository } from './api-keys.js';
export type { ApiKey, CreateApiKeyInput } from './api-keys.js';
export { ACTOR_TYPES, AuditRepository, MAX_AUDIT_PAGE } from './audit.js';
export type {
  Actor,
  ActorType,
  AppendAuditInput,
  AuditDiff,
  AuditEntry,
  AuditPage,
  AuditQuery,
  AuditTarget,
  JsonValue,
} from './audit.js';
export { KvRepository } from './kv.js';
export { MAX_POLICY_VERSION_PAGE, PolicyRepository } from './policies.js';
export type {
  PolicyVersion,
  PolicyVersionPage,
  PolicyVersionSummary,
  SavePolicyOptions,
} from './policies.js';
export { EXIT_NODE_PREFIXES, RouteRepository, emptyRoutes } from './routes.js';
export type { Advertised, DeviceRoutes, RouteChange } from './routes.js';
