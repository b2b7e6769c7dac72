/**
 * The web admin console's own endpoints under `/admin` (the pages use the admin API for the
 * rest). The console's fetches carry CONSOLE_HEADER; with it, and a same-origin `Origin`, control
 * accepts the console's session cookie in place of a bearer token.
 */
import * as z from 'zod';
import { DisplayName, Email, Timestamp, UserId } from '../common.js';
import { UserRole } from './admin.js';
import { NetworkSummary } from './auth.js';

/** Request header every console fetch sends: a CSRF defence no cross-site page can forge. */
export const CONSOLE_HEADER = 'x-trellis-console';
export const CONSOLE_HEADER_VALUE = '1';

/** The app's own path prefix and the sign-in/out endpoints under it. */
export const CONSOLE_PATH = '/admin';
export const CONSOLE_SESSION_PATH = '/admin/session';
export const CONSOLE_SIGNIN_PATH = '/admin/signin';
export const CONSOLE_SIGNOUT_PATH = '/admin/signout';

export const ConsoleSignInMethod = z.enum(['password', 'oidc']);
export type ConsoleSignInMethod = z.infer<typeof ConsoleSignInMethod>;

/**
 * Why the console is showing its sign-in page again (`/admin?signin=<reason>`), set by control
 * when a sign-in round-trip ends without a console session.
 */
export const ConsoleSignInNotice = z.enum([
  'expired', // the sign-in link expired or was already used
  'refused', // the account is a member: the console needs owner or admin
  'rate-limited', // too many sign-in starts from this address
  'no-sso', // single sign-on was asked for but is not configured
]);
export type ConsoleSignInNotice = z.infer<typeof ConsoleSignInNotice>;

export const ConsoleUser = z.object({
  id: UserId,
  email: Email.nullable(),
  name: DisplayName,
  role: UserRole,
});
export type ConsoleUser = z.infer<typeof ConsoleUser>;

/** `GET /admin/session`: who the console's cookie belongs to, if anyone. */
export const ConsoleSession = z.discriminatedUnion('state', [
  z.object({
    state: z.literal('signed-out'),
    network: z.object({ name: DisplayName }),
    /** The configured single sign-on provider, for a "Sign in with <name>" button. */
    oidc: z.object({ name: z.string().min(1).max(64) }).nullable(),
  }),
  /** Signed in, but as a member: the console is for owners and admins. */
  z.object({ state: z.literal('refused'), user: ConsoleUser, network: NetworkSummary }),
  z.object({
    state: z.literal('signed-in'),
    user: ConsoleUser,
    network: NetworkSummary,
    expiresAt: Timestamp,
  }),
]);
export type ConsoleSession = z.infer<typeof ConsoleSession>;
