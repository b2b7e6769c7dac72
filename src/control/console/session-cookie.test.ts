import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_HEADER } from '../../shared/schema/control/console.js';
import { consoleCookie, startConsoleTestControl, type ConsoleTestControl } from './testing.js';

describe('admin API with the console session cookie', () => {
  let c: ConsoleTestControl;
  let owner: string;

  beforeAll(async () => {
    c = await startConsoleTestControl();
    owner = await c.session(c.owner.id);
  });
  afterAll(async () => {
    await c?.stop();
  });

  /** A request as the console page makes it; `over` replaces or (undefined) drops headers. */
  function call(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    token: string,
    over: Record<string, string | undefined> = {},
    body?: unknown,
  ) {
    const headers: Record<string, string> = {
      cookie: consoleCookie(token),
      [CONSOLE_HEADER]: '1',
      origin: c.origin,
      'sec-fetch-site': 'same-origin',
    };
    for (const [k, v] of Object.entries(over)) {
      if (v === undefined) delete headers[k];
      else headers[k] = v;
    }
    return c.server.app.inject({
      method,
      url,
      headers,
      ...(body === undefined ? {} : { payload: body as object }),
    });
  }

  it('accepts an owner session with the console header and a same-origin Origin', async () => {
    const r = await call('GET', '/v1/admin/users', owner);
    expect(r.statusCode).toBe(200);
    expect(r.json().items.map((u: { email: string }) => u.email)).toContain(c.owner.email);
    // Changes work too, and are attributed to the signed-in user.
    const created = await call('POST', '/v1/admin/api-keys', owner, {}, { description: 'ci' });
    expect(created.statusCode).toBe(201);
    const audit = await call('GET', '/v1/admin/audit?action=api_key.created', owner);
    expect(audit.json().items[0].actor).toMatchObject({ type: 'user', id: c.owner.id });
  });

  it('accepts GETs without Origin (browsers omit it on same-origin GETs)', async () => {
    const r = await call('GET', '/v1/admin/devices', owner, { origin: undefined });
    expect(r.statusCode).toBe(200);
  });

  it('accepts the Origin of the Host the browser used on this listener', async () => {
    const port = new URL(c.origin).port;
    const r = await call(
      'POST',
      '/v1/admin/api-keys',
      owner,
      { origin: `http://localhost:${port}`, host: `localhost:${port}` },
      {},
    );
    expect(r.statusCode).toBe(201);
  });

  it('refuses a cookie request without the console header', async () => {
    const r = await call('GET', '/v1/admin/users', owner, { [CONSOLE_HEADER]: undefined });
    expect(r.statusCode).toBe(403);
    expect(r.json().error).toEqual({
      code: 'forbidden',
      message: `console requests must send ${CONSOLE_HEADER}: 1`,
    });
    const wrong = await call('GET', '/v1/admin/users', owner, { [CONSOLE_HEADER]: 'yes' });
    expect(wrong.statusCode).toBe(403);
  });

  it('refuses a cookie request from another origin, even with the header', async () => {
    const r = await call('GET', '/v1/admin/users', owner, { origin: 'https://evil.example' });
    expect(r.statusCode).toBe(403);
    expect(r.json().error.message).toBe('console request from another origin refused');
    const del = await call('DELETE', `/v1/admin/users/${c.owner.id}`, owner, {
      origin: 'http://127.0.0.1:1',
    });
    expect(del.statusCode).toBe(403);
    expect(await c.server.store.users.get(c.owner.id)).not.toBeNull();
  });

  it('refuses a changing request without Origin, and any cross-site fetch', async () => {
    const noOrigin = await call('POST', '/v1/admin/api-keys', owner, { origin: undefined }, {});
    expect(noOrigin.statusCode).toBe(403);
    expect(noOrigin.json().error.message).toBe('console requests that change things need Origin');
    const crossSite = await call('GET', '/v1/admin/users', owner, {
      'sec-fetch-site': 'cross-site',
    });
    expect(crossSite.statusCode).toBe(403);
  });

  it('refuses a member with 403 and says why', async () => {
    const member = await c.session(await c.addUser('member', 'member@console.test'));
    const r = await call('GET', '/v1/admin/users', member);
    expect(r.statusCode).toBe(403);
    expect(r.json().error).toEqual({ code: 'forbidden', message: 'admin role required' });
    const admin = await c.session(await c.addUser('admin', 'admin2@console.test'));
    expect((await call('GET', '/v1/admin/users', admin)).statusCode).toBe(200);
  });

  it('refuses an expired session with 401', async () => {
    const short = await c.session(c.owner.id, 60_000);
    expect((await call('GET', '/v1/admin/users', short)).statusCode).toBe(200);
    c.advance(61_000);
    const r = await call('GET', '/v1/admin/users', short);
    expect(r.statusCode).toBe(401);
    expect(r.json().error.code).toBe('unauthorized');
  });

  it('refuses a revoked session, and a disabled user, with 401', async () => {
    const token = await c.session(c.owner.id);
    expect((await call('GET', '/v1/admin/users', token)).statusCode).toBe(200);
    const me = (await call('GET', '/v1/admin/sessions', token)).json();
    const current = me.items.find((s: { current: boolean }) => s.current);
    await c.server.store.userSessions.revoke(current.id);
    expect((await call('GET', '/v1/admin/users', token)).statusCode).toBe(401);

    const adminId = await c.addUser('admin', 'soon-disabled@console.test');
    const adminToken = await c.session(adminId);
    await c.server.store.users.setDisabled(adminId, true);
    expect((await call('GET', '/v1/admin/users', adminToken)).statusCode).toBe(401);
  });

  it('takes only user sessions from the cookie: an API key there is no credential', async () => {
    const key = await c.server.store.apiKeys.create({
      networkId: c.server.bootstrap.network.id,
      createdBy: c.owner.id,
    });
    expect((await call('GET', '/v1/admin/users', key.key)).statusCode).toBe(401);
    // The same key as a bearer token is fine: the cookie path adds, it replaces nothing.
    const bearer = await c.server.app.inject({
      method: 'GET',
      url: '/v1/admin/users',
      headers: { authorization: `Bearer ${key.key}` },
    });
    expect(bearer.statusCode).toBe(200);
  });

  it('is accepted by the admin API only, not by the rest of the control API', async () => {
    const r = await call('GET', '/v1/me', owner);
    expect(r.statusCode).toBe(401);
  });

  it('answers 401 with no credentials at all', async () => {
    const r = await call('GET', '/v1/admin/users', owner, { cookie: undefined });
    expect(r.statusCode).toBe(401);
  });
});
