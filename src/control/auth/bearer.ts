/** Bearer credentials on HTTP requests: user sessions and admin API keys. */
import type { FastifyRequest } from 'fastify';
import type { ControlContext } from '../context.js';
import { ApiError, unauthorized } from '../http/errors.js';
import { hashToken, TOKEN_PREFIXES } from '../store/tokens.js';
import type { User } from '../store/users.js';
import type { UserSession } from '../store/sessions.js';
import type { ApiKey } from '../store/api-keys.js';
import type { Actor } from '../store/audit.js';
import { consoleSessionToken } from '../console/session-cookie.js';

export type Principal =
  | { type: 'user'; user: User; session: UserSession; networkId: string }
  | { type: 'api_key'; apiKey: ApiKey; networkId: string };

export function bearerToken(req: FastifyRequest): string | null {
  const m = /^Bearer (\S{16,512})$/.exec(req.headers.authorization ?? '');
  return m?.[1] ?? null;
}

/**
 * Resolves the request's bearer token to a user session or API key, or refuses with 401. With
 * `consoleCookie`, the admin console's session cookie counts too, after its CSRF checks.
 */
export async function requirePrincipal(
  ctx: ControlContext,
  req: FastifyRequest,
  opts: { consoleCookie?: boolean } = {},
): Promise<Principal> {
  const token = bearerToken(req) ?? (opts.consoleCookie ? consoleSessionToken(ctx, req) : null);
  if (!token) throw unauthorized();
  return principalOfToken(ctx, token);
}

/** A user session token or API key to its principal, or 401. */
export async function principalOfToken(ctx: ControlContext, token: string): Promise<Principal> {
  const h = hashToken(token);
  if (token.startsWith(TOKEN_PREFIXES.api)) {
    const apiKey = await ctx.store.apiKeys.findActive(h);
    if (!apiKey) throw unauthorized();
    void ctx.store.apiKeys.touch(apiKey.id).catch(() => undefined);
    return { type: 'api_key', apiKey, networkId: apiKey.networkId };
  }
  const found = await ctx.store.userSessions.findActive(h);
  if (!found) throw unauthorized();
  return {
    type: 'user',
    user: found.user,
    session: found.session,
    networkId: found.user.networkId,
  };
}

/** Admin API: API keys, or users with the owner or admin role (bearer or console cookie). */
export async function requireAdmin(ctx: ControlContext, req: FastifyRequest): Promise<Principal> {
  const p = await requirePrincipal(ctx, req, { consoleCookie: true });
  if (p.type === 'user' && p.user.role === 'member')
    throw new ApiError('forbidden', 'admin role required');
  return p;
}

export const actorOf = (p: Principal): Actor =>
  p.type === 'user' ? { type: 'user', id: p.user.id } : { type: 'api_key', id: p.apiKey.id };
