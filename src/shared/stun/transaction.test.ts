import { describe, expect, it } from 'vitest';
import { TRANSACTION_ID_BYTES } from './constants.js';
import { TransactionTracker, newTransactionId, transactionKey } from './transaction.js';

describe('newTransactionId', () => {
  it('is 96 random bits', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => transactionKey(newTransactionId())));
    expect(ids.size).toBe(1000);
    expect(newTransactionId().length).toBe(TRANSACTION_ID_BYTES);
  });
});

describe('TransactionTracker', () => {
  const setup = (maxPending?: number) => {
    let now = 1_000;
    const tracker = new TransactionTracker<string>({
      ttlMs: 500,
      now: () => now,
      ...(maxPending === undefined ? {} : { maxPending }),
    });
    return { tracker, advance: (ms: number) => (now += ms) };
  };

  it('matches a known id exactly once and ignores unknown ids', () => {
    const { tracker } = setup();
    const id = newTransactionId();
    tracker.add(id, 'probe');
    expect(tracker.take(newTransactionId())).toBeUndefined();
    expect(tracker.take(Uint8Array.from(id))).toBe('probe');
    expect(tracker.take(id)).toBeUndefined();
  });

  it('ignores a response that arrives after expiry and purges expired entries', () => {
    const { tracker, advance } = setup();
    const late = newTransactionId();
    tracker.add(late, 'late');
    advance(300);
    const fresh = newTransactionId();
    tracker.add(fresh, 'fresh');
    advance(200);
    expect(tracker.take(late)).toBeUndefined();
    tracker.expire();
    expect(tracker.size).toBe(1);
    expect(tracker.take(fresh)).toBe('fresh');
  });

  it('honours a per-transaction TTL', () => {
    const { tracker, advance } = setup();
    const long = newTransactionId();
    const short = newTransactionId();
    tracker.add(long, 'long', 2_000);
    tracker.add(short, 'short');
    advance(1_000);
    tracker.expire();
    expect(tracker.size).toBe(1);
    expect(tracker.take(long)).toBe('long');
  });

  it('bounds memory by dropping the oldest pending transaction', () => {
    const { tracker } = setup(2);
    const [a, b, c] = [newTransactionId(), newTransactionId(), newTransactionId()];
    tracker.add(a, 'a');
    tracker.add(b, 'b');
    tracker.add(c, 'c');
    expect(tracker.size).toBe(2);
    expect(tracker.take(a)).toBeUndefined();
    expect(tracker.take(b)).toBe('b');
    expect(tracker.take(c)).toBe('c');
  });
});
