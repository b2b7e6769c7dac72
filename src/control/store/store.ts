/**
 * openStore(): the control plane's storage, on SQLite (embedded default) or PostgreSQL
 * (scale-out), behind one set of repositories.
 *
 * Call migrate() once at start-up before using the repositories. Inside transaction(fn), use
 * only the `tx` handed to fn: on SQLite the transaction holds the single connection, so a
 * query through the outer store would wait for the transaction that is waiting for it.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { ApiKeyRepository } from './api-keys.js';
import { AuditRepository } from './audit.js';
import { openPostgres, openSqlite, type StoreConfig } from './connect.js';
import type { Ctx, Dialect } from './context.js';
import { DeviceRepository } from './devices.js';
import { KvRepository } from './kv.js';
import { LoginSessionRepository } from './login-sessions.js';
import { migrate, schemaStatus, type MigrateReport, type SchemaStatus } from './migrate.js';
import { NetworkRepository } from './networks.js';
import { PolicyRepository } from './policies.js';
import { PreauthKeyRepository } from './preauth-keys.js';
import { RouteRepository } from './routes.js';
import type { Database } from './schema.js';
import { UserSessionRepository } from './sessions.js';
import { UserRepository } from './users.js';

export interface Repositories {
  readonly networks: NetworkRepository;
  readonly users: UserRepository;
  readonly userSessions: UserSessionRepository;
  readonly loginSessions: LoginSessionRepository;
  readonly preauthKeys: PreauthKeyRepository;
  readonly devices: DeviceRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly audit: AuditRepository;
  readonly kv: KvRepository;
  /** Access policy versions (migration 0002). */
  readonly policies: PolicyRepository;
  /** Advertised and approved subnet routes and exit nodes per device. */
  readonly routes: RouteRepository;
}

/** The repositories bound to one open transaction. */
export interface StoreTx extends Repositories {
  readonly dialect: Dialect;
  /** Raw Kysely access inside the transaction, for tables added by later modules. */
  readonly db: Kysely<Database>;
}

export interface Store extends Repositories {
  readonly dialect: Dialect;
  /** Raw Kysely access (pool level), for tables added by later modules. */
  readonly db: Kysely<Database>;
  /** Brings the schema to the latest version; safe to run on every start. */
  migrate(): Promise<MigrateReport>;
  schemaStatus(): Promise<SchemaStatus>;
  /**
   * Runs fn in one transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: READ COMMITTED), commits
   * when it resolves and rolls back when it throws. Returning an error Result does NOT roll
   * back: throw to undo.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Clock in ms since the epoch (tests move time with it). Default Date.now. */
  now?: () => number;
  /** Errors that happen outside any query (PostgreSQL idle-client errors). Default: ignored. */
  onBackgroundError?: (error: Error) => void;
}

function repositories(ctx: Ctx): Repositories {
  return {
    networks: new NetworkRepository(ctx),
    users: new UserRepository(ctx),
    userSessions: new UserSessionRepository(ctx),
    loginSessions: new LoginSessionRepository(ctx),
    preauthKeys: new PreauthKeyRepository(ctx),
    devices: new DeviceRepository(ctx),
    apiKeys: new ApiKeyRepository(ctx),
    audit: new AuditRepository(ctx),
    kv: new KvRepository(ctx),
    policies: new PolicyRepository(ctx),
    routes: new RouteRepository(ctx),
  };
}

function transactionCtx(db: Kysely<Database>, dialect: Dialect, now: () => number): Ctx {
  const ctx: Ctx = { db, dialect, now, atomic: (fn) => fn(ctx) };
  return ctx;
}

export async function openStore(config: StoreConfig, options: StoreOptions = {}): Promise<Store> {
  const now = options.now ?? Date.now;
  const db =
    config.driver === 'sqlite'
      ? openSqlite(config)
      : openPostgres(config, options.onBackgroundError ?? (() => {}));
  const dialect: Dialect = config.driver;
  const pgSchema = config.driver === 'postgres' ? config.schema : undefined;

  if (config.driver === 'postgres') {
    try {
      await sql`select 1`.execute(db);
    } catch (e) {
      await db.destroy();
      const where = config.url.replace(/\/\/[^@/]*@/, '//');
      throw new Error(`cannot connect to PostgreSQL at ${where}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  const runTransaction = <T>(fn: (ctx: Ctx) => Promise<T>): Promise<T> =>
    db.transaction().execute((trx) => fn(transactionCtx(trx, dialect, now)));
  const ctx: Ctx = { db, dialect, now, atomic: runTransaction };

  return {
    ...repositories(ctx),
    dialect,
    db,
    migrate: () => migrate(db, dialect, pgSchema),
    schemaStatus: () => schemaStatus(db, dialect, pgSchema),
    transaction: (fn) =>
      runTransaction((txCtx) => fn({ ...repositories(txCtx), dialect, db: txCtx.db })),
    close: () => db.destroy(),
  };
}
