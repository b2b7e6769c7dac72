/**
 * The few places where SQLite and PostgreSQL need different column types. Migrations take one
 * of these instead of asking the database which dialect it is, so each migration module stays a
 * plain function of its input. Migrations must never import repository code: they describe the
 * schema as it was when they were written.
 */
import type { ColumnDataType } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

export interface ColumnTypes {
  readonly dialect: Dialect;
  /** Milliseconds since the epoch (exceeds 32 bits, so BIGINT on PostgreSQL). */
  readonly millis: ColumnDataType;
  readonly bool: ColumnDataType;
  readonly json: ColumnDataType;
}

export function columnTypes(dialect: Dialect): ColumnTypes {
  switch (dialect) {
    case 'sqlite':
      return { dialect, millis: 'integer', bool: 'integer', json: 'text' };
    case 'postgres':
      return { dialect, millis: 'bigint', bool: 'boolean', json: 'jsonb' };
  }
}
