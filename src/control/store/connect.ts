/**
 * Builds the Kysely instance for each driver with the settings the store relies on.
 */
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export interface SqliteStoreConfig {
  readonly driver: 'sqlite';
  /** A file path, or ':memory:' (tests). */
  readonly path: string;
}

export interface PostgresStoreConfig {
  readonly driver: 'postgres';
  readonly url: string;
  readonly poolSize?: number;
  /**
   * Schema to keep every table in (created by migrate()). Default: the role's current schema
   * (normally "public"). Tests use a throwaway schema per suite.
   */
  readonly schema?: string;
}

export type StoreConfig = SqliteStoreConfig | PostgresStoreConfig;

/**
 * How long a SQLite writer waits for another process's write lock before SQLITE_BUSY. Writes
 * are short single-row statements, so 5 s only runs out when something is stuck.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Default PostgreSQL pool size: the control plane does short queries, and 10 connections keep a
 * default PostgreSQL (max_connections = 100) usable by several control-plane replicas.
 */
export const DEFAULT_PG_POOL_SIZE = 10;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Writers take SQLite's write lock when the transaction starts (BEGIN IMMEDIATE). A deferred
 * BEGIN would read first and fail with SQLITE_BUSY_SNAPSHOT on its first write when another
 * process wrote in between, without waiting on busy_timeout.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** SQLite DDL is transactional; telling Kysely so makes each migration all-or-nothing. */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class TrellisSqliteDialect extends SqliteDialect {
  constructor(private readonly sqliteConfig: SqliteDialectConfig) {
    super(sqliteConfig);
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.sqliteConfig);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

export function openSqlite(config: SqliteStoreConfig): Kysely<Database> {
  const sqlite = new BetterSqlite3(config.path);
  // WAL: readers do not block the writer. ':memory:' databases stay in "memory" mode.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  // In WAL mode NORMAL cannot corrupt the database; a power cut can lose the last commits only.
  sqlite.pragma('synchronous = NORMAL');
  return new Kysely<Database>({ dialect: new TrellisSqliteDialect({ database: sqlite }) });
}

const PG_INT8_OID = 20;

/**
 * BIGINT columns hold millisecond timestamps and counters, all far below 2^53, so they are read
 * as numbers rather than pg's default strings. Set per pool, never on pg's global type table.
 */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} exceeds 2^53`);
  return n;
}

const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === PG_INT8_OID && format !== 'binary'
      ? parseInt8
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

export function validateSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name "${schema}": use [a-z_][a-z0-9_]*`);
  }
  return schema;
}

export function openPostgres(
  config: PostgresStoreConfig,
  onBackgroundError: (e: Error) => void,
): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize ?? DEFAULT_PG_POOL_SIZE,
    types: pgTypes,
    ...(config.schema === undefined
      ? {}
      : { options: `-c search_path=${validateSchemaName(config.schema)}` }),
  });
  // An idle client's socket error (e.g. the server restarted) is emitted on the pool; without a
  // listener it would crash the process. The next query on that client reports it again.
  pool.on('error', onBackgroundError);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
