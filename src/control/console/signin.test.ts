import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_HEADER, ConsoleSession } from '../../shared/schema/control/console.js';
import { CONSOLE_CLIENT_NAME } from './signin.js';
import { consoleCookie, startConsoleTestControl, type ConsoleTestControl } from './testing.js';

/** `name=value` of each Set-Cookie, with its attributes. */
function setCookies(headers: Record<string, unknown>): string[] {
  const h = headers['set-cookie'];
  return h === undefined ? [] : Array.isArray(h) ? h.map(String) : [String(h)];
}
const cookieValue = (cookies: string[], name: string, path: string): string | undefined =>
  cookies
    .find((c) => c.startsWith(`${name}=`) && c.includes(`; Path=${path};`))
    ?.slice(name.length + 1)
    .split(';')[0];

describe('console sign-in through the login pages', () => {
  let c: ConsoleTestControl;
  const consoleHeaders = () => ({ [CONSOLE_HEADER]: '1', origin: c.origin });

  beforeAll(async () => {
    c = await startConsoleTestControl();
  });
  afterAll(async () => {
    await c?.stop();
  });

  /** GET /admin/signin → login page → password form; returns the console cookie jar so far. */
  async function signInThroughLoginPage(email: string, password: string) {
    const start = await c.server.app.inject({
      method: 'GET',
      url: '/admin/signin',
      headers: { 'sec-fetch-site': 'same-origin' },
    });
    expect(start.statusCode).toBe(303);
    const loginUrl = String(start.headers.location);
    expect(loginUrl).toMatch(/^\/login\/tr_login_[A-Za-z0-9_-]+$/);
    const pending = cookieValue(
      setCookies(start.headers),
      'trellis_console_login',
      '/admin/signin',
    );
    expect(pending).toMatch(/^tr_poll_/);

    const page = await c.server.app.inject({ method: 'GET', url: loginUrl });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(CONSOLE_CLIENT_NAME);

    const form = await c.server.app.inject({
      method: 'POST',
      url: loginUrl,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ email, password }).toString(),
    });
    return { pending: pending ?? '', form };
  }

  it('signs an owner in: login page, then a Strict HttpOnly cookie for /admin and /v1/admin', async () => {
    const { pending, form } = await signInThroughLoginPage(c.owner.email, c.owner.password);
    expect(form.statusCode).toBe(303);
    expect(form.headers.location).toBe('/admin/signin/complete');

    const done = await c.server.app.inject({
      method: 'GET',
      url: '/admin/signin/complete',
      headers: { cookie: `trellis_console_login=${pending}` },
    });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/admin');
    const cookies = setCookies(done.headers);
    const forConsole = cookies.find(
      (x) => x.includes('Path=/admin;') && x.startsWith('trellis_console='),
    );
    const forApi = cookies.find((x) => x.includes('Path=/v1/admin;'));
    for (const cookie of [forConsole, forApi]) {
      expect(cookie).toMatch(/^trellis_console=tr_sess_[A-Za-z0-9_-]+; /);
      expect(cookie).toContain('HttpOnly');
      expect(cookie).toContain('SameSite=Strict');
      expect(cookie).toContain('Max-Age=43200');
      expect(cookie).not.toContain('Secure'); // plain-HTTP loopback server
    }
    // The pending-login cookie is cleared.
    expect(cookies).toContainEqual(expect.stringMatching(/^trellis_console_login=; .*Max-Age=0/));

    const token = cookieValue(cookies, 'trellis_console', '/admin') ?? '';
    const session = await c.server.app.inject({
      method: 'GET',
      url: '/admin/session',
      headers: { ...consoleHeaders(), cookie: consoleCookie(token) },
    });
    const s = ConsoleSession.parse(session.json());
    expect(s).toMatchObject({ state: 'signed-in', user: { email: c.owner.email, role: 'owner' } });
    expect(session.headers['cache-control']).toBe('no-store');

    // The login was claimed once: coming back with the same cookie gets no second session.
    const again = await c.server.app.inject({
      method: 'GET',
      url: '/admin/signin/complete',
      headers: { cookie: `trellis_console_login=${pending}` },
    });
    expect(again.headers.location).toBe('/admin?signin=expired');
    expect(setCookies(again.headers).some((x) => x.startsWith('trellis_console=tr_'))).toBe(false);

    // Sign out: the session ends, the cookies are cleared, the admin API refuses the old token.
    const noOrigin = await c.server.app.inject({
      method: 'POST',
      url: '/admin/signout',
      headers: { [CONSOLE_HEADER]: '1', cookie: consoleCookie(token) },
    });
    expect(noOrigin.statusCode).toBe(403);
    const out = await c.server.app.inject({
      method: 'POST',
      url: '/admin/signout',
      headers: { ...consoleHeaders(), cookie: consoleCookie(token) },
    });
    expect(out.statusCode).toBe(204);
    const cleared = setCookies(out.headers);
    expect(cleared.filter((x) => /^trellis_console=; .*Max-Age=0/.test(x))).toHaveLength(2);
    const after = await c.server.app.inject({
      method: 'GET',
      url: '/v1/admin/users',
      headers: { ...consoleHeaders(), cookie: consoleCookie(token) },
    });
    expect(after.statusCode).toBe(401);
    const signedOut = await c.server.app.inject({
      method: 'GET',
      url: '/admin/session',
      headers: { ...consoleHeaders(), cookie: consoleCookie(token) },
    });
    expect(ConsoleSession.parse(signedOut.json())).toEqual({
      state: 'signed-out',
      network: { name: 'Console test' },
      oidc: null,
    });
    const audit = await c.server.store.audit.query({
      networkId: c.server.bootstrap.network.id,
      action: 'session.revoked',
      limit: 10,
      cursor: null,
    });
    expect(audit.ok && audit.value.entries[0]?.actor).toEqual({ type: 'user', id: c.owner.id });
  });

  it('refuses a member: no console session, and the page says why', async () => {
    await c.addUser('member', 'bob@console.test', 'bob has a long password');
    const { pending, form } = await signInThroughLoginPage(
      'bob@console.test',
      'bob has a long password',
    );
    expect(form.headers.location).toBe('/admin/signin/complete');
    const done = await c.server.app.inject({
      method: 'GET',
      url: '/admin/signin/complete',
      headers: { cookie: `trellis_console_login=${pending}` },
    });
    expect(done.headers.location).toBe('/admin?signin=refused');
    expect(setCookies(done.headers).some((x) => x.startsWith('trellis_console=tr_'))).toBe(false);
    const bob = await c.server.store.users.findByEmail(
      c.server.bootstrap.network.id,
      'bob@console.test',
    );
    expect(await c.server.store.userSessions.listActive(bob?.id ?? '')).toEqual([]);
  });

  it('says "refused" to a member whose console session predates a demotion', async () => {
    const id = await c.addUser('admin', 'carol@console.test');
    const token = await c.session(id);
    await c.server.store.users.setRole(id, 'member');
    const r = await c.server.app.inject({
      method: 'GET',
      url: '/admin/session',
      headers: { ...consoleHeaders(), cookie: consoleCookie(token) },
    });
    expect(ConsoleSession.parse(r.json())).toMatchObject({
      state: 'refused',
      user: { email: 'carol@console.test', role: 'member' },
    });
  });

  it('leaves logins started by apps alone: their page still says "signed in"', async () => {
    const start = await c.server.app.inject({
      method: 'POST',
      url: '/v1/login',
      payload: { clientName: 'Trellis desktop' },
    });
    const url = new URL(start.json().url).pathname;
    const form = await c.server.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ email: c.owner.email, password: c.owner.password }).toString(),
    });
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('You are signed in');
  });

  it('does not start a sign-in for a navigation from another site', async () => {
    const r = await c.server.app.inject({
      method: 'GET',
      url: '/admin/signin',
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe('/admin');
    expect(setCookies(r.headers)).toEqual([]);
  });

  it('sends single sign-on requests back when no provider is configured', async () => {
    const r = await c.server.app.inject({ method: 'GET', url: '/admin/signin?via=oidc' });
    expect(r.headers.location).toBe('/admin?signin=no-sso');
  });

  it('completes nothing without the pending cookie', async () => {
    const r = await c.server.app.inject({ method: 'GET', url: '/admin/signin/complete' });
    expect(r.headers.location).toBe('/admin?signin=expired');
  });

  it('answers /admin/session only to console requests', async () => {
    const r = await c.server.app.inject({ method: 'GET', url: '/admin/session' });
    expect(r.statusCode).toBe(403);
    const ok = await c.server.app.inject({
      method: 'GET',
      url: '/admin/session',
      headers: consoleHeaders(),
    });
    expect(ConsoleSession.parse(ok.json()).state).toBe('signed-out');
  });
});

