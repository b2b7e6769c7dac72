/**
 * OIDC sign-in over HTTP: `GET /login/:secret/oidc` starts the provider round-trip for a pending
 * login session, `GET /oidc/callback` finishes it, and a poll hook reports login denials. Every
 * outcome a browser can reach is a server-rendered page; the protocol itself is auth/oidc.ts.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { loginDenial, recordLoginDenial } from '../auth/login-denials.js';
import {
  OidcClient,
  STATE_COOKIE,
  emailDomainAllowed,
  readCookie,
  type OidcError,
  type OidcSettings,
  type OidcSignIn,
} from '../auth/oidc.js';
import { loginProblemPage, signedInPage } from '../auth/pages.js';
import type { ControlContext } from '../context.js';
import { continueToConsole } from '../console/index.js';
import { refreshDevice } from '../mesh.js';
import type { AuditDiff } from '../store/audit.js';
import type { LoginSession } from '../store/login-sessions.js';
import type { Network } from '../store/networks.js';
import { loginBySecret, sendPage } from './login-routes.js';

/** openid-client's randomState() is 43 characters; anything far longer is not ours. */
const MAX_STATE_LENGTH = 256;

export function registerOidcRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const settings = ctx.config.oidc;
  if (!settings) {
    const off = (_req: unknown, reply: FastifyReply) =>
      sendPage(
        reply,
        404,
        loginProblemPage(
          'Single sign-on is not set up',
          'This Trellis server has no OIDC provider configured. Sign in with a Trellis account.',
        ),
      );
    app.get('/login/:secret/oidc', off);
    app.get('/oidc/callback', off);
    return;
  }
  const oidc = new OidcClient(settings, {
    redirectUri: () => `${ctx.publicUrl()}/oidc/callback`,
    now: ctx.now,
  });
  const flow = new OidcFlow(ctx, settings, oidc);
  app.get('/login/:secret/oidc', (req, reply) =>
    pageOnError(ctx, reply, async () => {
      const found = await loginBySecret(ctx, req, reply);
      return found ? flow.start(reply, found.login) : reply;
    }),
  );
  app.get('/oidc/callback', (req, reply) =>
    pageOnError(ctx, reply, () =>
      flow.callback(
        reply,
        new URL(req.url, 'http://callback.invalid').searchParams,
        readCookie(req.headers.cookie, STATE_COOKIE),
      ),
    ),
  );
}

/** Our own failures (storage down) still end on a page: logged, never a stack trace. */
async function pageOnError(
  ctx: ControlContext,
  reply: FastifyReply,
  fn: () => Promise<FastifyReply>,
): Promise<FastifyReply> {
  try {
    return await fn();
  } catch (e) {
    ctx.log.error({ err: e }, 'oidc sign-in failed on the server');
    return sendPage(
      reply,
      500,
      loginProblemPage('Sign-in failed', 'Something went wrong on the server. Try again later.'),
    );
  }
}

class OidcFlow {
  constructor(
    private readonly ctx: ControlContext,
    private readonly settings: OidcSettings,
    private readonly oidc: OidcClient,
  ) {}

  /** Stores fresh state/nonce/verifier on the login session and sends the browser to the IdP. */
  async start(reply: FastifyReply, login: LoginSession): Promise<FastifyReply> {
    const denied = await loginDenial(this.ctx.store, login.id);
    if (denied !== null) return sendPage(reply, 403, loginProblemPage('Not allowed', denied));
    const begun = await this.oidc.begin();
    if (!begun.ok) {
      this.ctx.log.warn({ err: begun.error.message }, 'oidc sign-in could not start');
      return sendPage(reply, 503, this.unavailablePage());
    }
    const { url, params } = begun.value;
    if (!(await this.ctx.store.loginSessions.setOidc(login.id, params)))
      return sendPage(reply, 410, expiredPage());
    return reply
      .status(302)
      .header('location', url)
      .header('set-cookie', this.stateCookie(params.state))
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .send();
  }

