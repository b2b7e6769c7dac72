/**
 * OIDC sign-in end to end, on SQLite and PostgreSQL: trellis-control against a real OpenID
 * provider (oidc-provider) on loopback, driven by an HTTP client that behaves as a browser does
 * here (follows redirects, keeps cookies per host name, submits the provider's login and consent
 * forms). Covers the login-session long-poll, group claims, re-sign-in, allowed domains, refusals
 * and tampered callbacks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestControl, type Driver, type TestControl } from './harness/control.js';
import { startOidcProvider, type TestOidcProvider } from './harness/oidc-provider.js';
import { DISCOVERY_RETRY_MS } from '../src/control/auth/oidc.js';

/** Redirect chains here are 5–7 hops; more means a loop. */
const MAX_REDIRECTS = 20;

interface Page {
  readonly status: number;
  readonly url: string;
  readonly text: string;
}

/**
 * Enough of a browser for these flows: cookies keyed by host name (browsers do not separate
 * ports) and path, manual redirects, and form posts. It loads no sub-resources, so the provider's
 * development pages never make it reach beyond loopback.
 */
class Browser {
  private readonly jar = new Map<string, Map<string, { value: string; path: string }>>();

  async get(url: string): Promise<Page> {
    return this.follow(url, 'GET');
  }

  async post(url: string, form: Record<string, string>): Promise<Page> {
    return this.follow(url, 'POST', new URLSearchParams(form));
  }

  /** One request without following redirects. */
  async fetch(url: string, method = 'GET', body?: URLSearchParams): Promise<Response> {
    const u = new URL(url);
    const cookies = [...(this.jar.get(u.hostname) ?? new Map()).entries()]
      .filter(([, c]) => u.pathname.startsWith(c.path))
      .map(([k, c]) => `${k}=${c.value}`)
      .join('; ');
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        ...(cookies ? { cookie: cookies } : {}),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(body ? { body } : {}),
    });
    this.store(u, res.headers.getSetCookie());
    return res;
  }

  private async follow(url: string, method: string, body?: URLSearchParams): Promise<Page> {
    let current = url;
    for (let hop = 0; hop < MAX_REDIRECTS; hop++) {
      const res = await this.fetch(current, method, body);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        current = new URL(location, current).href;
        method = 'GET';
        body = undefined;
        continue;
      }
      return { status: res.status, url: current, text: await res.text() };
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects from ${url}`);
  }

  private store(u: URL, setCookies: string[]): void {
    let host = this.jar.get(u.hostname);
    if (!host) this.jar.set(u.hostname, (host = new Map()));
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (n: string) =>
        attrs.find((a) => a.toLowerCase().startsWith(`${n}=`))?.slice(n.length + 1);
      const expired =
        attr('max-age') === '0' || (attr('expires') && Date.parse(attr('expires')!) < Date.now());
      if (expired || value === '') host.delete(name);
      else host.set(name, { value, path: attr('path') ?? '/' });
    }
  }

  cookie(hostname: string, name: string): string | undefined {
    return this.jar.get(hostname)?.get(name)?.value;
  }
}

const decode = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<');

/** The action and hidden fields of the page's first form. */
function parseForm(page: Page): { action: string; fields: Record<string, string> } {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(page.text);
  if (!form) throw new Error(`no form on ${page.url} (${page.status}): ${page.text.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const m of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1];
    if (name) fields[name] = decode(value ?? '');
  }
  return { action: new URL(decode(form[1]!), page.url).href, fields };
}

/**
 * Completes whatever the provider asks (login with `account`, then consent) and returns the page
 * the browser lands on afterwards (trellis-control's result page).
 */
async function atProvider(b: Browser, page: Page, account: string): Promise<Page> {
  for (let step = 0; step < 4; step++) {
    if (page.text.includes('name="prompt" value="login"')) {
      const f = parseForm(page);
      page = await b.post(f.action, { ...f.fields, login: account, password: 'any' });
    } else if (page.text.includes('name="prompt" value="consent"')) {
      const f = parseForm(page);
      page = await b.post(f.action, f.fields);
    } else return page;
  }
  throw new Error(`provider kept asking: ${page.url}`);
}

interface Started {
  readonly url: string;
  readonly pollToken: string;
}

