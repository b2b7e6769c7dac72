import { TRANSACTION_ID_BYTES } from './constants.js';
import type { TransactionId } from './message.js';

/** A fresh random 96-bit id from the platform CSPRNG (Web Crypto: Node 20 and the renderer). */
export function newTransactionId(): TransactionId {
  return globalThis.crypto.getRandomValues(new Uint8Array(TRANSACTION_ID_BYTES));
}

/** Map key for a transaction id. */
export function transactionKey(id: TransactionId): string {
  let key = '';
  for (const byte of id) key += byte.toString(16).padStart(2, '0');
  return key;
}

export interface TransactionTrackerOptions {
  /** Default time a transaction waits for its response before it is forgotten. */
  readonly ttlMs: number;
  /** Milliseconds from any fixed origin; injectable for tests. */
  readonly now?: () => number;
  /** Most transactions held at once; the oldest is dropped beyond this. */
  readonly maxPending?: number;
}

/**
 * Enough for a netcheck (a few probes per region, two families) plus periodic re-STUN, with room
 * to spare; it only bounds memory if a caller forgets to take its transactions.
 */
export const DEFAULT_MAX_PENDING_TRANSACTIONS = 1024;

/**
 * Transactions waiting for a response. `take` returns a transaction's data exactly once, and only
 * before it expires: responses with unknown, answered or expired ids are ignored by the caller.
 */
export class TransactionTracker<T> {
  private readonly pending = new Map<string, { data: T; expiresAt: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly maxPending: number;

  constructor(options: TransactionTrackerOptions) {
    this.ttlMs = options.ttlMs;
    this.now = options.now ?? (() => performance.now());
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_TRANSACTIONS;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Tracks `id` until it is taken or `ttlMs` (default: the tracker's) passes. */
  add(id: TransactionId, data: T, ttlMs: number = this.ttlMs): void {
    this.expire();
    const key = transactionKey(id);
    this.pending.delete(key);
    while (this.pending.size >= this.maxPending) {
      const oldest = this.pending.keys().next();
      if (oldest.done) break;
      this.pending.delete(oldest.value);
    }
    this.pending.set(key, { data, expiresAt: this.now() + ttlMs });
  }

  /** The data of a live transaction, removing it; undefined if unknown or expired. */
  take(id: TransactionId): T | undefined {
    const key = transactionKey(id);
    const entry = this.pending.get(key);
    if (entry === undefined) return undefined;
    this.pending.delete(key);
    return entry.expiresAt > this.now() ? entry.data : undefined;
  }

  /** Forgets a transaction without answering it. */
  delete(id: TransactionId): void {
    this.pending.delete(transactionKey(id));
  }

  /** Drops expired transactions (a scan bounded by maxPending). */
  expire(): void {
    const now = this.now();
    for (const [key, entry] of this.pending) {
      if (entry.expiresAt <= now) this.pending.delete(key);
    }
  }
}