  async callback(
    reply: FastifyReply,
    query: URLSearchParams,
    cookieState: string | null,
  ): Promise<FastifyReply> {
    const state = query.get('state');
    const login =
      state && state.length <= MAX_STATE_LENGTH
        ? await this.ctx.store.loginSessions.findByOidcState(state)
        : null;
    if (!login?.oidc) return sendPage(reply, 400, invalidCallbackPage());
    reply.header('set-cookie', this.stateCookie('', 0));
    if (login.state === 'expired') return sendPage(reply, 410, expiredPage());
    if (login.state === 'complete') return sendPage(reply, 200, alreadySignedInPage());
    // The state must come back to the browser that was sent to the IdP: a bare IdP link
    // forwarded to someone else cannot complete another person's login session.
    if (cookieState !== state)
      return sendPage(
        reply,
        400,
        loginProblemPage(
          'Sign-in started in another browser',
          'Open the sign-in link from Trellis in this browser and try again.',
        ),
      );

    const network = await this.ctx.defaultNetwork();
    const result = await this.oidc.finish(query, login.oidc);
    if (!result.ok) return this.failed(reply, login, network, result.error);
    const who = result.value;
    if (!emailDomainAllowed(who.email, this.settings.allowedDomains)) {
      const domain = who.email.slice(who.email.lastIndexOf('@') + 1);
      return this.deny(reply, login, network, 'domain_not_allowed', who.email, {
        title: 'Not allowed',
        reason: `Accounts from ${domain} may not sign in to ${network.name}.`,
      });
    }
    return this.signIn(reply, login, network, who);
  }

  private async signIn(
    reply: FastifyReply,
    login: LoginSession,
    network: Network,
    who: OidcSignIn,
  ): Promise<FastifyReply> {
    const { store } = this.ctx;
    const before = await store.users.findByOidc(network.id, who.issuer, who.subject);
    const up = await store.users.upsertOidc({
      networkId: network.id,
      issuer: who.issuer,
      subject: who.subject,
      email: who.email,
      ...(who.name === undefined ? {} : { displayName: who.name }),
      groups: who.groups,
    });
    if (!up.ok) {
      if (up.error !== 'email_taken') throw new Error(`upsertOidc: ${up.error}`);
      // Not linked on purpose: an IdP vouching for an address must not take over an account.
      await this.auditDenied(network, 'email_taken', who.email);
      return sendPage(
        reply,
        409,
        loginProblemPage(
          'Account already exists',
          `${network.name} already has an account for ${who.email} that does not sign in with ${this.settings.name}. ` +
            `Sign in with that account's password instead, or ask an administrator to remove it so ${this.settings.name} can create yours.`,
        ),
      );
    }
    const { user, created } = up.value;
    if (user.disabled)
      return this.deny(reply, login, network, 'account_disabled', user.email, {
        title: 'Account disabled',
        reason: `Your account in ${network.name} is disabled. Ask an administrator to enable it.`,
      });
    const done = await store.loginSessions.complete(login.id, user.id);
    if (!done.ok)
      return done.error === 'not_pending'
        ? sendPage(reply, 200, alreadySignedInPage())
        : sendPage(reply, 410, expiredPage());

    const actor = { type: 'user' as const, id: user.id };
    const target = { type: 'user', id: user.id };
    if (created)
      await this.ctx.audit({
        networkId: network.id,
        actor,
        action: 'user.created',
        target,
        diff: { email: user.email, method: 'oidc', groups: user.groups },
      });
    const diff: AuditDiff = { method: 'oidc' };
    if (before) {
      if (before.email !== user.email) diff.email = { from: before.email, to: user.email };
      if (before.displayName !== user.displayName)
        diff.name = { from: before.displayName, to: user.displayName };
      if (before.groups.join('\n') !== user.groups.join('\n'))
        diff.groups = { from: before.groups, to: user.groups };
    }
    await this.ctx.audit({ networkId: network.id, actor, action: 'login.succeeded', target, diff });
    this.ctx.loginWaiters.notify(login.id);
    // Peers show the owner's name and email: push the change to live netmaps.
    if (diff.email || diff.name || diff.groups)
      for (const d of await store.devices.listByUser(user.id))
        await refreshDevice(store, this.ctx.hub, d.id);
    return continueToConsole(reply, login) ?? sendPage(reply, 200, signedInPage(user.email));
  }

