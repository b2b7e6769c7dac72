/**
 * 0003_key_expiry_noted: when the audit log last recorded that a device's key expired. The
 * expiry sweep records each passing expiry date exactly once (even with several control
 * replicas) by claiming rows whose `key_expiry` lies after this mark; a re-login moves
 * `key_expiry` forward, so the next expiry is recorded again.
 */
import type { Kysely, Migration } from 'kysely';
import type { ColumnTypes } from './column-types.js';

export function keyExpiryNoted(t: ColumnTypes): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('devices').addColumn('key_expiry_noted_at', t.millis).execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('devices').dropColumn('key_expiry_noted_at').execute();
    },
  };
}
