import { expect, it } from 'vitest';
import { hashToken } from '../../tokens.js';
import { errorOf, newNetwork, newUser, nodeKey, unwrap } from '../fixtures.js';
import type { SuiteContext } from '../harness.js';

const DAY = 86_400_000;

export function preauthKeyCases(s: SuiteContext): void {
  it('creates pre-auth keys, stores only the hash, round-trips tags', async () => {
    const net = await newNetwork(s.store);
    const admin = await newUser(s.store, net.id, 'admin');
    const { preauthKey, key } = await s.store.preauthKeys.create({
      networkId: net.id,
      createdBy: admin.id,
      expiresAt: new Date(s.clock.t + DAY),
      reusable: true,
      ephemeral: true,
      preapproved: true,
      tags: ['tag:server', 'tag:ci'],
      description: 'CI runners',
    });
    expect(key).toMatch(/^tr_auth_[A-Za-z0-9_-]{43}$/);
    expect(preauthKey).toMatchObject({
      networkId: net.id,
      keyPrefix: key.slice(0, 'tr_auth_'.length + 6),
      createdBy: admin.id,
      reusable: true,
      ephemeral: true,
      preapproved: true,
      tags: ['tag:server', 'tag:ci'],
      usedCount: 0,
      revokedAt: null,
      description: 'CI runners',
    });
    const raw = await s.store.db
      .selectFrom('preauth_keys')
      .selectAll()
      .where('id', '=', preauthKey.id)
      .executeTakeFirstOrThrow();
    expect(raw.key_hash).toBe(hashToken(key));
    expect(JSON.stringify(raw)).not.toContain(key);
    expect(await s.store.preauthKeys.findByHash(hashToken(key))).toEqual(preauthKey);
    expect(await s.store.preauthKeys.get(preauthKey.id)).toEqual(preauthKey);
    expect((await s.store.preauthKeys.list(net.id)).map((k) => k.id)).toEqual([preauthKey.id]);
  });

  it('consumes one-off keys once, reusable keys until expiry or revocation', async () => {
    const net = await newNetwork(s.store);
    const once = await s.store.preauthKeys.create({
      networkId: net.id,
      createdBy: null,
      expiresAt: new Date(s.clock.t + DAY),
    });
    const used = unwrap(await s.store.preauthKeys.consume(hashToken(once.key)));
    expect(used).toMatchObject({ usedCount: 1, lastUsedAt: new Date(s.clock.t) });
    expect(errorOf(await s.store.preauthKeys.consume(hashToken(once.key)))).toBe('used');

    const multi = await s.store.preauthKeys.create({
      networkId: net.id,
      createdBy: null,
      expiresAt: new Date(s.clock.t + DAY),
      reusable: true,
    });
    for (let i = 1; i <= 3; i++) {
      expect(unwrap(await s.store.preauthKeys.consume(hashToken(multi.key))).usedCount).toBe(i);
    }
    expect(await s.store.preauthKeys.revoke(multi.preauthKey.id)).toBe(true);
    expect(await s.store.preauthKeys.revoke(multi.preauthKey.id)).toBe(false);
    expect(errorOf(await s.store.preauthKeys.consume(hashToken(multi.key)))).toBe('revoked');

    const short = await s.store.preauthKeys.create({
      networkId: net.id,
      createdBy: null,
      expiresAt: new Date(s.clock.t + 1000),
      reusable: true,
    });
    s.clock.advance(1000);
    expect(errorOf(await s.store.preauthKeys.consume(hashToken(short.key)))).toBe('expired');
    expect(errorOf(await s.store.preauthKeys.consume(hashToken('tr_auth_nope')))).toBe('not_found');

    const later = await s.store.preauthKeys.create({
      networkId: net.id,
      createdBy: null,
      expiresAt: new Date(s.clock.t + DAY),
    });
    expect(await s.store.preauthKeys.expire(later.preauthKey.id)).toBe(true);
    expect(errorOf(await s.store.preauthKeys.consume(hashToken(later.key)))).toBe('expired');
    expect(await s.store.preauthKeys.delete(later.preauthKey.id)).toBe(true);
    expect(await s.store.preauthKeys.get(later.preauthKey.id)).toBeNull();
  });

  it('lets exactly one of many concurrent registrations use a one-off key', async () => {
    const net = await newNetwork(s.store);
    const once = await s.store.preauthKeys.create({
      networkId: net.id,
      createdBy: null,
      expiresAt: new Date(s.clock.t + DAY),
      tags: ['tag:server'],
    });
    const reusable = await s.store.preauthKeys.create({
      networkId: net.id,
      createdBy: null,
      expiresAt: new Date(s.clock.t + DAY),
      reusable: true,
    });
    const N = 20;
    const results = await Promise.all(
      Array.from({ length: N }, () => s.store.preauthKeys.consume(hashToken(once.key))),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.error === 'used')).toHaveLength(N - 1);
    await Promise.all(
      Array.from({ length: N }, () => s.store.preauthKeys.consume(hashToken(reusable.key))),
    );
    expect((await s.store.preauthKeys.get(reusable.preauthKey.id))?.usedCount).toBe(N);
  });

  it('gives a key use back when the registration transaction fails', async () => {
    const net = await newNetwork(s.store);
    const once = await s.store.preauthKeys.create({
      networkId: net.id,
      createdBy: null,
      expiresAt: new Date(s.clock.t + DAY),
      tags: ['tag:server'],
    });
    const boom = new Error('registration failed after the key was used');
    await expect(
      s.store.transaction(async (tx) => {
        const key = unwrap(await tx.preauthKeys.consume(hashToken(once.key)));
        unwrap(
          await tx.devices.create({
            networkId: net.id,
            userId: null,
            tags: key.tags,
            hostname: 'srv',
            nodeKey: nodeKey(),
            preauthKeyId: key.id,
          }),
        );
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await s.store.preauthKeys.get(once.preauthKey.id))?.usedCount).toBe(0);
    expect(await s.store.devices.list(net.id)).toEqual([]);

    const device = await s.store.transaction(async (tx) => {
      const key = unwrap(await tx.preauthKeys.consume(hashToken(once.key)));
      return unwrap(
        await tx.devices.create({
          networkId: net.id,
          userId: null,
          tags: key.tags,
          hostname: 'srv',
          nodeKey: nodeKey(),
          preauthKeyId: key.id,
          ephemeral: key.ephemeral,
        }),
      ).device;
    });
    expect(device).toMatchObject({ tags: ['tag:server'], preauthKeyId: once.preauthKey.id });
    expect((await s.store.preauthKeys.get(once.preauthKey.id))?.usedCount).toBe(1);
  });
}