async function startLogin(base: string): Promise<Started> {
  const r = await postJson(`${base}/v1/login`, { clientName: 'oidc e2e' });
  expect(r.status).toBe(201);
  return { url: r.body.url as string, pollToken: r.body.pollToken as string };
}

/** Opens the login URL and follows its "Sign in with …" button to the provider. */
async function clickSso(b: Browser, login: Started): Promise<Page> {
  const signIn = await b.get(login.url);
  expect(signIn.status).toBe(200);
  const href = /<a class="button alt" id="oidc" href="([^"]+)"/.exec(signIn.text)?.[1];
  if (!href) throw new Error(`no SSO button on the sign-in page: ${signIn.text.slice(0, 300)}`);
  return b.get(new URL(decode(href), signIn.url).href);
}

async function ssoSignIn(base: string, b: Browser, account: string) {
  const login = await startLogin(base);
  const page = await atProvider(b, await clickSso(b, login), account);
  return { login, page };
}

async function auditEntries(
  c: TestControl,
  q: { networkId: string; action: string; limit: number },
) {
  const r = await c.server.store.audit.query(q);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** trellis-control with `idp` as its OIDC provider. */
function startOidcControl(driver: Driver, idp: TestOidcProvider): Promise<TestControl> {
  return startTestControl(driver, {
    oidc: {
      name: 'Test IdP',
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      scopes: ['openid', 'email', 'profile', 'groups'],
      allowedDomains: ['example.com', '@Test.Trellis'],
    },
    // Every sign-in here comes from 127.0.0.1.
    rateLimits: { signInPerMinute: 600, signInBurst: 100 },
  });
}

const poll = (base: string, pollToken: string) => postJson(`${base}/v1/login/poll`, { pollToken });

for (const driver of ['sqlite', 'postgres'] as Driver[]) {
  describe(`OIDC sign-in on ${driver}`, () => {
    let idp: TestOidcProvider;
    let c: TestControl;
    beforeAll(async () => {
      idp = await startOidcProvider({
        alice: {
          email: 'Alice@Example.com',
          email_verified: true,
          name: 'Alice Liddell',
          groups: ['ops', 'eng', 'eng'],
        },
        bob: { email: 'bob@elsewhere.org', email_verified: true, name: 'Bob' },
        carol: { email: 'carol@example.com', email_verified: false, name: 'Carol' },
        dave: { email: 'dave@example.com', name: 'Dave', groups: 'single-group' },
        owner: { email: 'admin@test.trellis', email_verified: true, name: 'Not the owner' },
        erin: { email: 'erin@example.com', name: 'Erin', groups: [1, 2] },
      });
      c = await startOidcControl(driver, idp);
      idp.attach(`${c.url}/oidc/callback`);
    });
    afterAll(async () => {
      await c?.stop();
      await idp?.stop();
    });

    it('starts while the provider is down, says so, and signs in once it is back', async () => {
      const downIdp = await startOidcProvider({ frank: { email: 'frank@example.com' } });
      // Control starts while the provider still answers 503: discovery waits for a sign-in.
      const down = await startOidcControl(driver, downIdp);
      try {
        const login = await startLogin(down.url);
        const first = await clickSso(new Browser(), login);
        expect(first.status).toBe(503);
        expect(first.text).toContain('Test IdP is unavailable');

        downIdp.attach(`${down.url}/oidc/callback`);
        // A failed discovery is retried after DISCOVERY_RETRY_MS, not on every click.
        const soon = await clickSso(new Browser(), login);
        expect(soon.status).toBe(503);
        await new Promise((r) => setTimeout(r, DISCOVERY_RETRY_MS + 200));
        const b = new Browser();
        const page = await atProvider(b, await clickSso(b, login), 'frank');
        expect(page.status).toBe(200);
        expect(page.text).toContain('You are signed in');
        expect((await poll(down.url, login.pollToken)).body.status).toBe('complete');
      } finally {
        await down.stop();
        await downIdp.stop();
      }
    });

    it('signs a new user in, stores their groups, and the poll hands over a session', async () => {
      const b = new Browser();
      const { login, page } = await ssoSignIn(c.url, b, 'alice');
      expect(page.url.startsWith(`${c.url}/oidc/callback?`)).toBe(true);
      expect(page.status).toBe(200);
      expect(page.text).toContain('id="done"');
      expect(page.text).toContain('Signed in as alice@example.com');
      // The state cookie is gone once used.
      expect(b.cookie('127.0.0.1', 'trellis_oidc_state')).toBeUndefined();

      const done = await poll(c.url, login.pollToken);
      expect(done.body).toMatchObject({
        status: 'complete',
        user: { email: 'alice@example.com', name: 'Alice Liddell' },
        network: { name: 'Test' },
      });
      const me = await fetch(`${c.url}/v1/me`, {
        headers: { authorization: `Bearer ${done.body.sessionToken}` },
      });
      expect(await me.json()).toMatchObject({
        user: { email: 'alice@example.com' },
        role: 'member',
      });

      const net = await c.server.ctx.defaultNetwork();
      const user = await c.server.store.users.findByEmail(net.id, 'alice@example.com');
      expect(user?.groups).toEqual(['eng', 'ops']);
      expect(user?.oidc).toEqual({ issuer: idp.issuer, subject: 'alice' });
      expect(user?.hasPassword).toBe(false);
      const audit = await auditEntries(c, {
        networkId: net.id,
        action: 'login.succeeded',
        limit: 10,
      });
      expect(audit.entries.some((e) => e.actor.id === user?.id && e.diff?.method === 'oidc')).toBe(
        true,
      );
      const created = await auditEntries(c, {
        networkId: net.id,
        action: 'user.created',
        limit: 10,
      });
      expect(created.entries.filter((e) => e.target?.id === user?.id)).toHaveLength(1);
    });

    it('reuses the user on the next sign-in of the same subject and refreshes groups', async () => {
      const net = await c.server.ctx.defaultNetwork();
      // Same browser: the second time the provider remembers session and consent.
      const b = new Browser();
      const one = await ssoSignIn(c.url, b, 'alice');
      const first = (await poll(c.url, one.login.pollToken)).body;
      expect(first.status).toBe('complete');
      idp.accounts.set('alice', { ...idp.accounts.get('alice'), groups: ['eng', 'admins'] });

      const { login, page } = await ssoSignIn(c.url, b, 'alice');
      expect(page.text).toContain('Signed in as alice@example.com');
      const done = await poll(c.url, login.pollToken);
      expect(done.body.status).toBe('complete');
      expect(done.body.user.id).toBe(first.user.id);
      expect(done.body.sessionToken).not.toBe(first.sessionToken);
      const users = await c.server.store.users.list(net.id);
      expect(users.filter((u) => u.oidc?.subject === 'alice')).toHaveLength(1);
      const again = await c.server.store.users.get(first.user.id);
      expect(again?.groups).toEqual(['admins', 'eng']);
      const audit = await auditEntries(c, {
        networkId: net.id,
        action: 'login.succeeded',
        limit: 1,
      });
      expect(audit.entries[0]?.diff).toEqual({
        method: 'oidc',
        groups: { from: ['eng', 'ops'], to: ['admins', 'eng'] },
      });
      const created = await auditEntries(c, {
        networkId: net.id,
        action: 'user.created',
        limit: 10,
      });
      expect(created.entries.filter((e) => e.target?.id === first.user.id)).toHaveLength(1);
    });

    it('accepts a groups claim sent as one string', async () => {
      const { login, page } = await ssoSignIn(c.url, new Browser(), 'dave');
      expect(page.status).toBe(200);
      expect((await poll(c.url, login.pollToken)).body.status).toBe('complete');
      const net = await c.server.ctx.defaultNetwork();
      const dave = await c.server.store.users.findByEmail(net.id, 'dave@example.com');
      expect(dave?.groups).toEqual(['single-group']);
    });

    it('refuses an email outside allowedDomains: the page says so and the poll is denied', async () => {
      const { login, page } = await ssoSignIn(c.url, new Browser(), 'bob');
      expect(page.status).toBe(403);
      expect(page.text).toContain('Accounts from elsewhere.org may not sign in to Test.');
      const denied = await poll(c.url, login.pollToken);
      expect(denied.body).toEqual({
        status: 'denied',
        reason: 'Accounts from elsewhere.org may not sign in to Test.',
      });
      const net = await c.server.ctx.defaultNetwork();
      expect(await c.server.store.users.findByEmail(net.id, 'bob@elsewhere.org')).toBeNull();
      const audit = await auditEntries(c, {
        networkId: net.id,
        action: 'login.denied',
        limit: 10,
      });
      expect(audit.entries.some((e) => e.diff?.reason === 'domain_not_allowed')).toBe(true);
      // The sign-in page of a denied login no longer offers the provider round-trip.
      const retry = await clickSso(new Browser(), login);
      expect(retry.status).toBe(403);
    });

    it('refuses an email the provider marks unverified, and a malformed groups claim', async () => {
      const carol = await ssoSignIn(c.url, new Browser(), 'carol');
      expect(carol.page.status).toBe(403);
      expect(carol.page.text).toContain('has not verified your email');
      expect((await poll(c.url, carol.login.pollToken)).body.status).toBe('denied');

      const erin = await ssoSignIn(c.url, new Browser(), 'erin');
      expect(erin.page.status).toBe(403);
      expect((await poll(c.url, erin.login.pollToken)).body.status).toBe('denied');
      const net = await c.server.ctx.defaultNetwork();
      expect(await c.server.store.users.findByEmail(net.id, 'erin@example.com')).toBeNull();
    });

    it('does not link an existing password account with the same email', async () => {
      const { login, page } = await ssoSignIn(c.url, new Browser(), 'owner');
      expect(page.status).toBe(409);
      expect(page.text).toContain('Account already exists');
      expect(page.text).toContain('admin@test.trellis');
      const net = await c.server.ctx.defaultNetwork();
      const owner = await c.server.store.users.findByEmail(net.id, 'admin@test.trellis');
      expect(owner?.oidc).toBeNull();
      expect(owner?.displayName).not.toBe('Not the owner');
      // Nothing was minted; the login can still finish with the password.
      const r = await fetch(`${c.url}/v1/login/poll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pollToken: login.pollToken }),
        signal: AbortSignal.timeout(1500),
      }).catch((e: Error) => e);
      expect(r instanceof Error ? r.name : r.status).toBe('TimeoutError');
      const pw = await fetch(login.url, {
        method: 'POST',
        body: new URLSearchParams({ email: c.owner.email, password: c.owner.password }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(pw.status).toBe(200);
      const done = await poll(c.url, login.pollToken);
      expect(done.body).toMatchObject({ status: 'complete', user: { id: owner?.id } });
    });

    it('reports a cancel at the provider as denied', async () => {
      const b = new Browser();
      const login = await startLogin(c.url);
      const atIdp = await clickSso(b, login);
      const cancel = /href="([^"]*\/abort)"/.exec(atIdp.text)?.[1];
      expect(cancel).toBeDefined();
      const page = await b.get(new URL(decode(cancel!), atIdp.url).href);
      expect(page.status).toBe(403);
      expect(page.text).toContain('Sign-in cancelled');
      expect((await poll(c.url, login.pollToken)).body).toEqual({
        status: 'denied',
        reason: 'Signing in with Test IdP was cancelled.',
      });
    });

    it('answers tampered, unknown, replayed and foreign callbacks with a clear 4xx page', async () => {
      const b = new Browser();
      const login = await startLogin(c.url);
      const atIdp = await clickSso(b, login);
      const state = b.cookie('127.0.0.1', 'trellis_oidc_state');
      expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);

      for (const q of [
        '',
        '?code=x',
        `?code=x&state=${state}x`,
        '?code=x&state=' + 'A'.repeat(5000),
      ]) {
        const r = await fetch(`${c.url}/oidc/callback${q}`);
        expect(r.status).toBe(400);
        expect(r.headers.get('content-type')).toContain('text/html');
        expect(await r.text()).toContain('Sign-in link not valid');
      }
      // The right state from a browser that did not start the sign-in.
      const foreign = await new Browser().get(`${c.url}/oidc/callback?code=x&state=${state}`);
      expect(foreign.status).toBe(400);
      expect(foreign.text).toContain('Sign-in started in another browser');
      // The right state in the right browser, with a forged code: the provider refuses it.
      const forged = await b.get(
        `${c.url}/oidc/callback?code=forged&state=${state}&iss=${encodeURIComponent(idp.issuer)}`,
      );
      expect(forged.status).toBe(502);
      expect(forged.text).toContain('did not complete the sign-in');

      // A finished sign-in: replaying its callback does not sign in twice.
      const done = await atProvider(b, await clickSso(b, login), 'alice');
      expect(done.status).toBe(200);
      const replay = await fetch(done.url);
      expect(replay.status).toBe(200);
      expect(await replay.text()).toContain('Already signed in');
      void atIdp;
    });
  });
}
