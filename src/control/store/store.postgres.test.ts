import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ipv6For } from './addresses.js';
import { openStore } from './store.js';
import { postgresBackend } from './testing/backends.js';
import { describeStore } from './testing/describe-store.js';
import { newNetwork, newUser, nodeKey, unwrap } from './testing/fixtures.js';
import { DEFAULT_TEST_PG_URL, MISSING_PG_MESSAGE, testPgUrl } from './testing/pg-url.js';

describeStore('PostgreSQL', postgresBackend);

describe('PostgreSQL test URL', () => {
  it('fails in CI without TRELLIS_TEST_PG_URL, and falls back locally', () => {
    expect(() => testPgUrl({ CI: 'true' })).toThrow(MISSING_PG_MESSAGE);
    expect(testPgUrl({})).toBe(DEFAULT_TEST_PG_URL);
    expect(testPgUrl({ CI: 'true', TRELLIS_TEST_PG_URL: 'postgres://x/y' })).toBe('postgres://x/y');
  });
});

/**
 * Polls until another session is blocked by `client`'s transaction: the store's insert
 * checking the unique index against our uncommitted row.
 */
async function waitForBlockedInsert(client: pg.Client): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = await client.query(
      `select count(*)::int as n from pg_stat_activity
        where pg_backend_pid() = any(pg_blocking_pids(pid))`,
    );
    if ((r.rows[0] as { n: number }).n > 0) return;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error('the store never blocked on the conflicting insert');
}

describe('PostgreSQL device allocation race', () => {
  it('retries allocation when a writer outside the network lock takes the same address', async () => {
    const url = testPgUrl();
    const schema = `trellis_test_${randomBytes(6).toString('hex')}`;
    const store = await openStore({ driver: 'postgres', url, schema });
    const raw = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    let pending: Promise<unknown> | undefined;
    try {
      await store.migrate();
      const net = await newNetwork(store);
      const user = await newUser(store, net.id);
      await raw.connect();
      // A concurrent writer that ignores the network lock holds 100.64.0.1, uncommitted: the
      // store cannot see it and picks the same address, then waits on the unique index.
      await raw.query('begin');
      await raw.query(
        `insert into devices (id, network_id, user_id, name, hostname, node_key, credential_hash,
           addr_index, ipv4, ipv6, created_at, updated_at)
         values ('dev_ghost', $1, $2, 'ghost', 'ghost', 'nodekey:ghost', 'ghost', 1,
           '100.64.0.1', $3, 0, 0)`,
        [net.id, user.id, ipv6For(net.ipv6UlaPrefix, '100.64.0.1')],
      );
      const create = store.devices.create({
        networkId: net.id,
        userId: user.id,
        hostname: 'real',
        nodeKey: nodeKey(),
      });
      pending = create;
      await waitForBlockedInsert(raw);
      await raw.query('commit');
      const { device } = unwrap(await create);
      expect(device.ipv4).toBe('100.64.0.2');
      expect(device.name).toBe('real');
      expect((await store.devices.list(net.id)).map((d) => d.ipv4).sort()).toEqual([
        '100.64.0.1',
        '100.64.0.2',
      ]);
    } finally {
      await raw.end().catch(() => {});
      // Let a still-running registration finish before its schema is dropped.
      await pending?.catch(() => {});
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db);
      await store.close();
    }
  });
});
