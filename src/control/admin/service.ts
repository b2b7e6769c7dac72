/**
 * The admin operations as one interface. `adminService` runs them in this process (HTTP routes,
 * the CLI on the database); the CLI's `--server` mode implements the same interface over the
 * admin HTTP API (cli/http-admin.ts), so every command has exactly one implementation of its
 * logic: the functions in this folder.
 */
import type {
  AdminDevice,
  AdminUser,
  ApiKeyList,
  AuditLog,
  AuditQuery,
  CreateApiKeyRequest,
  CreateApiKeyResponse,
  CreatePreauthKeyRequest,
  CreatePreauthKeyResponse,
  CreateUserRequest,
  DeviceList,
  ListQuery,
  NetworkSettingsView,
  PreauthKeyList,
  RevokedSessions,
  SessionList,
  SessionListQuery,
  SetPasswordRequest,
  UpdateDeviceRequest,
  UpdateNetworkSettingsRequest,
  UpdateUserRequest,
  UserList,
} from '../../shared/schema/control/admin.js';
import { createApiKey, listApiKeys, revokeApiKey } from './api-keys.js';
import { queryAudit } from './audit.js';
import type { AdminDeps, Caller } from './deps.js';
import { deleteDevice, expireDevice, getDevice, listDevices, updateDevice } from './devices.js';
import { createPreauthKey, listPreauthKeys, revokePreauthKey } from './preauth-keys.js';
import { listSessions, revokeSession, revokeUserSessions } from './sessions.js';
import { getSettings, updateSettings } from './settings.js';
import { createUser, deleteUser, getUser, listUsers, setPassword, updateUser } from './users.js';

export interface AdminApi {
  listUsers(q: ListQuery): Promise<UserList>;
  getUser(id: string): Promise<AdminUser>;
  createUser(r: CreateUserRequest): Promise<AdminUser>;
  updateUser(id: string, r: UpdateUserRequest): Promise<AdminUser>;
  setPassword(id: string, r: SetPasswordRequest): Promise<AdminUser>;
  deleteUser(id: string): Promise<void>;

  listDevices(q: ListQuery): Promise<DeviceList>;
  getDevice(id: string): Promise<AdminDevice>;
  updateDevice(id: string, r: UpdateDeviceRequest): Promise<AdminDevice>;
  expireDevice(id: string): Promise<AdminDevice>;
  deleteDevice(id: string): Promise<void>;

  listPreauthKeys(q: ListQuery): Promise<PreauthKeyList>;
  createPreauthKey(r: CreatePreauthKeyRequest): Promise<CreatePreauthKeyResponse>;
  revokePreauthKey(id: string): Promise<void>;

  listSessions(q: SessionListQuery): Promise<SessionList>;
  revokeSession(id: string): Promise<void>;
  revokeUserSessions(userId: string): Promise<RevokedSessions>;

  listApiKeys(q: ListQuery): Promise<ApiKeyList>;
  createApiKey(r: CreateApiKeyRequest): Promise<CreateApiKeyResponse>;
  revokeApiKey(id: string): Promise<void>;

  getSettings(): Promise<NetworkSettingsView>;
  updateSettings(r: UpdateNetworkSettingsRequest): Promise<NetworkSettingsView>;

  audit(q: AuditQuery): Promise<AuditLog>;
}

export function adminService(deps: AdminDeps, caller: Caller): AdminApi {
  return {
    listUsers: (q) => listUsers(deps, caller, q),
    getUser: (id) => getUser(deps, caller, id),
    createUser: (r) => createUser(deps, caller, r),
    updateUser: (id, r) => updateUser(deps, caller, id, r),
    setPassword: (id, r) => setPassword(deps, caller, id, r),
    deleteUser: (id) => deleteUser(deps, caller, id),

    listDevices: (q) => listDevices(deps, caller, q),
    getDevice: (id) => getDevice(deps, caller, id),
    updateDevice: (id, r) => updateDevice(deps, caller, id, r),
    expireDevice: (id) => expireDevice(deps, caller, id),
    deleteDevice: (id) => deleteDevice(deps, caller, id),

    listPreauthKeys: (q) => listPreauthKeys(deps, caller, q),
    createPreauthKey: (r) => createPreauthKey(deps, caller, r),
    revokePreauthKey: (id) => revokePreauthKey(deps, caller, id),

    listSessions: (q) => listSessions(deps, caller, q),
    revokeSession: (id) => revokeSession(deps, caller, id),
    revokeUserSessions: (id) => revokeUserSessions(deps, caller, id),

    listApiKeys: (q) => listApiKeys(deps, caller, q),
    createApiKey: (r) => createApiKey(deps, caller, r),
    revokeApiKey: (id) => revokeApiKey(deps, caller, id),

    getSettings: () => getSettings(deps, caller),
    updateSettings: (r) => updateSettings(deps, caller, r),

    audit: (q) => queryAudit(deps, caller, q),
  };
}
