/**
 * Login sessions: `POST /v1/login` starts one for an app or CLI, the returned URL serves the
 * sign-in page to a browser, and `POST /v1/login/poll` long-polls until the browser side
 * completes, then hands the poller its user session token (minted at that moment, once).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  LoginPollRequest,
  LoginStartRequest,
  type LoginPollResponse,
  type LoginStartResponse,
  type WhoAmIResponse,
} from '../../shared/schema/control/auth.js';
import { PAGE_CSP, loginProblemPage, signInPage, signedInPage } from '../auth/pages.js';
import { loginDenial } from '../auth/login-denials.js';
import { verifyPassword, MAX_PASSWORD_LENGTH } from '../auth/passwords.js';
import { requirePrincipal } from '../auth/bearer.js';
import { continueToConsole } from '../console/index.js';
import type { ControlContext } from '../context.js';
import { ApiError, parseInput } from '../http/errors.js';
import { hashToken } from '../store/tokens.js';
import type { LoginSession } from '../store/login-sessions.js';
import { normalizeEmail } from '../store/users.js';

/** A long-poll answers "pending" after this long: under the 30 s idle cut of common proxies. */
export const LOGIN_POLL_MS = 25_000;
/** Re-check storage this often while waiting, for logins completed on another replica. */
const LOGIN_RECHECK_MS = 1_000;

