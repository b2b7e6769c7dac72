/**
 * What the shared store suite needs from a backend: fresh, empty databases, and a way to open
 * more stores on one of them (to test several control-plane processes sharing a database).
 */
import type { Store, StoreOptions } from '../store.js';

export interface Backend {
  /** The database survives closing the store (file, server), so reopen() works. */
  readonly persistent: boolean;
  /**
   * Several stores in this process may write to one database at the same time. Not SQLite:
   * a second connection would block the event loop in busy_timeout while the first waits.
   */
  readonly concurrentStores: boolean;
  /** Opens a store on a new, empty database (a fresh schema on PostgreSQL). */
  fresh(options: StoreOptions): Promise<Store>;
  /**
   * Opens another store on the same database as `store`, or null when the backend cannot
   * (an in-memory SQLite database belongs to its one connection).
   */
  reopen(store: Store, options: StoreOptions): Promise<Store | null>;
  /** Closes every store and drops every database this backend made. */
  disposeAll(): Promise<void>;
}

/** A test clock: the store reads `t`; tests move it forward, never back. */
export interface TestClock {
  t: number;
  advance(ms: number): void;
}

export function testClock(start = Date.UTC(2025, 0, 1)): TestClock {
  const c: TestClock = {
    t: start,
    advance(ms) {
      c.t += ms;
    },
  };
  return c;
}

export interface SuiteContext {
  readonly store: Store;
  readonly backend: Backend;
  readonly clock: TestClock;
  readonly options: StoreOptions;
}
