/**
 * Conversions between column values and domain values. See schema.ts for why each exists.
 */
import type { z } from 'zod';

export const toBool = (v: boolean | number): boolean => v === true || v === 1;
export const fromBool = (v: boolean): number => (v ? 1 : 0);

export const toDate = (ms: number): Date => new Date(ms);
export const toDateOrNull = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
export const fromDateOrNull = (d: Date | null): number | null => (d === null ? null : d.getTime());

export const toJson = (v: unknown): string => JSON.stringify(v);

/**
 * Reads a JSON column: TEXT on SQLite arrives as a string, JSONB on PostgreSQL arrives parsed.
 * Every JSON column holds an object or array, never a bare string, so a string is always text
 * still to be parsed. The schema check turns silent corruption into a loud error.
 */
export function parseJson<T>(raw: unknown, schema: z.ZodType<T>, column: string): T {
  const value: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new Error(`stored ${column} does not match its schema: ${parsed.error.message}`);
  }
  return parsed.data;
}