export function apiKeyCases(s: SuiteContext): void {
  it('creates, authenticates, touches, expires and revokes API keys', async () => {
    const net = await newNetwork(s.store);
    const admin = await newUser(s.store, net.id, 'admin');
    const forever = await s.store.apiKeys.create({
      networkId: net.id,
      createdBy: admin.id,
      description: 'terraform',
    });
    expect(forever.key).toMatch(/^tr_api_[A-Za-z0-9_-]{43}$/);
    expect(forever.apiKey).toMatchObject({
      prefix: forever.key.slice(0, 'tr_api_'.length + 6),
      expiresAt: null,
      description: 'terraform',
      createdBy: admin.id,
    });
    const raw = await s.store.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', forever.apiKey.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(raw)).not.toContain(forever.key);
    expect(await s.store.apiKeys.findActive(hashToken(forever.key))).toEqual(forever.apiKey);

    const brief = await s.store.apiKeys.create({
      networkId: net.id,
      createdBy: null,
      expiresAt: new Date(s.clock.t + 1000),
    });
    expect(await s.store.apiKeys.findActive(hashToken(brief.key))).not.toBeNull();
    s.clock.advance(1000);
    expect(await s.store.apiKeys.findActive(hashToken(brief.key))).toBeNull();
    expect(await s.store.apiKeys.findActive(hashToken(forever.key))).not.toBeNull();

    expect(await s.store.apiKeys.touch(forever.apiKey.id)).toBe(true);
    expect((await s.store.apiKeys.get(forever.apiKey.id))?.lastUsedAt).toEqual(new Date(s.clock.t));
    expect(await s.store.apiKeys.revoke(forever.apiKey.id)).toBe(true);
    expect(await s.store.apiKeys.revoke(forever.apiKey.id)).toBe(false);
    expect(await s.store.apiKeys.findActive(hashToken(forever.key))).toBeNull();
    expect((await s.store.apiKeys.list(net.id)).map((k) => k.id).sort()).toEqual(
      [forever.apiKey.id, brief.apiKey.id].sort(),
    );
  });
}