  private failed(
    reply: FastifyReply,
    login: LoginSession,
    network: Network,
    e: OidcError,
  ): Promise<FastifyReply> | FastifyReply {
    const idp = this.settings.name;
    this.ctx.log.warn({ code: e.code, err: e.message }, 'oidc sign-in failed');
    switch (e.code) {
      case 'unavailable':
        return sendPage(reply, 503, this.unavailablePage());
      case 'provider_error':
        return sendPage(
          reply,
          502,
          loginProblemPage(
            'Sign-in failed',
            `${idp} did not complete the sign-in. Start signing in again from Trellis.`,
          ),
        );
      case 'cancelled':
        return this.deny(reply, login, network, 'cancelled', null, {
          title: 'Sign-in cancelled',
          reason: `Signing in with ${idp} was cancelled.`,
        });
      case 'email_missing':
        return this.deny(reply, login, network, e.code, null, {
          title: 'Not allowed',
          reason: `${idp} did not share a valid email address for your account; Trellis needs one to sign you in.`,
        });
      case 'email_unverified':
        return this.deny(reply, login, network, e.code, null, {
          title: 'Email not verified',
          reason: `${idp} has not verified your email address. Verify it there, then sign in again.`,
        });
      case 'groups_invalid':
      case 'subject_invalid':
        return this.deny(reply, login, network, e.code, null, {
          title: 'Not allowed',
          reason: `${idp} sent account details Trellis cannot accept. Ask an administrator to check the provider's settings.`,
        });
    }
  }

  /** A final refusal: the page says why, the poller learns it, the audit log records it. */
  private async deny(
    reply: FastifyReply,
    login: LoginSession,
    network: Network,
    code: string,
    email: string | null,
    page: { title: string; reason: string },
  ): Promise<FastifyReply> {
    await recordLoginDenial(
      this.ctx.store,
      login.id,
      page.reason,
      this.ctx.config.sessions.loginSessionTtlSeconds * 1000,
      this.ctx.now(),
    );
    await this.auditDenied(network, code, email);
    this.ctx.loginWaiters.notify(login.id);
    return sendPage(reply, 403, loginProblemPage(page.title, page.reason));
  }

  private auditDenied(network: Network, reason: string, email: string | null): Promise<void> {
    return this.ctx.audit({
      networkId: network.id,
      actor: { type: 'system', id: null },
      action: 'login.denied',
      diff: { method: 'oidc', reason, ...(email ? { email } : {}) },
    });
  }

  private unavailablePage(): string {
    return loginProblemPage(
      `${this.settings.name} is unavailable`,
      `Trellis cannot reach ${this.settings.name} right now. Try again in a moment, or sign in with a Trellis account.`,
    );
  }

  /**
   * Ties the callback to this browser. Lax: the IdP's redirect back is a top-level GET, which
   * carries Lax cookies. Scoped to the callback path and the login session's lifetime.
   */
  private stateCookie(value: string, maxAge = this.ctx.config.sessions.loginSessionTtlSeconds) {
    const secure = this.ctx.publicUrl().startsWith('https:') ? '; Secure' : '';
    return `${STATE_COOKIE}=${value}; Path=/oidc/callback; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`;
  }
}

const expiredPage = () =>
  loginProblemPage('Sign-in link expired', 'Start signing in again from Trellis.');
const alreadySignedInPage = () =>
  loginProblemPage('Already signed in', 'You can close this window and return to Trellis.');
const invalidCallbackPage = () =>
  loginProblemPage(
    'Sign-in link not valid',
    'This sign-in response is unknown or was already used. Start signing in again from Trellis.',
  );
