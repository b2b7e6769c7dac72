import { expect, it } from 'vitest';
import { hashToken } from '../../tokens.js';
import { errorOf, newNetwork, newUser, unwrap } from '../fixtures.js';
import type { SuiteContext } from '../harness.js';

const HOUR = 3_600_000;

export function sessionCases(s: SuiteContext): void {
  it('issues user sessions, stores only the token hash, and authenticates by it', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const { session, token } = await s.store.userSessions.create({
      userId: user.id,
      ttlMs: HOUR,
      clientName: 'laptop',
    });
    expect(token).toMatch(/^tr_sess_[A-Za-z0-9_-]{43}$/);
    expect(session).toMatchObject({
      userId: user.id,
      clientName: 'laptop',
      expiresAt: new Date(s.clock.t + HOUR),
      revokedAt: null,
    });
    const raw = await s.store.db
      .selectFrom('user_sessions')
      .selectAll()
      .where('id', '=', session.id)
      .executeTakeFirstOrThrow();
    expect(raw.token_hash).toBe(hashToken(token));
    expect(JSON.stringify(raw)).not.toContain(token);

    const found = await s.store.userSessions.findActive(hashToken(token));
    expect(found).toEqual({ session, user });
    expect(await s.store.userSessions.findActive(hashToken(`${token}x`))).toBeNull();
    s.clock.advance(10);
    expect(await s.store.userSessions.touch(session.id)).toBe(true);
    expect((await s.store.userSessions.get(session.id))?.lastUsedAt).toEqual(new Date(s.clock.t));
    expect((await s.store.userSessions.listActive(user.id)).map((x) => x.id)).toEqual([session.id]);
  });

  it('stops authenticating expired, revoked and disabled-user sessions', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const a = await s.store.userSessions.create({ userId: user.id, ttlMs: HOUR });
    const b = await s.store.userSessions.create({ userId: user.id, ttlMs: 3 * HOUR });
    const c = await s.store.userSessions.create({ userId: user.id, ttlMs: 3 * HOUR });
    expect(await s.store.userSessions.revoke(b.session.id)).toBe(true);
    expect(await s.store.userSessions.revoke(b.session.id)).toBe(false);
    expect(await s.store.userSessions.findActive(hashToken(b.token))).toBeNull();
    s.clock.advance(HOUR);
    expect(await s.store.userSessions.findActive(hashToken(a.token))).toBeNull();
    expect(await s.store.userSessions.findActive(hashToken(c.token))).not.toBeNull();
    await s.store.users.setDisabled(user.id, true);
    expect(await s.store.userSessions.findActive(hashToken(c.token))).toBeNull();
    await s.store.users.setDisabled(user.id, false);
    // a (expired, never revoked) and c; b was already revoked.
    expect(await s.store.userSessions.revokeAllForUser(user.id)).toBe(2);
    expect(await s.store.userSessions.findActive(hashToken(c.token))).toBeNull();
    expect(await s.store.userSessions.listActive(user.id)).toEqual([]);
    s.clock.advance(1);
    // a expired and b, c were revoked before now: all three are dead.
    expect(await s.store.userSessions.deleteDead(new Date(s.clock.t))).toBeGreaterThanOrEqual(3);
    expect(await s.store.userSessions.get(a.session.id)).toBeNull();
  });

  it('runs a login session from pending to a claimed user session, once', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const { loginSession, pollToken, secret } = await s.store.loginSessions.create({
      ttlMs: 10 * 60_000,
      clientName: 'cli',
    });
    expect(pollToken).toMatch(/^tr_poll_/);
    expect(secret).toMatch(/^tr_login_/);
    expect(loginSession).toMatchObject({ state: 'pending', clientName: 'cli', oidc: null });
    expect(await s.store.loginSessions.findByPollTokenHash(hashToken(pollToken))).toEqual(
      loginSession,
    );
    expect(await s.store.loginSessions.findBySecretHash(hashToken(secret))).toEqual(loginSession);
    expect(await s.store.loginSessions.findBySecretHash(hashToken(pollToken))).toBeNull();

    const oidc = { state: 'st-1', nonce: 'n-1', codeVerifier: 'v-1' };
    expect(await s.store.loginSessions.setOidc(loginSession.id, oidc)).toBe(true);
    expect((await s.store.loginSessions.findByOidcState('st-1'))?.oidc).toEqual(oidc);

    expect(errorOf(await s.store.loginSessions.claim(hashToken(pollToken), { ttlMs: HOUR }))).toBe(
      'pending',
    );
    const done = unwrap(await s.store.loginSessions.complete(loginSession.id, user.id));
    expect(done).toMatchObject({ state: 'complete', userId: user.id, userSessionId: null });
    expect(errorOf(await s.store.loginSessions.complete(loginSession.id, user.id))).toBe(
      'not_pending',
    );

    const claimed = unwrap(
      await s.store.loginSessions.claim(hashToken(pollToken), { ttlMs: HOUR }),
    );
    expect(claimed.session).toMatchObject({ userId: user.id, clientName: 'cli' });
    expect((await s.store.userSessions.findActive(hashToken(claimed.token)))?.user.id).toBe(
      user.id,
    );
    expect(await s.store.loginSessions.get(loginSession.id)).toMatchObject({
      state: 'complete',
      userSessionId: claimed.session.id,
    });
    expect(errorOf(await s.store.loginSessions.claim(hashToken(pollToken), { ttlMs: HOUR }))).toBe(
      'already_claimed',
    );
    expect(errorOf(await s.store.loginSessions.claim(hashToken('nope'), { ttlMs: HOUR }))).toBe(
      'not_found',
    );
    expect(errorOf(await s.store.loginSessions.complete('lgn_missing', user.id))).toBe('not_found');
  });

  it('lets concurrent polls claim a login exactly once', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const { loginSession, pollToken } = await s.store.loginSessions.create({ ttlMs: HOUR });
    unwrap(await s.store.loginSessions.complete(loginSession.id, user.id));
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        s.store.loginSessions.claim(hashToken(pollToken), { ttlMs: HOUR }),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.error === 'already_claimed')).toHaveLength(9);
    expect(await s.store.userSessions.listActive(user.id)).toHaveLength(1);
  });

  it('expires login sessions', async () => {
    const net = await newNetwork(s.store);
    const user = await newUser(s.store, net.id);
    const a = await s.store.loginSessions.create({ ttlMs: 1000 });
    const b = await s.store.loginSessions.create({ ttlMs: 1000 });
    unwrap(await s.store.loginSessions.complete(b.loginSession.id, user.id));
    s.clock.advance(1000);
    expect((await s.store.loginSessions.get(a.loginSession.id))?.state).toBe('expired');
    expect(errorOf(await s.store.loginSessions.complete(a.loginSession.id, user.id))).toBe(
      'expired',
    );
    expect(
      await s.store.loginSessions.setOidc(a.loginSession.id, {
        state: 's',
        nonce: 'n',
        codeVerifier: 'v',
      }),
    ).toBe(false);
    expect(errorOf(await s.store.loginSessions.claim(hashToken(b.pollToken), { ttlMs: 1 }))).toBe(
      'expired',
    );
    expect(await s.store.loginSessions.expireStale()).toBeGreaterThanOrEqual(1);
    const raw = await s.store.db
      .selectFrom('login_sessions')
      .select('state')
      .where('id', '=', a.loginSession.id)
      .executeTakeFirstOrThrow();
    expect(raw.state).toBe('expired');
    s.clock.advance(1);
    expect(
      await s.store.loginSessions.deleteExpiredBefore(new Date(s.clock.t)),
    ).toBeGreaterThanOrEqual(2);
    expect(await s.store.loginSessions.get(b.loginSession.id)).toBeNull();
  });
}
