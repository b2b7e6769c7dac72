import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_LENGTH } from '../../shared/schema/common.js';
import { openStore, type Store } from '../store/index.js';
import { loginDenial, recordLoginDenial } from './login-denials.js';

const TEN_MINUTES = 10 * 60_000;

describe('login denials (SQLite)', () => {
  let store: Store;
  let t = Date.UTC(2025, 0, 1);
  beforeEach(async () => {
    store = await openStore({ driver: 'sqlite', path: ':memory:' }, { now: () => t });
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
  });

  it('records a reason per login session', async () => {
    expect(await loginDenial(store, 'lgn_a')).toBeNull();
    await recordLoginDenial(store, 'lgn_a', 'Accounts from x.io may not sign in.', TEN_MINUTES, t);
    expect(await loginDenial(store, 'lgn_a')).toBe('Accounts from x.io may not sign in.');
    expect(await loginDenial(store, 'lgn_b')).toBeNull();
  });

  it('bounds the stored reason', async () => {
    await recordLoginDenial(store, 'lgn_a', 'x'.repeat(10_000), TEN_MINUTES, t);
    expect((await loginDenial(store, 'lgn_a'))?.length).toBe(MAX_MESSAGE_LENGTH);
  });

  it('prunes denials older than a login session lifetime, and only those', async () => {
    await store.kv.set('relay.signing_key', 'keep me');
    await recordLoginDenial(store, 'lgn_old', 'old', TEN_MINUTES, t);
    t += TEN_MINUTES - 1;
    await recordLoginDenial(store, 'lgn_mid', 'mid', TEN_MINUTES, t);
    t += 2;
    await recordLoginDenial(store, 'lgn_new', 'new', TEN_MINUTES, t);
    expect(await loginDenial(store, 'lgn_old')).toBeNull();
    expect(await loginDenial(store, 'lgn_mid')).toBe('mid');
    expect(await loginDenial(store, 'lgn_new')).toBe('new');
    expect(await store.kv.get('relay.signing_key')).toBe('keep me');
  });
});
