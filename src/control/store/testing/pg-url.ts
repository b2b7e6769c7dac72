/**
 * Where the PostgreSQL tests connect. CI must provide TRELLIS_TEST_PG_URL (a missing database is
 * a failure there, never a skip); a developer machine falls back to the URL that
 * scripts/start-postgres.sh sets up.
 */
export const DEFAULT_TEST_PG_URL = 'postgres://trellis:trellis@127.0.0.1:5432/trellis_test';

export const MISSING_PG_MESSAGE =
  'TRELLIS_TEST_PG_URL is not set: run scripts/start-postgres.sh and export TRELLIS_TEST_PG_URL';

export function testPgUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env['TRELLIS_TEST_PG_URL'];
  if (url !== undefined && url !== '') return url;
  if (env['CI'] === 'true') throw new Error(MISSING_PG_MESSAGE);
  return DEFAULT_TEST_PG_URL;
}
