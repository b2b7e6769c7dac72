import { createHash } from 'node:crypto';
import fc from 'fast-check';
import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { MAX_DISPLAY_NAME_LENGTH, MAX_EMAIL_LENGTH } from '../../shared/schema/common.js';
import {
  MAX_OIDC_GROUP_LENGTH,
  MAX_OIDC_GROUPS,
  OidcClient,
  classify,
  emailDomainAllowed,
  identityFromClaims,
  parseGroups,
  readCookie,
  type Discover,
  type OidcSettings,
} from './oidc.js';

const ISSUER = 'https://idp.example.test';
const REDIRECT = 'https://control.example.test/oidc/callback';

const settings = (over: Partial<OidcSettings> = {}): OidcSettings => ({
  name: 'SSO',
  issuer: ISSUER,
  clientId: 'cid',
  clientSecret: 'secret',
  clientAuthMethod: 'client_secret_basic',
  scopes: ['openid', 'email', 'profile'],
  allowedDomains: [],
  groupsClaim: 'groups',
  ...over,
});

/** Server metadata as discovery would return it; nothing here touches the network. */
const fakeConfig = () =>
  new client.Configuration(
    {
      issuer: ISSUER,
      authorization_endpoint: `${ISSUER}/auth`,
      token_endpoint: `${ISSUER}/token`,
      jwks_uri: `${ISSUER}/jwks`,
    },
    'cid',
    'secret',
  );

