/** The audit log as the admin API serves it: filtered, newest first, paged by entry id. */
import type { AuditLog, AuditQuery } from '../../shared/schema/control/admin.js';
import type { ActorType } from '../store/audit.js';
import type { AdminDeps, Caller } from './deps.js';
import { badRequest } from './errors.js';
import { DEFAULT_PAGE_SIZE } from './paging.js';
import { auditView } from './views.js';

const ACTOR_TYPE: Record<string, ActorType> = {
  user: 'user',
  'api-key': 'api_key',
  device: 'device',
  system: 'system',
};

function actorFilter(actor: string | undefined): { type: ActorType; id?: string } | undefined {
  if (actor === undefined) return undefined;
  const i = actor.indexOf(':');
  const type = ACTOR_TYPE[i < 0 ? actor : actor.slice(0, i)];
  if (!type) throw badRequest('actor: expected "<type>[:<id>]"');
  return i < 0 ? { type } : { type, id: actor.slice(i + 1) };
}

export async function queryAudit(
  deps: AdminDeps,
  caller: Caller,
  q: AuditQuery,
): Promise<AuditLog> {
  const actor = actorFilter(q.actor);
  const r = await deps.store.audit.query({
    networkId: caller.networkId,
    ...(q.since ? { since: new Date(q.since) } : {}),
    ...(q.until ? { until: new Date(q.until) } : {}),
    ...(actor ? { actor } : {}),
    ...(q.action ? { action: q.action } : {}),
    limit: q.limit ?? DEFAULT_PAGE_SIZE,
    cursor: q.cursor ?? null,
  });
  if (!r.ok) throw badRequest('cursor: not a cursor from this list');
  const emails = new Map<string, string>();
  for (const e of r.value.entries) {
    const id = e.actor.type === 'user' ? e.actor.id : null;
    if (id && !emails.has(id)) {
      const u = await deps.store.users.get(id);
      if (u) emails.set(id, u.email);
    }
  }
  return {
    items: r.value.entries.map((e) => auditView(e, emails)),
    nextCursor: r.value.nextCursor,
  };
}
