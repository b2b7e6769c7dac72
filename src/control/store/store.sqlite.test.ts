import { sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SQLITE_BUSY_TIMEOUT_MS } from './connect.js';
import { openStore } from './store.js';
import { sqliteFileBackend, sqliteMemoryBackend } from './testing/backends.js';
import { describeStore } from './testing/describe-store.js';

describeStore('SQLite :memory:', sqliteMemoryBackend);
describeStore('SQLite file', sqliteFileBackend);

describe('SQLite connection settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-pragmas-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens files in WAL mode with foreign keys, busy timeout and synchronous=NORMAL', async () => {
    const store = await openStore({ driver: 'sqlite', path: join(dir, 'p.sqlite') });
    try {
      const one = async (pragma: string) =>
        Object.values((await sql.raw(`pragma ${pragma}`).execute(store.db)).rows[0] as object)[0];
      expect(await one('journal_mode')).toBe('wal');
      expect(await one('foreign_keys')).toBe(1);
      expect(await one('busy_timeout')).toBe(SQLITE_BUSY_TIMEOUT_MS);
      expect(await one('synchronous')).toBe(1); // NORMAL
    } finally {
      await store.close();
    }
  });
});
