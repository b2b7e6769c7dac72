/**
 * The static, in-code list of migrations. Names sort in the order they run; a new migration gets
 * the next number and is never edited once released.
 */
import type { Migration, MigrationProvider } from 'kysely';
import { columnTypes, type Dialect } from './column-types.js';
import { init } from './0001_init.js';
import { policies } from './0002_policies.js';
import { keyExpiryNoted } from './0003_key_expiry_noted.js';

export function migrationsFor(dialect: Dialect): Record<string, Migration> {
  const t = columnTypes(dialect);
  return {
    '0001_init': init(t),
    '0002_policies': policies(t),
    '0003_key_expiry_noted': keyExpiryNoted(t),
  };
}

export class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrationsFor(this.dialect));
  }
}
