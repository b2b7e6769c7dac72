/**
 * Runs the versioned migrations (Kysely's Migrator; its kysely_migration table records which
 * ran) and refuses to touch a database that a newer build has migrated further.
 */
import { Migrator, sql, type Kysely } from 'kysely';
import type { Dialect } from './migrations/column-types.js';
import { migrationsFor, StaticMigrationProvider } from './migrations/index.js';
import type { Database } from './schema.js';

const MIGRATION_TABLE = 'kysely_migration';

export interface SchemaStatus {
  /** Migrations this build knows that have run, in order. */
  applied: string[];
  /** Migrations this build knows that have not run yet. */
  pending: string[];
  /** Migrations recorded in the database that this build does not know (a newer build ran). */
  unknown: string[];
}

export interface MigrateReport {
  /** Migrations run by this call (empty when the schema was already current). */
  ran: string[];
  status: SchemaStatus;
}

export class SchemaTooNewError extends Error {
  constructor(readonly unknown: readonly string[]) {
    super(
      `the database was migrated by a newer Trellis (unknown migrations: ${unknown.join(', ')}); ` +
        'upgrade trellis-control or restore a backup',
    );
    this.name = 'SchemaTooNewError';
  }
}

/**
 * The schema Kysely's own tables live in. On PostgreSQL it must be explicit: without it the
 * Migrator looks for "kysely_migration" in every schema of the database and would take another
 * schema's table for its own.
 */
async function migrationSchema(
  db: Kysely<Database>,
  dialect: Dialect,
  pgSchema: string | undefined,
): Promise<string | undefined> {
  if (dialect === 'sqlite') return undefined;
  if (pgSchema !== undefined) return pgSchema;
  const r = await sql<{ s: string }>`select current_schema() as s`.execute(db);
  const s = r.rows[0]?.s;
  if (!s) throw new Error('PostgreSQL has no current schema: set the store config "schema"');
  return s;
}

async function recordedMigrations(
  db: Kysely<Database>,
  dialect: Dialect,
  schema: string | undefined,
): Promise<string[]> {
  const exists =
    dialect === 'sqlite'
      ? await sql<{ n: number }>`select count(*) as n from sqlite_master
          where type = 'table' and name = ${MIGRATION_TABLE}`.execute(db)
      : await sql<{ n: number }>`select count(*) as n from information_schema.tables
          where table_schema = ${schema ?? ''} and table_name = ${MIGRATION_TABLE}`.execute(db);
  if (Number(exists.rows[0]?.n ?? 0) === 0) return [];
  const table =
    schema === undefined ? sql.table(MIGRATION_TABLE) : sql.table(`${schema}.${MIGRATION_TABLE}`);
  const rows = await sql<{ name: string }>`select name from ${table} order by name`.execute(db);
  return rows.rows.map((r) => r.name);
}

export async function schemaStatus(
  db: Kysely<Database>,
  dialect: Dialect,
  pgSchema: string | undefined,
): Promise<SchemaStatus> {
  const schema = await migrationSchema(db, dialect, pgSchema);
  const recorded = new Set(await recordedMigrations(db, dialect, schema));
  const known = Object.keys(migrationsFor(dialect)).sort();
  const knownSet = new Set(known);
  return {
    applied: known.filter((n) => recorded.has(n)),
    pending: known.filter((n) => !recorded.has(n)),
    unknown: [...recorded].filter((n) => !knownSet.has(n)).sort(),
  };
}

export async function migrate(
  db: Kysely<Database>,
  dialect: Dialect,
  pgSchema: string | undefined,
): Promise<MigrateReport> {
  if (pgSchema !== undefined) {
    await sql`create schema if not exists ${sql.id(pgSchema)}`.execute(db);
  }
  const before = await schemaStatus(db, dialect, pgSchema);
  if (before.unknown.length > 0) throw new SchemaTooNewError(before.unknown);
  const schema = await migrationSchema(db, dialect, pgSchema);
  const migrator = new Migrator({
    db,
    provider: new StaticMigrationProvider(dialect),
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const cause = error instanceof Error ? error : new Error(String(error));
    throw new Error(`migration ${failed ?? '(setup)'} failed: ${cause.message}`, { cause });
  }
  return {
    ran: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName),
    status: await schemaStatus(db, dialect, pgSchema),
  };
}
