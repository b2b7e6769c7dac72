/**
 * Signing in to the admin console goes through control's own login pages (password form and
 * "Sign in with <provider>"), like the desktop app and the CLI:
 *
 *   GET  /admin/signin?via=password|oidc   starts a login session for the console, remembers its
 *                                          poll token in a short-lived cookie, and sends the
 *                                          browser to the login page (or straight to the IdP)
 *   ...  /login/<secret>, /oidc/callback   the login pages; a login started here ends with a
 *                                          redirect to /admin/signin/complete (continueToConsole)
 *   GET  /admin/signin/complete            claims the login with that cookie and stores the new
 *                                          user session in the console cookie
 *   GET  /admin/session                    who the cookie belongs to (the app's first fetch)
 *   POST /admin/signout                    ends the session and clears the cookie
 *
 * Only owners and admins get a console session: a member's sign-in is ended at once and the
 * page says why.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as z from 'zod';
import {
  CONSOLE_PATH,
  CONSOLE_SESSION_PATH,
  CONSOLE_SIGNIN_PATH,
  CONSOLE_SIGNOUT_PATH,
  ConsoleSignInMethod,
  type ConsoleSession,
  type ConsoleSignInNotice,
  type ConsoleUser,
} from '../../shared/schema/control/console.js';
import { principalOfToken } from '../auth/bearer.js';
import { readCookie } from '../auth/oidc.js';
import type { ControlContext } from '../context.js';
import { ApiError } from '../http/errors.js';
import type { LoginSession } from '../store/login-sessions.js';
import { hashToken, TOKEN_PREFIXES } from '../store/tokens.js';
import type { User } from '../store/users.js';
import { privateHeaders } from './headers.js';
import {
  clearSessionCookies,
  consoleRequestRefusal,
  consoleSessionToken,
  cookieSecure,
  rawSessionCookie,
  sessionCookies,
} from './session-cookie.js';

/** The login session's client name: shown on the sign-in page, and how its end finds the console. */
export const CONSOLE_CLIENT_NAME = 'Trellis admin console';

/**
 * A console session lasts a working day at most (never longer than a device's user session):
 * it can change the whole network, so a forgotten browser tab should not keep that power for
 * weeks.
 */
export const CONSOLE_SESSION_TTL_MS = 12 * 3_600_000;

const COMPLETE_PATH = `${CONSOLE_SIGNIN_PATH}/complete`;
/** Holds the console login's poll token between the start and the completion of a sign-in. */
const LOGIN_COOKIE = 'trellis_console_login';

const SignInQuery = z.object({ via: ConsoleSignInMethod.default('password') });

/**
 * For the login pages: a login the console started continues to the console when it completes,
 * instead of showing "you are signed in". Null for every other login.
 */
export function continueToConsole(reply: FastifyReply, login: LoginSession): FastifyReply | null {
  if (login.clientName !== CONSOLE_CLIENT_NAME) return null;
  return redirect(reply, COMPLETE_PATH);
}

