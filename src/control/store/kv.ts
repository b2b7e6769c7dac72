/**
 * Server-wide key/value settings (relay signing key PEM, first-run marker, ...).
 */
import { affected, type Ctx } from './context.js';

export class KvRepository {
  constructor(private readonly ctx: Ctx) {}

  async get(key: string): Promise<string | null> {
    const row = await this.ctx.db
      .selectFrom('kv')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row ? row.value : null;
  }

  async set(key: string, value: string): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db
      .insertInto('kv')
      .values({ key, value, updated_at: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
      .execute();
  }

  /**
   * Stores `value` unless the key already has one, and returns whichever value is stored. Two
   * control-plane replicas generating a signing key at first start thus agree on one key.
   */
  async setIfAbsent(key: string, value: string): Promise<string> {
    await this.ctx.db
      .insertInto('kv')
      .values({ key, value, updated_at: this.ctx.now() })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const stored = await this.get(key);
    if (stored === null) throw new Error(`kv: "${key}" vanished right after insert`);
    return stored;
  }

  async delete(key: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('kv').where('key', '=', key).executeTakeFirst();
    return affected(r) > 0;
  }
}
