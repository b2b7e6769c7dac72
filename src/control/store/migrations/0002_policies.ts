/**
 * 0002_policies: versioned access policies. Each save (or rollback) appends a row with the next
 * version number of its network; the highest version is the one in force. Rows are never
 * updated, so the history doubles as the record of what was enforced when.
 *
 * device_routes (0001) already holds advertised and approved routes; nothing changes there.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { ColumnTypes } from './column-types.js';

export function policies(t: ColumnTypes): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('policies')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('network_id', 'text', (c) =>
          c.notNull().references('networks.id').onDelete('cascade'),
        )
        .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
        .addColumn('text', 'text', (c) => c.notNull())
        // Who saved it, as in the audit log; no foreign key, so history outlives its authors.
        .addColumn('created_by_type', 'text', (c) =>
          c.notNull().check(sql`created_by_type in ('user', 'api_key', 'device', 'system')`),
        )
        .addColumn('created_by_id', 'text')
        .addColumn('created_at', t.millis, (c) => c.notNull())
        .addColumn('comment', 'text')
        // Set when this version was made by rolling back to an older one.
        .addColumn('rolled_back_from', 'integer')
        .execute();
      // Also the index behind "latest version of a network" and paging newest first.
      await db.schema
        .createIndex('policies_network_version_uq')
        .on('policies')
        .columns(['network_id', 'version'])
        .unique()
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('policies').ifExists().execute();
    },
  };
}
