/** Bearer credentials on HTTP requests: user sessions and admin API keys. */
import type { FastifyRequest } from 'fastify';
import type { ControlContext } from '../context.js';
import { ApiError, unauthorized } from '../http/errors.js';
import { hashToken, TOKEN_PREFIXES } from '../store/tokens.js';
import type { User } from '../store/users.js';
import type { UserSession } from '../store/sessions.js';
import type { ApiKey } from '../store/api-keys.js';
import type { Actor } from '../store/audit.js';

export type Principal =
  | { type: 'user'; user: User; session: UserSession; networkId: string }
  | { type: 'api_key'; apiKey: ApiKey; networkId: string };

export function bearerToken(req: FastifyRequest): string | null {
  const m = /^Bearer (\S{16,512})$/.exec(req.headers.authorization ?? '');
  return m?.[1] ?? null;
}

/** Resolves the request's bearer token to a user session or API key, or refuses with 401. */
export async function requirePrincipal(
  ctx: ControlContext,
  req: FastifyRequest,
): Promise<Principal> {
  const token = bearerToken(req);
  if (!token) throw unauthorized();
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

/** Admin API: API keys, or users with the owner or admin role. */
export async function requireAdmin(ctx: ControlContext, req: FastifyRequest): Promise<Principal> {
  const p = await requirePrincipal(ctx, req);
  if (p.type === 'user' && p.user.role === 'member')
    throw new ApiError('forbidden', 'admin role required');
  return p;
}

export const actorOf = (p: Principal): Actor =>
  p.type === 'user' ? { type: 'user', id: p.user.id } : { type: 'api_key', id: p.apiKey.id };