const SecretParam = z.object({ secret: z.string().regex(/^tr_login_[A-Za-z0-9_-]{20,100}$/) });
const LoginForm = z.object({
  email: z.string().min(1).max(254),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

export function registerLoginRoutes(app: FastifyInstance, ctx: ControlContext): void {
  app.post('/v1/login', async (req, reply): Promise<LoginStartResponse> => {
    const body = parseInput(LoginStartRequest, req.body ?? {});
    if (!ctx.signInLimiter.allow(`start:${req.ip}`))
      throw new ApiError('rate_limited', 'too many sign-in attempts');
    const ttlMs = ctx.config.sessions.loginSessionTtlSeconds * 1000;
    const { loginSession, pollToken, secret } = await ctx.store.loginSessions.create({
      ttlMs,
      clientName: body.clientName ?? null,
    });
    reply.status(201);
    return {
      url: `${ctx.publicUrl()}/login/${secret}`,
      pollToken,
      expiresAt: loginSession.expiresAt.toISOString(),
    };
  });

  app.post('/v1/login/poll', async (req, reply): Promise<LoginPollResponse> => {
    const { pollToken } = parseInput(LoginPollRequest, req.body);
    const h = hashToken(pollToken);
    const abort = new AbortController();
    // The response's close (not the request's, which fires once the body is read) means the
    // poller went away: stop waiting for it.
    reply.raw.once('close', () => abort.abort());
    const deadline = ctx.now() + LOGIN_POLL_MS;
    for (;;) {
      const login = await ctx.store.loginSessions.findByPollTokenHash(h);
      if (!login) throw new ApiError('not_found', 'no such login session');
      if (login.state === 'expired') return { status: 'expired' };
      if (login.state === 'complete') return claim(ctx, h, login);
      const denied = await loginDenial(ctx.store, login.id);
      if (denied !== null) return { status: 'denied', reason: denied };
      const left = deadline - ctx.now();
      if (left <= 0 || abort.signal.aborted) return { status: 'pending' };
      await ctx.loginWaiters.wait(login.id, Math.min(left, LOGIN_RECHECK_MS), abort.signal);
    }
  });

  app.get('/login/:secret', async (req, reply) => {
    const found = await loginBySecret(ctx, req, reply);
    if (!found) return reply;
    return page(reply, 200, signInPage(await pageParams(ctx, found.login, found.secret)));
  });

  app.post('/login/:secret', async (req, reply) => {
    const found = await loginBySecret(ctx, req, reply);
    if (!found) return reply;
    const { login, secret } = found;
    const form = LoginForm.safeParse(req.body);
    const params = await pageParams(ctx, login, secret);
    if (!form.success)
      return page(reply, 400, signInPage({ ...params, error: 'Enter your email and password.' }));
    const email = normalizeEmail(form.data.email);
    if (!ctx.signInLimiter.allow(`pw:${req.ip}`)) {
      return page(
        reply,
        429,
        signInPage({ ...params, email, error: 'Too many attempts. Wait a minute and try again.' }),
      );
    }
    const network = await ctx.defaultNetwork();
    const creds = await ctx.store.users.getCredentials(network.id, email);
    const user = creds?.user ?? null;
    const good = await verifyPassword(creds?.passwordHash ?? null, form.data.password);
    if (!user || !good || user.disabled) {
      await ctx.audit({
        networkId: network.id,
        actor: { type: 'system', id: null },
        action: 'login.failed',
        diff: { email, method: 'password' },
      });
      return page(reply, 401, signInPage({ ...params, email, error: 'Wrong email or password.' }));
    }
    const done = await ctx.store.loginSessions.complete(login.id, user.id);
    if (!done.ok)
      return page(
        reply,
        410,
        loginProblemPage('Sign-in link expired', 'Start signing in again from Trellis.'),
      );
    await ctx.store.users.markLogin(user.id);
    await ctx.audit({
      networkId: network.id,
      actor: { type: 'user', id: user.id },
      action: 'login.succeeded',
      target: { type: 'user', id: user.id },
      diff: { method: 'password' },
    });
    ctx.loginWaiters.notify(login.id);
    return continueToConsole(reply, login) ?? page(reply, 200, signedInPage(user.email));
  });

  app.get('/v1/me', async (req): Promise<WhoAmIResponse> => {
    const p = await requirePrincipal(ctx, req);
    if (p.type !== 'user') throw new ApiError('forbidden', 'a user session is required');
    const n = await ctx.store.networks.get(p.networkId);
    if (!n) throw new ApiError('not_found', 'network not found');
    return {
      user: { id: p.user.id, email: p.user.email, name: p.user.displayName },
      network: { id: n.id, name: n.name, domain: n.domain },
      role: p.user.role,
      sessionExpiresAt: p.session.expiresAt.toISOString(),
    };
  });

  /** Signs the current user session out (the desktop app's "Sign out"). */
  app.post('/v1/logout', async (req, reply) => {
    const p = await requirePrincipal(ctx, req);
    if (p.type !== 'user') throw new ApiError('forbidden', 'a user session is required');
    await ctx.store.userSessions.revoke(p.session.id);
    await ctx.audit({
      networkId: p.networkId,
      actor: { type: 'user', id: p.user.id },
      action: 'session.revoked',
      target: { type: 'session', id: p.session.id },
    });
    return reply.status(204).send();
  });
}

async function claim(
  ctx: ControlContext,
  pollHash: string,
  login: LoginSession,
): Promise<LoginPollResponse> {
  const r = await ctx.store.loginSessions.claim(pollHash, {
    ttlMs: ctx.config.sessions.userSessionTtlSeconds * 1000,
  });
  if (!r.ok) {
    if (r.error === 'already_claimed')
      throw new ApiError('gone', 'this login session was already used');
    if (r.error === 'pending') return { status: 'pending' };
    return { status: 'expired' };
  }
  const user = await ctx.store.users.get(r.value.session.userId);
  const network = user ? await ctx.store.networks.get(user.networkId) : null;
  if (!user || !network) throw new ApiError('gone', 'the account was removed');
  void login;
  return {
    status: 'complete',
    sessionToken: r.value.token,
    user: { id: user.id, email: user.email, name: user.displayName },
    network: { id: network.id, name: network.name, domain: network.domain },
    expiresAt: r.value.session.expiresAt.toISOString(),
  };
}

async function loginBySecret(
  ctx: ControlContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<{ login: LoginSession; secret: string } | null> {
  const p = SecretParam.safeParse(req.params);
  const login = p.success
    ? await ctx.store.loginSessions.findBySecretHash(hashToken(p.data.secret))
    : null;
  if (!p.success || !login) {
    page(
      reply,
      404,
      loginProblemPage('Sign-in link not found', 'Start signing in again from Trellis.'),
    );
    return null;
  }
  if (login.state === 'expired') {
    page(
      reply,
      410,
      loginProblemPage('Sign-in link expired', 'Start signing in again from Trellis.'),
    );
    return null;
  }
  if (login.state === 'complete') {
    page(
      reply,
      200,
      loginProblemPage('Already signed in', 'You can close this window and return to Trellis.'),
    );
    return null;
  }
  return { login, secret: p.data.secret };
}

async function pageParams(ctx: ControlContext, login: LoginSession, secret: string) {
  const network = await ctx.defaultNetwork();
  return {
    networkName: network.name,
    clientName: login.clientName,
    formAction: `/login/${secret}`,
    oidc: ctx.config.oidc ? { name: ctx.config.oidc.name, href: `/login/${secret}/oidc` } : null,
  };
}

function page(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .send(html);
}

export { page as sendPage, loginBySecret };
