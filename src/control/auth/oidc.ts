/**
 * OIDC sign-in (authorization code flow with PKCE S256, state and nonce) against any OpenID
 * provider, with openid-client doing the protocol checks (issuer, audience, signature, nonce,
 * state, `iss` in the authorization response). This module owns the protocol and the claim rules;
 * the HTTP wiring lives in api/oidc-routes.ts.
 *
 * Discovery happens lazily on the first sign-in and is cached, so a provider that is down when
 * control starts does not keep control from starting; a failed discovery is retried on a later
 * sign-in, at most every DISCOVERY_RETRY_MS.
 */
import * as client from 'openid-client';
import { Email, MAX_DISPLAY_NAME_LENGTH, MAX_EMAIL_LENGTH } from '../../shared/schema/common.js';
import { err, ok, type Result } from '../../shared/result.js';
import { isLoopbackHttpUrl, type ControlConfig } from '../config.js';
import type { OidcLoginParams } from '../store/login-sessions.js';

export type OidcSettings = NonNullable<ControlConfig['oidc']>;

/**
 * After a failed discovery, sign-ins within this window fail at once instead of each waiting on
 * the provider again: a down IdP is not hammered by every click, and a recovered one is used
 * again within seconds.
 */
export const DISCOVERY_RETRY_MS = 5_000;
/**
 * Timeout of each request to the provider (discovery, token, userinfo). A person waits at a
 * browser page meanwhile; a healthy IdP answers in well under a second, so 10 s means it is down.
 */
export const OIDC_HTTP_TIMEOUT_SECONDS = 10;
/**
 * Most groups accepted from one sign-in. Azure AD stops listing groups in tokens at 200 (and sends
 * an overage claim instead), so real tokens stay below this; the bound keeps a broken or hostile
 * IdP from storing an unbounded list on a user.
 */
export const MAX_OIDC_GROUPS = 256;
/** Longest group name accepted: LDAP-backed IdPs send DNs, which run to ~200 characters. */
export const MAX_OIDC_GROUP_LENGTH = 256;
/** OIDC Core §2: `sub` is at most 255 ASCII characters. */
export const MAX_OIDC_SUBJECT_LENGTH = 255;

export type OidcErrorCode =
  /** Discovery or a request to the provider failed: try again later. */
  | 'unavailable'
  /** The user declined or cancelled at the provider (`error=access_denied`). */
  | 'cancelled'
  /** The provider answered with an error, or its answer failed validation. */
  | 'provider_error'
  /** The identity lacks a usable email, or the provider marks it unverified. */
  | 'email_missing'
  | 'email_unverified'
  /** The groups claim is not a string or a bounded list of non-empty strings. */
  | 'groups_invalid'
  | 'subject_invalid';

export interface OidcError {
  readonly code: OidcErrorCode;
  /** For logs and audit; pages show their own wording. */
  readonly message: string;
}

const oidcError = (code: OidcErrorCode, message: string) => err<OidcError>({ code, message });

/** Who signed in, as read from validated claims. */
export interface OidcIdentityClaims {
  readonly subject: string;
  /** Normalized: trimmed, lower-case. */
  readonly email: string;
  readonly name: string | undefined;
  /** Deduplicated and sorted, so stored groups do not churn with the IdP's ordering. */
  readonly groups: string[];
}

export interface OidcSignIn extends OidcIdentityClaims {
  /** The provider's issuer identifier as validated by discovery and the ID token. */
  readonly issuer: string;
}

/**
 * Reads the identity out of ID-token (and userinfo) claims. Never throws: anything missing or
 * malformed is a typed error, and nothing is copied beyond the declared bounds.
 */
export function identityFromClaims(
  claims: Readonly<Record<string, unknown>>,
  groupsClaim: string,
): Result<OidcIdentityClaims, OidcError> {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_OIDC_SUBJECT_LENGTH)
    return oidcError('subject_invalid', 'the provider sent no usable subject (sub)');

  const rawEmail = claims.email;
  if (typeof rawEmail !== 'string' || rawEmail.length > MAX_EMAIL_LENGTH + 64)
    return oidcError('email_missing', 'the provider sent no email address');
  const email = rawEmail.trim().toLowerCase();
  if (email.length > MAX_EMAIL_LENGTH || !Email.safeParse(email).success)
    return oidcError('email_missing', 'the provider sent an invalid email address');
  // Some IdPs (AWS Cognito) send the boolean as a string. Absent means the IdP does not say.
  const verified = claims.email_verified;
  if (verified === false || verified === 'false')
    return oidcError('email_unverified', `the provider has not verified ${email}`);

  const groups = parseGroups(claims[groupsClaim]);
  if (!groups.ok) return groups;

  return ok({ subject: sub, email, name: displayName(claims), groups: groups.value });
}

