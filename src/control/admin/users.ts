/**
 * User administration: list, create local users, change role / name / disabled, set passwords,
 * delete. Two rules hold whoever asks: only owners touch owners (grant the role, or change an
 * owner's account), and the network never loses its last enabled owner.
 */
import type {
  AdminUser,
  CreateUserRequest,
  ListQuery,
  SetPasswordRequest,
  UpdateUserRequest,
} from '../../shared/schema/control/admin.js';
import { hashPassword } from '../auth/passwords.js';
import type { StoreTx } from '../store/index.js';
import type { User } from '../store/users.js';
import { auditAs, change, type AdminDeps, type Caller } from './deps.js';
import { badRequest, conflict, forbidden, notFound } from './errors.js';
import { pageOf, type Page } from './paging.js';
import { userView } from './views.js';

export async function findUser(deps: AdminDeps, caller: Caller, id: string): Promise<User> {
  const u = await deps.store.users.get(id);
  if (!u || u.networkId !== caller.networkId) throw notFound('user');
  return u;
}

function assertMayTouch(caller: Caller, target: User): void {
  if (target.role === 'owner' && caller.power !== 'owner')
    throw forbidden("only an owner may change an owner's account");
}

/**
 * Runs fn with the network's row locked (PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the
 * only write lock), so two concurrent demotions cannot each see the other owner and leave none.
 */
function withNetworkLock<T>(
  deps: AdminDeps,
  networkId: string,
  fn: (tx: StoreTx) => Promise<T>,
): Promise<T> {
  return deps.store.transaction(async (tx) => {
    if (tx.dialect === 'postgres') {
      await tx.db
        .selectFrom('networks')
        .select('id')
        .where('id', '=', networkId)
        .forUpdate()
        .execute();
    }
    return fn(tx);
  });
}

/** Throws if `target` is the last enabled owner and is about to stop being one. */
async function assertNotLastOwner(tx: StoreTx, target: User, what: string): Promise<void> {
  if (target.role !== 'owner' || target.disabled) return;
  if ((await tx.users.countByRole(target.networkId, 'owner')) <= 1)
    throw conflict(`cannot ${what} the last owner of the network`);
}

export async function listUsers(
  deps: AdminDeps,
  caller: Caller,
  q: ListQuery,
): Promise<Page<AdminUser>> {
  const users = await deps.store.users.list(caller.networkId);
  return pageOf(
    users,
    (u) => u.email,
    (u) => userView(u, deps.oidcProviderName),
    q,
  );
}

export async function getUser(deps: AdminDeps, caller: Caller, id: string): Promise<AdminUser> {
  return userView(await findUser(deps, caller, id), deps.oidcProviderName);
}

export async function createUser(
  deps: AdminDeps,
  caller: Caller,
  r: CreateUserRequest,
): Promise<AdminUser> {
  if (r.role === 'owner' && caller.power !== 'owner')
    throw forbidden('only an owner may grant the owner role');
  const created = await deps.store.users.createLocal({
    networkId: caller.networkId,
    email: r.email,
    ...(r.name ? { displayName: r.name } : {}),
    role: r.role,
    passwordHash: await hashPassword(r.password),
  });
  if (!created.ok) {
    if (created.error === 'email_taken') throw conflict(`a user with email ${r.email} exists`);
    throw notFound('network');
  }
  const u = created.value;
  await auditAs(
    deps,
    caller,
    'user.created',
    { type: 'user', id: u.id },
    {
      email: u.email,
      role: u.role,
    },
  );
  return userView(u, deps.oidcProviderName);
}

export async function updateUser(
  deps: AdminDeps,
  caller: Caller,
  id: string,
  r: UpdateUserRequest,
): Promise<AdminUser> {
  const before = await findUser(deps, caller, id);
  assertMayTouch(caller, before);
  if (r.role === 'owner' && before.role !== 'owner' && caller.power !== 'owner')
    throw forbidden('only an owner may grant the owner role');

  const after = await withNetworkLock(deps, caller.networkId, async (tx) => {
    let u = (await tx.users.get(id)) ?? before;
    if (r.role !== undefined && r.role !== u.role) {
      if (r.role !== 'owner') await assertNotLastOwner(tx, u, 'demote');
      u = (await tx.users.setRole(id, r.role)) ?? u;
    }
    if (r.disabled !== undefined && r.disabled !== u.disabled) {
      if (r.disabled) await assertNotLastOwner(tx, u, 'disable');
      u = (await tx.users.setDisabled(id, r.disabled)) ?? u;
      // A disabled account is signed out everywhere, not just refused at its next sign-in.
      if (r.disabled) await tx.userSessions.revokeAllForUser(id);
    }
    if (r.name !== undefined && r.name !== u.displayName) {
      u = (await tx.users.setDisplayName(id, r.name)) ?? u;
    }
    return u;
  });

  const target = { type: 'user', id };
  if (after.role !== before.role)
    await auditAs(deps, caller, 'user.role_changed', target, {
      role: change(before.role, after.role),
    });
  if (after.disabled !== before.disabled) {
    // A disabled user's devices leave every netmap (and come back when re-enabled).
    for (const d of await deps.store.devices.listByUser(id)) await deps.mesh.deviceChanged(d.id);
  }
  if (after.disabled !== before.disabled)
    await auditAs(deps, caller, after.disabled ? 'user.disabled' : 'user.enabled', target, {
      disabled: change(before.disabled, after.disabled),
    });
  if (after.displayName !== before.displayName)
    await auditAs(deps, caller, 'user.renamed', target, {
      name: change(before.displayName, after.displayName),
    });
  return userView(after, deps.oidcProviderName);
}

/**
 * Sets a local user's password and signs their other sessions out: an admin resets a password
 * because the old one may be known to someone else.
 */
export async function setPassword(
  deps: AdminDeps,
  caller: Caller,
  id: string,
  r: SetPasswordRequest,
): Promise<AdminUser> {
  const u = await findUser(deps, caller, id);
  assertMayTouch(caller, u);
  if (u.oidc) throw badRequest('this user signs in through SSO and has no password');
  const updated = await deps.store.users.setPasswordHash(id, await hashPassword(r.password));
  if (!updated) throw notFound('user');
  const sessions = await deps.store.userSessions.listActive(id);
  let revoked = 0;
  for (const s of sessions) {
    if (s.id !== caller.sessionId && (await deps.store.userSessions.revoke(s.id))) revoked++;
  }
  await auditAs(
    deps,
    caller,
    'user.password_set',
    { type: 'user', id },
    {
      sessionsRevoked: revoked,
    },
  );
  return userView(updated, deps.oidcProviderName);
}

/** Deletes a user with their devices (the store cascades) and sessions. */
export async function deleteUser(deps: AdminDeps, caller: Caller, id: string): Promise<void> {
  const u = await findUser(deps, caller, id);
  assertMayTouch(caller, u);
  const devices = await withNetworkLock(deps, caller.networkId, async (tx) => {
    const current = await tx.users.get(id);
    if (!current) throw notFound('user');
    await assertNotLastOwner(tx, current, 'delete');
    const owned = await tx.devices.listByUser(id);
    await tx.users.delete(id);
    return owned;
  });
  for (const d of devices) {
    deps.mesh.deviceRemoved(d.id);
    await auditAs(
      deps,
      caller,
      'device.deleted',
      { type: 'device', id: d.id },
      {
        name: d.name,
        reason: 'owner deleted',
      },
    );
  }
  await auditAs(
    deps,
    caller,
    'user.deleted',
    { type: 'user', id },
    {
      email: u.email,
      role: u.role,
      devices: devices.length,
    },
  );
}
