/**
 * Login denials: when the browser side of a login session is refused for good (an email domain
 * that is not allowed, a disabled account, the user cancelling at the provider), the poller is
 * told `{status:'denied', reason}` instead of waiting until the session expires.
 *
 * Denials live in the shared kv table (so every control replica sees them) under one key per
 * login session, and are pruned once their login session could no longer be polled anyway.
 */
import { MAX_MESSAGE_LENGTH } from '../../shared/schema/common.js';
import type { Store } from '../store/index.js';

const KEY_PREFIX = 'login.denied.';

const keyFor = (loginId: string): string => `${KEY_PREFIX}${loginId}`;

/**
 * Records that `loginId` was denied, with a reason the app shows the user. Denials older than
 * `keepMs` (the login session lifetime: past it the session polls as expired) are pruned here,
 * so the table holds at most one session lifetime's worth of them.
 */
export async function recordLoginDenial(
  store: Store,
  loginId: string,
  reason: string,
  keepMs: number,
  now: number,
): Promise<void> {
  await store.kv.set(keyFor(loginId), reason.slice(0, MAX_MESSAGE_LENGTH));
  await store.db
    .deleteFrom('kv')
    .where('key', 'like', `${KEY_PREFIX}%`)
    .where('updated_at', '<', now - keepMs)
    .execute();
}

/** The reason `loginId` was denied, or null if it was not. */
export function loginDenial(store: Store, loginId: string): Promise<string | null> {
  return store.kv.get(keyFor(loginId));
}