describe('identityFromClaims', () => {
  const base = { sub: 'u1', email: ' Alice@Example.COM ', name: 'Alice' };

  it('reads subject, normalized email, name and sorted unique groups', () => {
    const r = identityFromClaims({ ...base, groups: ['b', 'a', 'b', ' c '] }, 'groups');
    expect(r).toEqual({
      ok: true,
      value: { subject: 'u1', email: 'alice@example.com', name: 'Alice', groups: ['a', 'b', 'c'] },
    });
  });

  it('reads groups from the configured claim only', () => {
    const r = identityFromClaims({ ...base, groups: ['x'], roles: ['admin'] }, 'roles');
    expect(r.ok && r.value.groups).toEqual(['admin']);
    const ns = identityFromClaims({ ...base, 'https://acme/groups': ['g'] }, 'https://acme/groups');
    expect(ns.ok && ns.value.groups).toEqual(['g']);
  });

  it('requires an email and refuses one the provider marks unverified', () => {
    const code = (c: Record<string, unknown>) => {
      const r = identityFromClaims(c, 'groups');
      return r.ok ? 'ok' : r.error.code;
    };
    expect(code({ sub: 'u1' })).toBe('email_missing');
    expect(code({ sub: 'u1', email: 42 })).toBe('email_missing');
    expect(code({ sub: 'u1', email: 'not an email' })).toBe('email_missing');
    expect(code({ sub: 'u1', email: `${'a'.repeat(250)}@x.io` })).toBe('email_missing');
    expect(code({ ...base, email_verified: false })).toBe('email_unverified');
    expect(code({ ...base, email_verified: 'false' })).toBe('email_unverified');
    expect(code({ ...base, email_verified: true })).toBe('ok');
    expect(code({ ...base, email_verified: 'true' })).toBe('ok');
    expect(code(base)).toBe('ok');
    expect(code({ ...base, sub: '' })).toBe('subject_invalid');
    expect(code({ ...base, sub: 'x'.repeat(256) })).toBe('subject_invalid');
    expect(code({ ...base, sub: 7 })).toBe('subject_invalid');
  });

  it('falls back to preferred_username for the name and bounds it', () => {
    const r = identityFromClaims({ ...base, name: '  ', preferred_username: 'al' }, 'groups');
    expect(r.ok && r.value.name).toBe('al');
    const none = identityFromClaims({ sub: 'u1', email: 'a@b.io' }, 'groups');
    expect(none.ok && none.value.name).toBeUndefined();
    const long = identityFromClaims({ ...base, name: '😀'.repeat(10_000) }, 'groups');
    expect(long.ok && [...(long.value.name ?? '')].length).toBe(MAX_DISPLAY_NAME_LENGTH);
  });

  it('never throws and keeps every output within its bound, whatever the claims', () => {
    const claimValue = fc.oneof(
      fc.anything(),
      fc.string(),
      fc.array(fc.string({ maxLength: 300 }), { maxLength: 300 }),
      fc.emailAddress(),
    );
    fc.assert(
      fc.property(
        fc.record(
          {
            sub: claimValue,
            email: claimValue,
            email_verified: claimValue,
            name: claimValue,
            preferred_username: claimValue,
            groups: claimValue,
          },
          { requiredKeys: [] },
        ),
        (claims) => {
          const r = identityFromClaims(claims, 'groups');
          if (!r.ok) return typeof r.error.message === 'string';
          const v = r.value;
          expect(v.email.length).toBeLessThanOrEqual(MAX_EMAIL_LENGTH);
          expect(v.email).toBe(v.email.toLowerCase());
          expect(v.groups.length).toBeLessThanOrEqual(MAX_OIDC_GROUPS);
          for (const g of v.groups) expect(g.length).toBeLessThanOrEqual(MAX_OIDC_GROUP_LENGTH);
          if (v.name !== undefined)
            expect([...v.name].length).toBeLessThanOrEqual(MAX_DISPLAY_NAME_LENGTH);
          return true;
        },
      ),
      { numRuns: 500 },
    );
  });

  it('survives mutations of a valid claim set', () => {
    const valid = { sub: 's', email: 'a@b.io', email_verified: true, groups: ['g1', 'g2'] };
    const mutation = fc.tuple(
      fc.constantFrom('sub', 'email', 'email_verified', 'groups', 'name'),
      fc.anything(),
    );
    fc.assert(
      fc.property(fc.array(mutation, { maxLength: 4 }), (muts) => {
        const c: Record<string, unknown> = { ...valid };
        for (const [k, v] of muts) c[k] = v;
        const r = identityFromClaims(c, 'groups');
        // Untouched fields keep their meaning; any failure is typed.
        if (r.ok) expect(r.value.subject).toBe(c.sub);
        else expect(r.error.code).toMatch(/^[a-z_]+$/);
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseGroups', () => {
  it('accepts absent, one string, or a list of strings', () => {
    expect(parseGroups(undefined)).toEqual({ ok: true, value: [] });
    expect(parseGroups(null)).toEqual({ ok: true, value: [] });
    expect(parseGroups('eng')).toEqual({ ok: true, value: ['eng'] });
    expect(parseGroups(['b', 'a'])).toEqual({ ok: true, value: ['a', 'b'] });
  });

  it('refuses other shapes and lists beyond the bounds', () => {
    for (const bad of [{ a: 1 }, 5, true, ['ok', 3], [''], ['x'.repeat(MAX_OIDC_GROUP_LENGTH + 1)]])
      expect(parseGroups(bad).ok).toBe(false);
    const many = Array.from({ length: MAX_OIDC_GROUPS + 1 }, (_, i) => `g${i}`);
    expect(parseGroups(many).ok).toBe(false);
    expect(parseGroups(many.slice(1)).ok).toBe(true);
  });

  it('returns exactly the set of trimmed names, sorted', () => {
    const name = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim().length > 0);
    fc.assert(
      fc.property(fc.array(name, { maxLength: 50 }), (names) => {
        const r = parseGroups(names);
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.value).toEqual([...new Set(names.map((n) => n.trim()))].sort());
      }),
    );
  });
});

describe('emailDomainAllowed', () => {
  it('allows everyone when the list is empty', () => {
    expect(emailDomainAllowed('a@anything.io', [])).toBe(true);
  });

  it('matches the domain exactly, as operators may write it', () => {
    const allowed = ['example.com', ' @Corp.Example '];
    expect(emailDomainAllowed('a@example.com', allowed)).toBe(true);
    expect(emailDomainAllowed('a@corp.example', allowed)).toBe(true);
    expect(emailDomainAllowed('a@sub.example.com', allowed)).toBe(false);
    expect(emailDomainAllowed('a@example.com.evil.io', allowed)).toBe(false);
    expect(emailDomainAllowed('a@evilexample.com', allowed)).toBe(false);
    // The domain is what follows the last @.
    expect(emailDomainAllowed('"x@example.com"@evil.io', allowed)).toBe(false);
    expect(emailDomainAllowed('no-at-sign', allowed)).toBe(false);
  });
});

describe('readCookie', () => {
  it('finds a cookie among others', () => {
    expect(readCookie('a=1; trellis_oidc_state=abc; b=2', 'trellis_oidc_state')).toBe('abc');
    expect(readCookie('xtrellis_oidc_state=abc', 'trellis_oidc_state')).toBeNull();
    expect(readCookie(undefined, 'a')).toBeNull();
    expect(readCookie('a', 'a')).toBeNull();
  });

  it('never throws and finds any cookie it is given', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
    fc.assert(
      fc.property(fc.string(), fc.array(fc.tuple(token, token)), (junk, pairs) => {
        expect(() => readCookie(junk, 'x')).not.toThrow();
        const header = pairs.map(([k, v]) => `${k}=${v}`).join('; ');
        const first = new Map<string, string>();
        for (const [k, v] of pairs) if (!first.has(k)) first.set(k, v);
        for (const [k, v] of first) expect(readCookie(header, k)).toBe(v);
      }),
    );
  });
});

describe('OidcClient', () => {
  function counting(fail: () => boolean): { discover: Discover; calls: () => number } {
    let n = 0;
    return {
      discover: async () => {
        n++;
        await new Promise((r) => setTimeout(r, 5));
        if (fail()) throw new TypeError('fetch failed');
        return fakeConfig();
      },
      calls: () => n,
    };
  }

  it('discovers lazily, once, and shares one discovery between concurrent sign-ins', async () => {
    const d = counting(() => false);
    const oidc = new OidcClient(settings(), { redirectUri: () => REDIRECT, discover: d.discover });
    expect(d.calls()).toBe(0);
    const all = await Promise.all([oidc.begin(), oidc.begin(), oidc.begin()]);
    expect(all.every((r) => r.ok)).toBe(true);
    await oidc.begin();
    expect(d.calls()).toBe(1);
  });

  it('retries a failed discovery only after the retry interval', async () => {
    let down = true;
    let t = 1_000;
    const d = counting(() => down);
    const oidc = new OidcClient(settings(), {
      redirectUri: () => REDIRECT,
      discover: d.discover,
      now: () => t,
      retryMs: 5_000,
    });
    const first = await oidc.begin();
    expect(first.ok || first.error.code).toBe('unavailable');
    down = false;
    t += 4_999;
    expect((await oidc.begin()).ok).toBe(false);
    expect(d.calls()).toBe(1);
    t += 1;
    expect((await oidc.begin()).ok).toBe(true);
    expect(d.calls()).toBe(2);
  });

  it('builds a code-flow URL with PKCE S256, state, nonce and the redirect URI', async () => {
    const oidc = new OidcClient(settings({ scopes: ['email', 'groups'] }), {
      redirectUri: () => REDIRECT,
      discover: async () => fakeConfig(),
    });
    const a = await oidc.begin();
    const b = await oidc.begin();
    if (!a.ok || !b.ok) throw new Error('begin failed');
    const u = new URL(a.value.url);
    expect(u.origin + u.pathname).toBe(`${ISSUER}/auth`);
    const q = u.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe('cid');
    expect(q.get('redirect_uri')).toBe(REDIRECT);
    expect(q.get('scope')).toBe('openid email groups');
    expect(q.get('state')).toBe(a.value.params.state);
    expect(q.get('nonce')).toBe(a.value.params.nonce);
    expect(q.get('code_challenge_method')).toBe('S256');
    const s256 = createHash('sha256').update(a.value.params.codeVerifier).digest('base64url');
    expect(q.get('code_challenge')).toBe(s256);
    expect(b.value.params.state).not.toBe(a.value.params.state);
    expect(b.value.params.nonce).not.toBe(a.value.params.nonce);
    expect(b.value.params.codeVerifier).not.toBe(a.value.params.codeVerifier);
  });

  it('reports a cancel at the provider and refuses a mismatched state before any exchange', async () => {
    const oidc = new OidcClient(settings(), {
      redirectUri: () => REDIRECT,
      discover: async () => fakeConfig(),
    });
    const params = { state: 'S1', nonce: 'N', codeVerifier: 'V'.repeat(43) };
    const cancelled = await oidc.finish(
      new URLSearchParams({ error: 'access_denied', state: 'S1', iss: ISSUER }),
      params,
    );
    expect(cancelled.ok || cancelled.error.code).toBe('cancelled');
    const wrong = await oidc.finish(
      new URLSearchParams({ code: 'c', state: 'S2', iss: ISSUER }),
      params,
    );
    expect(wrong.ok || wrong.error.code).toBe('provider_error');
    const foreignIss = await oidc.finish(
      new URLSearchParams({ code: 'c', state: 'S1', iss: 'https://evil.test' }),
      params,
    );
    expect(foreignIss.ok || foreignIss.error.code).toBe('provider_error');
  });

  it('says unavailable when the provider cannot be reached', async () => {
    const oidc = new OidcClient(settings(), {
      redirectUri: () => REDIRECT,
      discover: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const r = await oidc.finish(new URLSearchParams({ code: 'c', state: 'S' }), {
      state: 'S',
      nonce: 'N',
      codeVerifier: 'V',
    });
    expect(r.ok || r.error.code).toBe('unavailable');
  });
});

describe('classify', () => {
  it('tells network failures from protocol failures', () => {
    expect(classify(new TypeError('fetch failed')).code).toBe('unavailable');
    expect(classify(new DOMException('timed out', 'TimeoutError')).code).toBe('unavailable');
    expect(classify(new TypeError('"currentUrl" must be an instance of URL')).code).toBe(
      'provider_error',
    );
    expect(classify('weird').code).toBe('provider_error');
  });
});
