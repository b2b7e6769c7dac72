import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { SchemaTooNewError } from '../../migrate.js';
import type { SuiteContext } from '../harness.js';

const ALL = ['0001_init', '0002_policies', '0003_key_expiry_noted'];

export function migrationCases(s: SuiteContext): void {
  it('migrates an empty database to the latest schema, and a second run changes nothing', async () => {
    const store = await s.backend.fresh(s.options);
    expect(await store.schemaStatus()).toEqual({ applied: [], pending: ALL, unknown: [] });
    const first = await store.migrate();
    expect(first.ran).toEqual(ALL);
    expect(first.status).toEqual({ applied: ALL, pending: [], unknown: [] });
    const second = await store.migrate();
    expect(second.ran).toEqual([]);
    expect(second.status.applied).toEqual(ALL);
    // The schema is usable: a row goes in and comes back.
    const net = await store.networks.create({ name: 'm', domain: 'm.example' });
    expect(net.ok).toBe(true);
  });

  if (s.backend.persistent) {
    it('keeps the migration state across reopening the same database', async () => {
      const store = await s.backend.fresh(s.options);
      await store.migrate();
      const again = await s.backend.reopen(store, s.options);
      if (again === null) throw new Error('backend claims persistence but cannot reopen');
      expect(await again.schemaStatus()).toEqual({ applied: ALL, pending: [], unknown: [] });
      expect((await again.migrate()).ran).toEqual([]);
    });
  }

  it('refuses a database migrated by a newer build', async () => {
    const store = await s.backend.fresh(s.options);
    await store.migrate();
    await sql`insert into kysely_migration (name, timestamp) values (${'9999_future'}, ${new Date().toISOString()})`.execute(
      store.db,
    );
    expect((await store.schemaStatus()).unknown).toEqual(['9999_future']);
    await expect(store.migrate()).rejects.toBeInstanceOf(SchemaTooNewError);
  });

  it('enforces foreign keys (deleting a network removes what it owns)', async () => {
    const net = await s.store.networks.create({ name: 'fk', domain: 'fk.example' });
    if (!net.ok) throw new Error(net.error);
    const user = await s.store.users.createLocal({
      networkId: net.value.id,
      email: 'fk@example.com',
      passwordHash: null,
    });
    expect(user.ok).toBe(true);
    expect(await s.store.networks.delete(net.value.id)).toBe(true);
    expect(await s.store.users.list(net.value.id)).toEqual([]);
    await expect(
      s.store.db
        .insertInto('users')
        .values({
          id: 'usr_orphan',
          network_id: 'net_missing',
          email: 'x@example.com',
          display_name: 'x',
          role: 'member',
          password_hash: null,
          oidc_issuer: null,
          oidc_subject: null,
          groups: '[]',
          disabled: 0,
          created_at: 0,
          updated_at: 0,
          last_login_at: null,
        })
        .execute(),
    ).rejects.toThrow();
  });
}
