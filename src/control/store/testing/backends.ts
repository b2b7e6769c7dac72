/**
 * The three places the shared suite runs: SQLite in memory, SQLite in a temp file, and
 * PostgreSQL in a throwaway schema per fresh() call.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore, type Store, type StoreOptions } from '../store.js';
import type { Backend } from './harness.js';
import { testPgUrl } from './pg-url.js';

export function sqliteMemoryBackend(): Backend {
  const opened: Store[] = [];
  return {
    persistent: false,
    concurrentStores: false,
    async fresh(options) {
      const s = await openStore({ driver: 'sqlite', path: ':memory:' }, options);
      opened.push(s);
      return s;
    },
    reopen: () => Promise.resolve(null),
    async disposeAll() {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    },
  };
}

export function sqliteFileBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-store-'));
  const paths = new Map<Store, string>();
  let n = 0;
  const open = async (path: string, options: StoreOptions) => {
    const s = await openStore({ driver: 'sqlite', path }, options);
    paths.set(s, path);
    return s;
  };
  return {
    persistent: true,
    concurrentStores: false,
    fresh: (options) => open(join(dir, `db${n++}.sqlite`), options),
    reopen(store, options) {
      const path = paths.get(store);
      return path === undefined ? Promise.resolve(null) : open(path, options);
    },
    async disposeAll() {
      await Promise.all([...paths.keys()].map((s) => s.close()));
      paths.clear();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(): Backend {
  const schemas = new Map<Store, string>();
  const open = async (schema: string, options: StoreOptions) => {
    const url = testPgUrl();
    let s: Store;
    try {
      s = await openStore({ driver: 'postgres', url, schema, poolSize: 10 }, options);
    } catch (e) {
      throw new Error(
        `${(e as Error).message} (install the Debian package postgresql, then run ` +
          'scripts/start-postgres.sh and export TRELLIS_TEST_PG_URL)',
        { cause: e },
      );
    }
    schemas.set(s, schema);
    return s;
  };
  return {
    persistent: true,
    concurrentStores: true,
    fresh: (options) => open(`trellis_test_${randomBytes(6).toString('hex')}`, options),
    reopen(store, options) {
      const schema = schemas.get(store);
      return schema === undefined ? Promise.resolve(null) : open(schema, options);
    },
    async disposeAll() {
      const stores = [...schemas.entries()];
      schemas.clear();
      for (const schema of new Set(stores.map(([, s]) => s))) {
        const owner = stores.find(([, s]) => s === schema)?.[0];
        if (owner) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(owner.db);
      }
      await Promise.all(stores.map(([s]) => s.close()));
    },
  };
}