/** A groups claim: absent, one string, or an array of strings, within MAX_OIDC_GROUPS. */
export function parseGroups(raw: unknown): Result<string[], OidcError> {
  if (raw === undefined || raw === null) return ok([]);
  const list: unknown[] | null = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : null;
  if (!list) return oidcError('groups_invalid', 'the groups claim is not a list of strings');
  if (list.length > MAX_OIDC_GROUPS)
    return oidcError(
      'groups_invalid',
      `the groups claim lists ${list.length} groups (at most ${MAX_OIDC_GROUPS} are accepted)`,
    );
  const out = new Set<string>();
  for (const g of list) {
    if (typeof g !== 'string')
      return oidcError('groups_invalid', 'the groups claim has an entry that is not a string');
    const name = g.trim();
    if (name.length === 0 || name.length > MAX_OIDC_GROUP_LENGTH)
      return oidcError(
        'groups_invalid',
        `the groups claim has an empty or over-long (> ${MAX_OIDC_GROUP_LENGTH}) group name`,
      );
    out.add(name);
  }
  return ok([...out].sort());
}

function displayName(claims: Readonly<Record<string, unknown>>): string | undefined {
  for (const key of ['name', 'preferred_username'] as const) {
    const v = claims[key];
    if (typeof v !== 'string') continue;
    // Cut before trimming so a huge claim costs no more than the bound.
    const s = v.slice(0, MAX_DISPLAY_NAME_LENGTH * 2).trim();
    if (s) return [...s].slice(0, MAX_DISPLAY_NAME_LENGTH).join('');
  }
  return undefined;
}

/** `example.com`, ` @Example.COM ` → `example.com`: how operators may write allowed domains. */
export const normalizeDomain = (d: string): string => d.trim().replace(/^@/, '').toLowerCase();

/**
 * Whether an (already normalized) email may sign in. An empty list allows every domain; otherwise
 * the part after the last `@` must equal an entry exactly (subdomains are not implied).
 */
export function emailDomainAllowed(email: string, allowedDomains: readonly string[]): boolean {
  if (allowedDomains.length === 0) return true;
  const at = email.lastIndexOf('@');
  if (at < 0) return false;
  const domain = email.slice(at + 1).toLowerCase();
  return allowedDomains.some((d) => normalizeDomain(d) === domain);
}

export type Discover = (settings: OidcSettings) => Promise<client.Configuration>;

/** The real discovery: `<issuer>/.well-known/openid-configuration`, issuer checked. */
export const discoverProvider: Discover = (s) => {
  const issuer = new URL(s.issuer);
  const auth = !s.clientSecret
    ? client.None()
    : s.clientAuthMethod === 'client_secret_post'
      ? client.ClientSecretPost(s.clientSecret)
      : client.ClientSecretBasic(s.clientSecret);
  return client.discovery(issuer, s.clientId, s.clientSecret, auth, {
    timeout: OIDC_HTTP_TIMEOUT_SECONDS,
    ...(isLoopbackHttpUrl(issuer) ? { execute: [client.allowInsecureRequests] } : {}),
  });
};

export interface OidcClientOptions {
  /** The redirect URI registered at the provider: `<publicUrl>/oidc/callback`. */
  readonly redirectUri: () => string;
  readonly now?: () => number;
  readonly discover?: Discover;
  readonly retryMs?: number;
}

/** One configured provider: builds authorization URLs and redeems callbacks. */
export class OidcClient {
  private config: client.Configuration | null = null;
  private inflight: Promise<Result<client.Configuration, OidcError>> | null = null;
  private failure: { at: number; error: OidcError } | null = null;
  private readonly now: () => number;
  private readonly discover: Discover;
  private readonly retryMs: number;

  constructor(
    readonly settings: OidcSettings,
    private readonly opts: OidcClientOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.discover = opts.discover ?? discoverProvider;
    this.retryMs = opts.retryMs ?? DISCOVERY_RETRY_MS;
  }

