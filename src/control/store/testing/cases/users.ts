import { expect, it } from 'vitest';
import { errorOf, newNetwork, newUser, unwrap } from '../fixtures.js';
import type { SuiteContext } from '../harness.js';

const ISSUER = 'https://idp.example';

export function userCases(s: SuiteContext): void {
  it('creates local users with case-insensitive emails unique per network', async () => {
    const net = await newNetwork(s.store);
    const other = await newNetwork(s.store);
    const alice = unwrap(
      await s.store.users.createLocal({
        networkId: net.id,
        email: ' Alice@Example.COM ',
        displayName: 'Alice',
        role: 'owner',
        passwordHash: 'hash-a',
      }),
    );
    expect(alice).toMatchObject({
      networkId: net.id,
      email: 'alice@example.com',
      displayName: 'Alice',
      role: 'owner',
      hasPassword: true,
      oidc: null,
      groups: [],
      disabled: false,
      lastLoginAt: null,
    });
    expect(alice).not.toHaveProperty('passwordHash');
    const dup = await s.store.users.createLocal({
      networkId: net.id,
      email: 'ALICE@example.com',
      passwordHash: null,
    });
    expect(errorOf(dup)).toBe('email_taken');
    const elsewhere = await s.store.users.createLocal({
      networkId: other.id,
      email: 'alice@example.com',
      passwordHash: null,
    });
    expect(unwrap(elsewhere).displayName).toBe('alice@example.com');
    expect(
      errorOf(
        await s.store.users.createLocal({
          networkId: 'net_missing',
          email: 'a@b.c',
          passwordHash: null,
        }),
      ),
    ).toBe('network_not_found');

    expect(await s.store.users.findByEmail(net.id, 'alice@EXAMPLE.com')).toEqual(alice);
    expect(await s.store.users.get(alice.id)).toEqual(alice);
    expect(await s.store.users.getCredentials(net.id, 'ALICE@example.com')).toEqual({
      user: alice,
      passwordHash: 'hash-a',
    });
    expect(await s.store.users.getCredentials(net.id, 'nobody@example.com')).toBeNull();
    expect((await s.store.users.list(net.id)).map((u) => u.id)).toEqual([alice.id]);
  });

  it('upserts OIDC users by issuer and subject, refreshing claims', async () => {
    const net = await newNetwork(s.store);
    const first = unwrap(
      await s.store.users.upsertOidc({
        networkId: net.id,
        issuer: ISSUER,
        subject: 'sub-1',
        email: 'Bob@example.com',
        displayName: 'Bob',
        groups: ['eng', 'ops'],
      }),
    );
    expect(first.created).toBe(true);
    expect(first.user).toMatchObject({
      email: 'bob@example.com',
      role: 'member',
      hasPassword: false,
      oidc: { issuer: ISSUER, subject: 'sub-1' },
      groups: ['eng', 'ops'],
      lastLoginAt: new Date(s.clock.t),
    });
    s.clock.advance(60_000);
    const again = unwrap(
      await s.store.users.upsertOidc({
        networkId: net.id,
        issuer: ISSUER,
        subject: 'sub-1',
        email: 'robert@example.com',
        displayName: 'Robert',
        groups: ['eng'],
        role: 'owner',
      }),
    );
    expect(again.created).toBe(false);
    expect(again.user).toMatchObject({
      id: first.user.id,
      email: 'robert@example.com',
      displayName: 'Robert',
      groups: ['eng'],
      role: 'member', // an existing user keeps their role
      lastLoginAt: new Date(s.clock.t),
    });
    expect(await s.store.users.findByOidc(net.id, ISSUER, 'sub-1')).toEqual(again.user);
    expect(await s.store.users.findByOidc(net.id, 'https://other.example', 'sub-1')).toBeNull();
  });

  it('never links an OIDC identity to another account by email', async () => {
    const net = await newNetwork(s.store);
    const local = await newUser(s.store, net.id);
    const r = await s.store.users.upsertOidc({
      networkId: net.id,
      issuer: ISSUER,
      subject: 'sub-x',
      email: local.email,
    });
    expect(errorOf(r)).toBe('email_taken');
    unwrap(
      await s.store.users.upsertOidc({
        networkId: net.id,
        issuer: ISSUER,
        subject: 'sub-y',
        email: 'y@example.com',
      }),
    );
    // Changing the email claim to one another user holds is refused too.
    const moved = await s.store.users.upsertOidc({
      networkId: net.id,
      issuer: ISSUER,
      subject: 'sub-y',
      email: local.email.toUpperCase(),
    });
    expect(errorOf(moved)).toBe('email_taken');
  });

  it('creates one user when the same identity signs in concurrently', async () => {
    const net = await newNetwork(s.store);
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        s.store.users.upsertOidc({
          networkId: net.id,
          issuer: ISSUER,
          subject: 'sub-race',
          email: 'race@example.com',
        }),
      ),
    );
    const users = results.map(unwrap);
    expect(users.filter((u) => u.created)).toHaveLength(1);
    expect(new Set(users.map((u) => u.user.id)).size).toBe(1);
    expect(await s.store.users.list(net.id)).toHaveLength(1);
  });

  it('sets role, disabled, display name, password and last login', async () => {
    const net = await newNetwork(s.store);
    const u = await newUser(s.store, net.id);
    expect(await s.store.users.countByRole(net.id, 'admin')).toBe(0);
    expect((await s.store.users.setRole(u.id, 'admin'))?.role).toBe('admin');
    expect(await s.store.users.countByRole(net.id, 'admin')).toBe(1);
    expect((await s.store.users.setDisabled(u.id, true))?.disabled).toBe(true);
    expect(await s.store.users.countByRole(net.id, 'admin')).toBe(0); // disabled do not count
    expect((await s.store.users.setDisabled(u.id, false))?.disabled).toBe(false);
    expect((await s.store.users.setDisplayName(u.id, 'Zoë'))?.displayName).toBe('Zoë');
    expect((await s.store.users.setPasswordHash(u.id, null))?.hasPassword).toBe(false);
    s.clock.advance(5);
    expect((await s.store.users.markLogin(u.id))?.lastLoginAt).toEqual(new Date(s.clock.t));
    expect(await s.store.users.setRole('usr_missing', 'owner')).toBeNull();
    expect(await s.store.users.delete(u.id)).toBe(true);
    expect(await s.store.users.get(u.id)).toBeNull();
  });
}
