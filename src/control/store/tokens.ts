/**
 * Bearer secrets (session tokens, node credentials, pre-auth and API keys, login poll tokens).
 * The database only ever sees hashToken(token); the plain token is returned once, at creation.
 *
 * SHA-256 without salt is enough here: tokens carry 256 bits of entropy, so there is nothing to
 * brute-force, and a deterministic hash is what makes lookup-by-token a single index probe.
 */
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIXES = {
  /** User session (desktop app, CLI), kept in the OS keychain. */
  session: 'tr_sess_',
  /** Node credential: the helper's long-lived secret towards control. */
  node: 'tr_node_',
  /** Pre-auth key for unattended registration. */
  auth: 'tr_auth_',
  /** Admin API key. */
  api: 'tr_api_',
  /** Login session poll token (held by the app or CLI that started the login). */
  poll: 'tr_poll_',
  /** Login session secret embedded in the browser URL. */
  login: 'tr_login_',
} as const;

export type TokenPrefix = (typeof TOKEN_PREFIXES)[keyof typeof TOKEN_PREFIXES];

export const TOKEN_RANDOM_BYTES = 32;

/** Characters of a token shown in UIs and lists to tell keys apart (prefix + 6). */
const DISPLAY_CHARS = 6;

export function newToken(prefix: TokenPrefix): string {
  return prefix + randomBytes(TOKEN_RANDOM_BYTES).toString('base64url');
}

/** SHA-256 of the token's UTF-8 bytes, lower-case hex (64 chars). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The non-secret start of a token, e.g. "tr_auth_Ab3xQ9", for display next to a key. */
export function tokenDisplayPrefix(token: string): string {
  const prefix = Object.values(TOKEN_PREFIXES).find((p) => token.startsWith(p)) ?? '';
  return token.slice(0, prefix.length + DISPLAY_CHARS);
}