  /** The discovered configuration; concurrent callers share one discovery. */
  configuration(): Promise<Result<client.Configuration, OidcError>> {
    if (this.config) return Promise.resolve(ok(this.config));
    if (this.inflight) return this.inflight;
    if (this.failure && this.now() - this.failure.at < this.retryMs)
      return Promise.resolve(err(this.failure.error));
    const attempt = (async (): Promise<Result<client.Configuration, OidcError>> => {
      try {
        this.config = await this.discover(this.settings);
        this.failure = null;
        return ok(this.config);
      } catch (e) {
        const error: OidcError = {
          code: 'unavailable',
          message: `discovery at ${this.settings.issuer} failed: ${describe(e)}`,
        };
        this.failure = { at: this.now(), error };
        return err(error);
      } finally {
        this.inflight = null;
      }
    })();
    this.inflight = attempt;
    return attempt;
  }

  /** Fresh state, nonce and PKCE verifier, and the provider URL to send the browser to. */
  async begin(): Promise<Result<{ url: string; params: OidcLoginParams }, OidcError>> {
    const c = await this.configuration();
    if (!c.ok) return c;
    const params: OidcLoginParams = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier: client.randomPKCECodeVerifier(),
    };
    const scopes = this.settings.scopes.includes('openid')
      ? this.settings.scopes
      : ['openid', ...this.settings.scopes];
    const url = client.buildAuthorizationUrl(c.value, {
      redirect_uri: this.opts.redirectUri(),
      response_type: 'code',
      scope: scopes.join(' '),
      state: params.state,
      nonce: params.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(params.codeVerifier),
      code_challenge_method: 'S256',
    });
    return ok({ url: url.href, params });
  }

  /**
   * Redeems the callback: checks the authorization response (state, `iss`), exchanges the code
   * with the PKCE verifier, validates the ID token (signature, issuer, audience, nonce), adds
   * userinfo claims (many IdPs put email and groups only there), and reads the identity.
   */
  async finish(
    callbackQuery: URLSearchParams,
    params: OidcLoginParams,
  ): Promise<Result<OidcSignIn, OidcError>> {
    const c = await this.configuration();
    if (!c.ok) return c;
    const config = c.value;
    const current = new URL(this.opts.redirectUri());
    for (const [k, v] of callbackQuery) current.searchParams.append(k, v);

    let claims: Record<string, unknown>;
    let issuer: string;
    try {
      const tokens = await client.authorizationCodeGrant(config, current, {
        expectedState: params.state,
        expectedNonce: params.nonce,
        pkceCodeVerifier: params.codeVerifier,
        idTokenExpected: true,
      });
      const id = tokens.claims();
      if (!id) return oidcError('provider_error', 'the provider returned no ID token');
      issuer = id.iss;
      claims = { ...id };
      if (tokens.access_token && config.serverMetadata().userinfo_endpoint) {
        const info = await client.fetchUserInfo(config, tokens.access_token, id.sub);
        // Userinfo may add or refresh profile claims; who this is stays the ID token's word.
        claims = { ...claims, ...info, sub: id.sub, iss: id.iss };
      }
    } catch (e) {
      return err(classify(e));
    }
    const identity = identityFromClaims(claims, this.settings.groupsClaim);
    if (!identity.ok) return identity;
    return ok({ ...identity.value, issuer });
  }
}

/** Maps openid-client's errors onto what the sign-in page should say. */
export function classify(e: unknown): OidcError {
  if (e instanceof client.AuthorizationResponseError) {
    const code = e.error === 'access_denied' ? 'cancelled' : 'provider_error';
    return { code, message: `the provider answered ${e.error}: ${e.error_description ?? ''}` };
  }
  if (e instanceof client.ResponseBodyError)
    return { code: 'provider_error', message: `the provider refused: ${e.error}` };
  // fetch() failures: refused or reset ("fetch failed"), or our timeout firing.
  if (
    e instanceof Error &&
    ((e.name === 'TypeError' && e.message === 'fetch failed') ||
      e.name === 'AbortError' ||
      e.name === 'TimeoutError')
  )
    return { code: 'unavailable', message: `cannot reach the provider: ${describe(e)}` };
  return {
    code: 'provider_error',
    message: `the provider's answer failed validation: ${describe(e)}`,
  };
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? ` (${e.cause.message})` : '';
  return `${e.message}${cause}`.slice(0, 500);
}

/** Name of the cookie that ties the provider's callback to the browser that started sign-in. */
export const STATE_COOKIE = 'trellis_oidc_state';

/**
 * Reads one cookie from a Cookie header. Never throws; bounded by the header itself (Node caps
 * headers at 16 KiB). Values are compared verbatim, so no percent-decoding is applied.
 */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