describe('console sign-in behind TLS, with single sign-on configured', () => {
  let c: ConsoleTestControl;
  beforeAll(async () => {
    c = await startConsoleTestControl({
      publicUrl: 'https://control.console.test',
      oidc: {
        name: 'Acme SSO',
        issuer: 'http://127.0.0.1:9/realm',
        clientId: 'trellis',
      },
    });
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('offers the provider, starts its flow, and marks every cookie Secure', async () => {
    const s = await c.server.app.inject({
      method: 'GET',
      url: '/admin/session',
      headers: { [CONSOLE_HEADER]: '1', origin: 'https://control.console.test' },
    });
    expect(ConsoleSession.parse(s.json())).toMatchObject({ oidc: { name: 'Acme SSO' } });

    const start = await c.server.app.inject({ method: 'GET', url: '/admin/signin?via=oidc' });
    expect(start.headers.location).toMatch(/^\/login\/tr_login_[A-Za-z0-9_-]+\/oidc$/);
    expect(setCookies(start.headers)[0]).toMatch(/HttpOnly; SameSite=Lax; Secure$/);

    const { token } = await c.server.store.userSessions.create({
      userId: c.owner.id,
      ttlMs: 60_000,
    });
    const out = await c.server.app.inject({
      method: 'POST',
      url: '/admin/signout',
      headers: {
        [CONSOLE_HEADER]: '1',
        origin: 'https://control.console.test',
        cookie: consoleCookie(token),
      },
    });
    expect(out.statusCode).toBe(204);
    for (const cookie of setCookies(out.headers)) expect(cookie).toMatch(/; Secure$/);
  });
});
