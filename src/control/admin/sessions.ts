/** User sessions: list the active ones, sign one out, or sign a user out everywhere. */
import type {
  RevokedSessions,
  SessionInfo,
  SessionListQuery,
} from '../../shared/schema/control/admin.js';
import type { UserSession } from '../store/sessions.js';
import { auditAs, type AdminDeps, type Caller } from './deps.js';
import { notFound } from './errors.js';
import { newestFirst, pageOf, type Page } from './paging.js';
import { findUser } from './users.js';
import { sessionView } from './views.js';

export async function listSessions(
  deps: AdminDeps,
  caller: Caller,
  q: SessionListQuery,
): Promise<Page<SessionInfo>> {
  const userIds = q.user
    ? [(await findUser(deps, caller, q.user)).id]
    : (await deps.store.users.list(caller.networkId)).map((u) => u.id);
  const sessions: UserSession[] = [];
  for (const id of userIds) sessions.push(...(await deps.store.userSessions.listActive(id)));
  return pageOf(
    sessions,
    (s) => newestFirst(s.createdAt, s.id),
    (s) => sessionView(s, caller.sessionId),
    q,
  );
}

/** Revoking an already revoked session succeeds and changes nothing. */
export async function revokeSession(deps: AdminDeps, caller: Caller, id: string): Promise<void> {
  const s = await deps.store.userSessions.get(id);
  const owner = s ? await deps.store.users.get(s.userId) : null;
  if (!s || !owner || owner.networkId !== caller.networkId) throw notFound('session');
  if (await deps.store.userSessions.revoke(id))
    await auditAs(deps, caller, 'session.revoked', { type: 'session', id }, { user: owner.email });
}

export async function revokeUserSessions(
  deps: AdminDeps,
  caller: Caller,
  userId: string,
): Promise<RevokedSessions> {
  const u = await findUser(deps, caller, userId);
  const revoked = await deps.store.userSessions.revokeAllForUser(u.id);
  await auditAs(
    deps,
    caller,
    'session.revoked_all',
    { type: 'user', id: u.id },
    {
      user: u.email,
      revoked,
    },
  );
  return { revoked };
}
