/**
 * The admin console's session cookie. A browser holds a user session token in an `HttpOnly`,
 * `SameSite=Strict` cookie (`Secure` when control is reached over TLS), set once for `/admin`
 * (the console's own endpoints) and once for `/v1/admin` (the admin API), so the token is never
 * readable by scripts and never sent anywhere else.
 *
 * A cookie rides along with requests a browser makes on any page's behalf, so it counts only
 * together with a CSRF defence: the console's fetches send `X-Trellis-Console: 1` (a custom
 * header, which a cross-site page cannot send without a CORS preflight that control never
 * grants), and the request's `Origin` (when the browser sends one; always for non-GET) and
 * `Sec-Fetch-Site` must say it came from this server's own origin.
 */
import type { FastifyRequest } from 'fastify';
import {
  CONSOLE_HEADER,
  CONSOLE_HEADER_VALUE,
  CONSOLE_PATH,
} from '../../shared/schema/control/console.js';
import { readCookie } from '../auth/oidc.js';
import type { ControlContext } from '../context.js';
import { ApiError } from '../http/errors.js';
import { TOKEN_PREFIXES } from '../store/tokens.js';

export const SESSION_COOKIE = 'trellis_console';
/** Where the session cookie is sent: the console's endpoints and the admin API. */
export const SESSION_COOKIE_PATHS = [CONSOLE_PATH, '/v1/admin'] as const;

/** Same bounds as a bearer token (bearer.ts): anything else is not one of ours. */
const TOKEN_RE = /^\S{16,512}$/;

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** `Secure` whenever browsers reach control over https (directly or through a TLS proxy). */
export function cookieSecure(ctx: ControlContext): boolean {
  return ctx.publicUrl().startsWith('https:');
}

/** `Set-Cookie` values that store `token` for `maxAgeSeconds` (0 with an empty token: clear). */
export function sessionCookies(
  ctx: ControlContext,
  token: string,
  maxAgeSeconds: number,
): string[] {
  const secure = cookieSecure(ctx) ? '; Secure' : '';
  return SESSION_COOKIE_PATHS.map(
    (p) =>
      `${SESSION_COOKIE}=${token}; Path=${p}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`,
  );
}

export const clearSessionCookies = (ctx: ControlContext): string[] => sessionCookies(ctx, '', 0);

/**
 * The origins this server is reached at: its public URL's, and (for a loopback setup browsed by
 * another name) the request's own Host on this listener's scheme. A DNS-rebinding page matches
 * the second but never holds the cookie, which the browser keeps for the real host.
 */
function ownOrigins(ctx: ControlContext, req: FastifyRequest): string[] {
  const out = [new URL(ctx.publicUrl()).origin];
  const host = req.headers.host;
  if (host) out.push(`${ctx.config.tls ? 'https' : 'http'}://${host}`.toLowerCase());
  return out;
}

/**
 * Why a request carrying the console cookie must not be trusted, or null when it passes the
 * CSRF checks.
 */
export function consoleRequestRefusal(ctx: ControlContext, req: FastifyRequest): string | null {
  if (req.headers[CONSOLE_HEADER] !== CONSOLE_HEADER_VALUE)
    return `console requests must send ${CONSOLE_HEADER}: ${CONSOLE_HEADER_VALUE}`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return 'cross-site console request refused';
  const origin = req.headers.origin;
  if (origin === undefined) {
    return SAFE_METHODS.has(req.method) ? null : 'console requests that change things need Origin';
  }
  return ownOrigins(ctx, req).includes(origin.toLowerCase())
    ? null
    : 'console request from another origin refused';
}

/** The session token in the console cookie, whatever its shape; null when there is none. */
export function rawSessionCookie(req: FastifyRequest): string | null {
  return readCookie(req.headers.cookie, SESSION_COOKIE) || null;
}

/**
 * The user session token a console request carries in its cookie, after the CSRF checks (a
 * refused request is 403 `forbidden`). Null without a cookie. Only user session tokens count:
 * an API key in a cookie is no credential at all.
 */
export function consoleSessionToken(ctx: ControlContext, req: FastifyRequest): string | null {
  const token = rawSessionCookie(req);
  if (token === null) return null;
  const refusal = consoleRequestRefusal(ctx, req);
  if (refusal) throw new ApiError('forbidden', refusal);
  if (!TOKEN_RE.test(token) || !token.startsWith(TOKEN_PREFIXES.session)) return null;
  return token;
}
