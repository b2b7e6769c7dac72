/**
 * The one storage test suite, run unchanged against every backend (see store.*.test.ts).
 * One migrated database is shared by the suite; every test makes its own network, so tests
 * stay independent without paying for a fresh schema each.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import type { Store } from '../store.js';
import { apiKeyCases, preauthKeyCases } from './cases/keys.js';
import { auditCases } from './cases/audit.js';
import { deviceCases } from './cases/devices.js';
import { kvCases, transactionCases } from './cases/kv.js';
import { migrationCases } from './cases/migrations.js';
import { networkCases } from './cases/networks.js';
import { policyCases, routeCases } from './cases/policies.js';
import { sessionCases } from './cases/sessions.js';
import { userCases } from './cases/users.js';
import { testClock, type Backend, type SuiteContext } from './harness.js';

export function describeStore(name: string, makeBackend: () => Backend): void {
  describe(`store on ${name}`, () => {
    const backend = makeBackend();
    const clock = testClock();
    const options = { now: () => clock.t };
    let store: Store | undefined;
    let openError: unknown;

    // A backend that cannot open (no PostgreSQL, TRELLIS_TEST_PG_URL missing in CI) fails every
    // test with its message, rather than leaving them reported as skipped.
    beforeAll(async () => {
      try {
        store = await backend.fresh(options);
        await store.migrate();
      } catch (e) {
        openError = e;
      }
    });
    afterAll(async () => {
      await backend.disposeAll();
    });

    const ctx: SuiteContext = {
      get store(): Store {
        if (openError !== undefined) throw openError;
        if (!store) throw new Error('store not opened');
        return store;
      },
      backend,
      clock,
      options,
    };

    describe('migrations', () => migrationCases(ctx));
    describe('networks', () => networkCases(ctx));
    describe('users', () => userCases(ctx));
    describe('sessions', () => sessionCases(ctx));
    describe('pre-auth keys', () => preauthKeyCases(ctx));
    describe('api keys', () => apiKeyCases(ctx));
    describe('devices', () => deviceCases(ctx));
    describe('audit log', () => auditCases(ctx));
    describe('policies', () => policyCases(ctx));
    describe('device routes', () => routeCases(ctx));
    describe('kv', () => kvCases(ctx));
    describe('transactions', () => transactionCases(ctx));
  });
}