export function registerConsoleSignIn(app: FastifyInstance, ctx: ControlContext): void {
  app.get(CONSOLE_SIGNIN_PATH, async (req, reply) => {
    // A navigation from another site must not start sign-ins (it would set our cookie).
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      return redirect(reply, CONSOLE_PATH);
    const q = SignInQuery.safeParse(req.query);
    const via = q.success ? q.data.via : 'password';
    if (via === 'oidc' && !ctx.config.oidc) return redirect(reply, notice('no-sso'));
    if (!ctx.signInLimiter.allow(`start:${req.ip}`)) return redirect(reply, notice('rate-limited'));
    const ttlSeconds = ctx.config.sessions.loginSessionTtlSeconds;
    const { pollToken, secret } = await ctx.store.loginSessions.create({
      ttlMs: ttlSeconds * 1000,
      clientName: CONSOLE_CLIENT_NAME,
    });
    reply.header('set-cookie', loginCookie(ctx, pollToken, ttlSeconds));
    return redirect(reply, via === 'oidc' ? `/login/${secret}/oidc` : `/login/${secret}`);
  });

  app.get(COMPLETE_PATH, async (req, reply) => {
    const pollToken = readCookie(req.headers.cookie, LOGIN_COOKIE);
    const cookies = [loginCookie(ctx, '', 0)];
    reply.header('set-cookie', cookies);
    if (!pollToken?.startsWith(TOKEN_PREFIXES.poll)) return redirect(reply, notice('expired'));
    const pollHash = hashToken(pollToken);
    const login = await ctx.store.loginSessions.findByPollTokenHash(pollHash);
    // Back here before finishing (the back button): the console offers to sign in again.
    if (login?.state === 'pending') return redirect(reply, CONSOLE_PATH);
    const claimed = await ctx.store.loginSessions.claim(pollHash, { ttlMs: sessionTtlMs(ctx) });
    if (!claimed.ok) return redirect(reply, notice('expired'));
    const { session, token } = claimed.value;
    const user = await ctx.store.users.get(session.userId);
    if (!user || user.role === 'member') {
      await ctx.store.userSessions.revoke(session.id);
      if (user)
        await ctx.audit({
          networkId: user.networkId,
          actor: { type: 'system', id: null },
          action: 'session.revoked',
          target: { type: 'session', id: session.id },
          diff: { reason: 'the admin console is for owners and admins' },
        });
      return redirect(reply, notice(user ? 'refused' : 'expired'));
    }
    const maxAge = Math.max(0, Math.floor((session.expiresAt.getTime() - ctx.now()) / 1000));
    reply.header('set-cookie', [...cookies, ...sessionCookies(ctx, token, maxAge)]);
    return redirect(reply, CONSOLE_PATH);
  });

  app.get(CONSOLE_SESSION_PATH, async (req, reply): Promise<ConsoleSession> => {
    privateHeaders(reply);
    const refusal = consoleRequestRefusal(ctx, req);
    if (refusal) throw new ApiError('forbidden', refusal);
    const found = await sessionOf(ctx, req);
    const network = await ctx.defaultNetwork();
    if (!found) {
      if (rawSessionCookie(req) !== null) reply.header('set-cookie', clearSessionCookies(ctx));
      return {
        state: 'signed-out',
        network: { name: network.name },
        oidc: ctx.config.oidc ? { name: ctx.config.oidc.name } : null,
      };
    }
    const n = (await ctx.store.networks.get(found.user.networkId)) ?? network;
    const summary = { id: n.id, name: n.name, domain: n.domain };
    const user = consoleUser(found.user);
    if (found.user.role === 'member') return { state: 'refused', user, network: summary };
    return {
      state: 'signed-in',
      user,
      network: summary,
      expiresAt: found.expiresAt.toISOString(),
    };
  });

  app.post(CONSOLE_SIGNOUT_PATH, async (req, reply) => {
    privateHeaders(reply);
    const found = await sessionOf(ctx, req);
    if (found) {
      await ctx.store.userSessions.revoke(found.sessionId);
      await ctx.audit({
        networkId: found.user.networkId,
        actor: { type: 'user', id: found.user.id },
        action: 'session.revoked',
        target: { type: 'session', id: found.sessionId },
        diff: { via: 'admin console' },
      });
    }
    return reply.status(204).header('set-cookie', clearSessionCookies(ctx)).send();
  });
}

/** The console cookie's live session (CSRF-checked: a refused request throws 403), or null. */
async function sessionOf(
  ctx: ControlContext,
  req: FastifyRequest,
): Promise<{ user: User; sessionId: string; expiresAt: Date } | null> {
  const token = consoleSessionToken(ctx, req);
  if (token === null) return null;
  try {
    const p = await principalOfToken(ctx, token);
    return p.type === 'user'
      ? { user: p.user, sessionId: p.session.id, expiresAt: p.session.expiresAt }
      : null;
  } catch (e) {
    if (e instanceof ApiError && e.code === 'unauthorized') return null;
    throw e;
  }
}

const consoleUser = (u: User): ConsoleUser => ({
  id: u.id,
  email: u.email,
  name: u.displayName,
  role: u.role,
});

const sessionTtlMs = (ctx: ControlContext): number =>
  Math.min(CONSOLE_SESSION_TTL_MS, ctx.config.sessions.userSessionTtlSeconds * 1000);

const notice = (n: ConsoleSignInNotice): string => `${CONSOLE_PATH}?signin=${n}`;

/**
 * Lax, not Strict: the way back from a single sign-on provider is a cross-site redirect chain,
 * which carries Lax cookies on its final top-level GET but never Strict ones. Scoped to the
 * sign-in paths, alive only as long as the login session.
 */
function loginCookie(ctx: ControlContext, pollToken: string, maxAge: number): string {
  const secure = cookieSecure(ctx) ? '; Secure' : '';
  return `${LOGIN_COOKIE}=${pollToken}; Path=${CONSOLE_SIGNIN_PATH}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`;
}

function redirect(reply: FastifyReply, location: string): FastifyReply {
  return privateHeaders(reply).status(303).header('location', location).send();
}
