import { expect, it } from 'vitest';
import { newNetwork } from '../fixtures.js';
import type { SuiteContext } from '../harness.js';

export function kvCases(s: SuiteContext): void {
  it('gets, sets, overwrites and deletes values', async () => {
    expect(await s.store.kv.get('relay.signing_key')).toBeNull();
    await s.store.kv.set('relay.signing_key', '-----BEGIN PRIVATE KEY-----\nAAA\n');
    expect(await s.store.kv.get('relay.signing_key')).toBe('-----BEGIN PRIVATE KEY-----\nAAA\n');
    await s.store.kv.set('relay.signing_key', 'v2');
    expect(await s.store.kv.get('relay.signing_key')).toBe('v2');
    expect(await s.store.kv.delete('relay.signing_key')).toBe(true);
    expect(await s.store.kv.delete('relay.signing_key')).toBe(false);
    expect(await s.store.kv.get('relay.signing_key')).toBeNull();
  });

  it('settles concurrent first-run writers on one value', async () => {
    const values = await Promise.all(
      Array.from({ length: 10 }, (_, i) => s.store.kv.setIfAbsent('first_run', `writer-${i}`)),
    );
    expect(new Set(values).size).toBe(1);
    expect(await s.store.kv.get('first_run')).toBe(values[0]);
    expect(await s.store.kv.setIfAbsent('first_run', 'late')).toBe(values[0]);
  });
}

export function transactionCases(s: SuiteContext): void {
  it('commits a transaction that resolves and rolls back one that throws', async () => {
    const committed = await s.store.transaction(async (tx) => {
      const net = await newNetwork(tx);
      await tx.kv.set(`tx.${net.id}`, 'yes');
      return net;
    });
    expect(await s.store.networks.get(committed.id)).toEqual(committed);
    expect(await s.store.kv.get(`tx.${committed.id}`)).toBe('yes');

    let rolledBackId = '';
    await expect(
      s.store.transaction(async (tx) => {
        const net = await newNetwork(tx);
        rolledBackId = net.id;
        await tx.kv.set(`tx.${net.id}`, 'no');
        // Nested atomic operations join the open transaction instead of committing on their own.
        await tx.networks.updateSettings(net.id, { keyExpiryDays: 7 });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(rolledBackId).toMatch(/^net_/);
    expect(await s.store.networks.get(rolledBackId)).toBeNull();
    expect(await s.store.kv.get(`tx.${rolledBackId}`)).toBeNull();
  });
}
