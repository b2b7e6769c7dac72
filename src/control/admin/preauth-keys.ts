/**
 * Pre-auth keys: register servers without an interactive sign-in. The secret is returned once,
 * at creation; lists show only its non-secret prefix.
 */
import type {
  CreatePreauthKeyRequest,
  CreatePreauthKeyResponse,
  ListQuery,
  PreauthKeyInfo,
} from '../../shared/schema/control/admin.js';
import { auditAs, type AdminDeps, type Caller } from './deps.js';
import { badRequest, notFound } from './errors.js';
import { newestFirst, pageOf, type Page } from './paging.js';
import { findUser } from './users.js';
import { preauthKeyView } from './views.js';
import { MAX_PREAUTH_KEY_TTL_SECONDS } from '../../shared/schema/control/admin.js';

/**
 * Lifetime of a key created without one: long enough to provision a machine the same day,
 * short enough that a key pasted somewhere and forgotten soon stops working.
 */
export const DEFAULT_PREAUTH_KEY_TTL_SECONDS = 86_400;

function expiryOf(deps: AdminDeps, r: CreatePreauthKeyRequest): Date {
  const now = deps.now();
  const at =
    r.expiresAt !== undefined
      ? Date.parse(r.expiresAt)
      : now + (r.expiresIn ?? DEFAULT_PREAUTH_KEY_TTL_SECONDS) * 1000;
  if (at <= now) throw badRequest('expiresAt: must be in the future');
  if (at > now + MAX_PREAUTH_KEY_TTL_SECONDS * 1000)
    throw badRequest('expiresAt: a pre-auth key lives at most 365 days');
  return new Date(at);
}

/**
 * The owner of an untagged key's devices: the named user, else the caller's own user (a session,
 * or the API key's creator). The server's CLI has no user of its own and must name one.
 */
async function ownerOf(
  deps: AdminDeps,
  caller: Caller,
  r: CreatePreauthKeyRequest,
): Promise<string | null> {
  if (r.tags.length > 0) return caller.userId;
  const id = r.user ?? caller.userId;
  if (!id) throw badRequest('user: name the user whose devices this key registers, or give tags');
  const u = await findUser(deps, caller, id);
  if (u.disabled) throw badRequest('user: this user is disabled');
  return u.id;
}

export async function createPreauthKey(
  deps: AdminDeps,
  caller: Caller,
  r: CreatePreauthKeyRequest,
): Promise<CreatePreauthKeyResponse> {
  const expiresAt = expiryOf(deps, r);
  const createdBy = await ownerOf(deps, caller, r);
  const { preauthKey, key } = await deps.store.preauthKeys.create({
    networkId: caller.networkId,
    createdBy,
    expiresAt,
    reusable: r.reusable,
    ephemeral: r.ephemeral,
    preapproved: r.preapproved,
    tags: [...new Set(r.tags)].sort(),
    description: r.description || null,
  });
  await auditAs(
    deps,
    caller,
    'preauth_key.created',
    { type: 'preauth_key', id: preauthKey.id },
    {
      prefix: preauthKey.keyPrefix,
      reusable: preauthKey.reusable,
      ephemeral: preauthKey.ephemeral,
      preapproved: preauthKey.preapproved,
      tags: preauthKey.tags,
      user: createdBy,
      expiresAt: expiresAt.toISOString(),
    },
  );
  return { key: preauthKeyView(preauthKey), secret: key };
}

export async function listPreauthKeys(
  deps: AdminDeps,
  caller: Caller,
  q: ListQuery,
): Promise<Page<PreauthKeyInfo>> {
  const keys = await deps.store.preauthKeys.list(caller.networkId);
  return pageOf(keys, (k) => newestFirst(k.createdAt, k.id), preauthKeyView, q);
}

/** Revoking an already revoked key succeeds and changes nothing. */
export async function revokePreauthKey(deps: AdminDeps, caller: Caller, id: string): Promise<void> {
  const k = await deps.store.preauthKeys.get(id);
  if (!k || k.networkId !== caller.networkId) throw notFound('pre-auth key');
  if (await deps.store.preauthKeys.revoke(id))
    await auditAs(
      deps,
      caller,
      'preauth_key.revoked',
      { type: 'preauth_key', id },
      {
        prefix: k.keyPrefix,
      },
    );
}
